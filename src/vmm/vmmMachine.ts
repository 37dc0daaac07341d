// The machine a VMM runs for one boot: the virt board built from the VmmConfig, its time
// (host clock, or in deterministic mode the instruction count) and its entropy (the host's,
// or a seeded source in deterministic mode) and its first VM generation ID (generation.ts), on
// the disks, network and console the VMM opened, and the flash banks' contents it keeps
// across boots.

import { webcrypto } from 'node:crypto';
import { resolve } from 'node:path';
import { VirtBoard } from '../machine/board/virt.js';
import type { FlashStore } from '../machine/devices/flashStore.js';
import { HART_AREAS_BYTES } from '../machine/ram.js';
import type { NetBackend } from '../machine/virtio/netBackend.js';
import { SeededEntropy } from '../machine/virtio/rng.js';
import { balloonOnPci } from './virtioPlacement.js';
import { HostClock, InstructionClock, wallClockNs, type TickClock } from './clocks.js';
import type { VmmConfig } from './config.js';
import type { ConsoleIO } from './console.js';
import type { DiskBackend } from './disk/openDisk.js';
import type { VmmMachine } from './vmmSnapshot.js';
import { bootGenerationId, DETERMINISTIC_SEED } from './generation.js';
import { HartThreads } from './harts/hartThreads.js';
import { warmUpOnce } from '../machine/hart/warmUp.js';

/** The most RAM that fits beside the hart areas in one 4 GiB shared WebAssembly memory. */
const MAX_SHARED_RAM = 4 * 1024 * 1024 * 1024 - HART_AREAS_BYTES;

/**
 * Harts past the first run on threads of their own (harts/), unless the run is deterministic
 * (the harts then take turns, in a fixed order) or RAM is too large to share as a WebAssembly
 * memory.
 */
function hartsOnThreads(cfg: VmmConfig): boolean {
  return cfg.harts > 1 && !cfg.deterministic && cfg.memory <= MAX_SHARED_RAM;
}

/** Warms this thread's engines up for the machine `cfg` makes (warmUp.ts), once. */
export function warmUpFor(cfg: VmmConfig): void {
  warmUpOnce(cfg.jitThreshold, hartsOnThreads(cfg));
}

export interface MachineInputs {
  config: VmmConfig;
  files: { firmware: Uint8Array | null; kernel?: Uint8Array; initrd?: Uint8Array };
  disks: DiskBackend[];
  net: NetBackend | null;
  io: ConsoleIO;
  /** What the flash banks hold: the same stores at every boot, as QEMU's banks until it exits. */
  flash: readonly FlashStore[];
  log: (line: string) => void;
  /** The guest is paused: a host clock starts stopped. */
  paused: boolean;
  /** Instructions the board has retired (a deterministic clock counts them). */
  instructions: () => number;
  /** Asks the host for huge pages under guest RAM (hostMemory.ts); null: not asked. */
  hugePages?: ((view: Uint8Array) => boolean) | null;
}

export function makeMachine(m: MachineInputs): VmmMachine {
  const cfg = m.config;
  const clock: TickClock = cfg.deterministic
    ? new InstructionClock(m.instructions)
    : new HostClock();
  if (m.paused && clock instanceof HostClock) clock.pause();
  const entropy = cfg.deterministic ? new SeededEntropy(DETERMINISTIC_SEED) : null;
  const random = entropy ?? { fill: (b: Uint8Array) => webcrypto.getRandomValues(b) };
  // On a bridge every card needs its own address: derive it from the disk, which is the guest's.
  const firstDisk = cfg.disks[0];
  const seed =
    cfg.net.kind === 'tap' && firstDisk !== undefined
      ? `berth:${resolve(firstDisk.path)}`
      : 'berth';
  // Several harts run in parallel, each but hart 0 on a thread of its own.
  const remote =
    hartsOnThreads(cfg) && clock instanceof HostClock
      ? new HartThreads(cfg.harts, clock, cfg.jitThreshold)
      : undefined;
  warmUpFor(cfg); // Vmm.start did, unless the machine is made without a Vmm (tests)
  const hugePages = m.hugePages;
  const board = new VirtBoard({
    adviseRam: hugePages ? (ram) => void hugePages(ram) : undefined,
    remote,
    memoryBytes: cfg.memory,
    harts: cfg.harts,
    clock,
    wallClock: wallClockNs(clock),
    console: m.io,
    firmware: m.files.firmware,
    kernel: m.files.kernel,
    initrd: m.files.initrd,
    bootargs: cfg.append ?? (cfg.console === 'virtio' ? 'console=hvc0' : 'console=ttyS0'),
    jitThreshold: cfg.jitThreshold,
    disks: m.disks.map((backend, i) => ({
      backend,
      serial: `berth-disk${i}`,
      slot: cfg.disks[i]?.slot,
      bus: cfg.disks[i]?.bus,
    })),
    rng: cfg.rng ? random : undefined,
    rngSlot: cfg.slots.rng,
    rngBus: cfg.buses.rng,
    entropy: random,
    net:
      m.net && cfg.net.kind !== 'none'
        ? { backend: m.net, seed, mac: cfg.net.mac, slot: cfg.slots.net, bus: cfg.buses.net }
        : undefined,
    hvc:
      cfg.console === 'virtio'
        ? { out: m.io, input: m.io, slot: cfg.slots.console, bus: cfg.buses.console }
        : undefined,
    input: cfg.powerButton
      ? { slot: cfg.slots.powerButton, bus: cfg.buses.powerButton }
      : undefined,
    balloon: cfg.balloon
      ? { slot: cfg.slots.balloon, bus: balloonOnPci(cfg) ? 'pci' : 'mmio' }
      : undefined,
    generationId: bootGenerationId(cfg.deterministic),
    flash: m.flash,
    log: m.log,
  });
  return { board, clock, entropy };
}
