// The virt board: RAM, harts, CLINT, PLIC, UART, RTC, syscon, boot ROM, virtio-mmio slots and
// the PCIe host bridge (with virtio-pci devices on it) at QEMU virt's addresses, with
// firmware, kernel, initrd and device tree placed in RAM the way QEMU places them. The board
// runs its harts in slices; the VMM drives it (time, console input, sleeping in WFI). It saves
// and restores as a whole (virtState.ts), its parts keyed by their names on the bus.

import { Bus } from '../bus.js';
import type { Clock, WallClockNs } from '../clock.js';
import { Clint } from '../devices/clint.js';
import { hartIrq, type HartIrq } from '../devices/irq.js';
import { Plic } from '../devices/plic.js';
import { Syscon, type SysconEvent } from '../devices/syscon.js';
import { Uart16550, type CharBackend } from '../devices/uart16550.js';
import { GoldfishRtc } from '../devices/goldfishRtc.js';
import { BootRom } from '../devices/bootRom.js';
import { VmGenId } from '../devices/vmGenId.js';
import { EmptyVirtioSlot } from '../devices/virtioMmioSlot.js';
import { CfiFlash } from '../devices/cfiFlash.js';
import { FlashStore } from '../devices/flashStore.js';
import { Hart, StopReason } from '../hart/hart.js';
import { MIP_MSIP } from '../hart/causes.js';
import { placeBootImages, type BoardLayout } from './bootLayout.js';
import { Ram } from '../ram.js';
import type { BlockBackend } from '../virtio/blockBackend.js';
import { VirtioBlk } from '../virtio/blk.js';
import type { VirtioMmio } from '../virtio/mmio.js';
import type { VirtioPci } from '../virtio/pci.js';
import { PciHost } from '../pci/pciHost.js';
import type { EntropySource } from '../virtio/rng.js';
import { CONSOLE_RECEIVEQ, VirtioConsole, type ConsoleInput } from '../virtio/console.js';
import { VirtioNet } from '../virtio/net.js';
import { VirtioInput } from '../virtio/input.js';
import type { VirtioBalloon } from '../virtio/balloon.js';
import type { NetBackend } from '../virtio/netBackend.js';
import { IRQ, pciIrq, VIRT } from './memoryMap.js';
import { VirtioSlotError } from './virtioSlots.js';
import { makeVirtioDevices, type VirtioDevices } from './virtioDevices.js';
import { buildVirtDeviceTree } from './virtDeviceTree.js';
import type { Persistent } from '../state/persistent.js';
import {
  boardParts,
  boardShape,
  checkBoard,
  loadBoard,
  saveBoard,
  type BoardShape,
  type BoardState,
} from './virtState.js';

export class BoardError extends Error {}
export { BootLayoutError, type BoardLayout } from './bootLayout.js';

export interface VirtBoardConfig {
  /** Guest RAM in bytes (a multiple of 4 KiB, 16 MiB to 4 GiB). */
  memoryBytes: number;
  harts?: number;
  /** mtime source. */
  clock: Clock;
  /** Wall clock for the RTC. */
  wallClock: WallClockNs;
  /** Where the UART's output goes. */
  console: CharBackend;
  /**
   * M-mode firmware (OpenSBI fw_dynamic, or a bare-metal program): ELF or flat binary, loaded
   * at the start of RAM; null: none (QEMU's -bios none), the kernel is entered in M-mode.
   */
  firmware: Uint8Array | null;
  /**
   * Kernel: an ELF (at its physical addresses), a Linux Image or any flat binary, at the end of
   * the firmware rounded up to 2 MiB (bootLayout.ts); the firmware enters it (in S-mode for
   * OpenSBI), or without firmware the boot ROM does, in M-mode.
   */
  kernel?: Uint8Array;
  initrd?: Uint8Array;
  bootargs?: string;
  /*
   * The virtio devices. Each may name its virtio slot (0..7, QEMU's virtio-mmio-bus.N); the
   * others take the highest free slot each, in the order disks, network card, console, rng,
   * power button, balloon, as QEMU plugs -device virtio-*-device without bus= (virtioSlots.ts). Linux
   * probes the highest slot first, so the first disk is vda unless slots say otherwise.
   * Devices with bus 'pci' sit on the PCIe host bridge instead, as PCI devices 1, 2, ... in
   * that order (virtioDevices.ts).
   */
  /** Virtio disks; bus 'pci': on virtio-pci (a PCI device of its own) instead of a slot. */
  disks?: { backend: BlockBackend; serial?: string; slot?: number; bus?: VirtioBus }[];
  /** Entropy source of a virtio-rng device; none when absent. */
  rng?: EntropySource;
  /** The virtio-rng device's slot, or its bus: 'pci' puts it on virtio-pci. */
  rngSlot?: number;
  rngBus?: VirtioBus;
  /**
   * Where the 32 random bytes of /chosen/rng-seed come from (the kernel seeds its RNG with
   * them before any driver runs; QEMU puts fresh ones there at every boot); no rng-seed
   * when absent.
   */
  entropy?: EntropySource;
  /** A virtio network card on a host backend (libslirp, TAP, memory). */
  net?: { backend: NetBackend; mac?: string; seed?: string; slot?: number; bus?: VirtioBus };
  /** A virtio console (the guest's hvc0): output and waiting input. */
  hvc?: { out: CharBackend; input: ConsoleInput; slot?: number; bus?: VirtioBus };
  /**
   * A virtio-input power button (see pressPowerButton): how a guest without ACPI is asked to
   * shut down cleanly, and the keys that tell a restored guest of its new generation
   * (input.ts). `serial` names it.
   */
  input?: { serial?: string; slot?: number; bus?: VirtioBus };
  /**
   * A virtio-balloon for free page reporting: pages the guest reports free go back to the
   * host (Ram.discard, through the RAM's discarder).
   */
  balloon?: { slot?: number; bus?: VirtioBus };
  /** Interpretations of an instruction before its block is translated; 0: interpret only (Hart). */
  jitThreshold?: number;
  /**
   * Called with the bytes of guest RAM once it is made, before anything is written there: the
   * VMM asks the host for huge pages under it (hostMemory.ts), as QEMU does. RAM then faults
   * in 2 MiB at a time: on this project's 2-core host, placing Debian's 31 MiB kernel took 70
   * to 141 ms instead of 154 to 200 (4 runs each), a boot to the prompt took 44,000 page
   * faults instead of 65,000, and a booted guest held 167 MiB after 30 s idle instead of 161
   * to 162 (QEMU: 196).
   */
  adviseRam?: (ram: Uint8Array) => void;
  /**
   * The first VM generation ID (16 bytes; zeros when absent): the VMM gives a fresh one at
   * every cold boot, and sets a new one after a restore (vmgenid.setId).
   */
  generationId?: Uint8Array;
  /**
   * What the two flash banks hold (flashBanks()): the VMM keeps the same stores across the
   * boards of its boots, so the banks keep what the guest programs across reboots. Absent:
   * empty banks of this board's own.
   */
  flash?: readonly FlashStore[];
  /** Receives one line when a guest driver misuses a device (default: dropped). */
  log?: (line: string) => void;
  /**
   * Harts 1 and up run on threads of their own (the VMM's hartThreads.ts) over RAM shared with
   * them; the board runs hart 0 and the devices. Absent: every hart takes turns here.
   */
  remote?: RemoteHarts;
}

/**
 * What the board needs of the threads that run harts 1 and up. The board keeps a hart object
 * for each of them (a shadow, loaded with the thread's state while the guest is paused, so
 * that snapshots see every hart) and their interrupt lines.
 */
export interface RemoteHarts {
  /** The interrupt inputs of hart i (1 and up), given those of its shadow here. */
  irq(i: number, shadow: HartIrq): HartIrq;
  /**
   * The CLINT's msip bits, one byte a hart, in memory the threads share: harts on other threads
   * write them directly (IPIs), and hart 0's MSIP follows its byte whenever it is kicked.
   */
  readonly msip: Uint8Array;
  /**
   * Serves the device accesses that harts on other threads wait for; the first call starts
   * the threads from the shadows' states.
   */
  serve(board: VirtBoard): void;
  /** Why a hart on another thread failed, or null. */
  fault(): string | null;
  /** Instructions hart i (1 and up) has retired. */
  instret(i: number): number;
  /** Milliseconds the harts on other threads have run (out of WFI) since the last call. */
  busyMsSince(): number;
  /** Resolves when a hart on another thread asks for something (the VMM's idle wait). */
  whenAsked(): Promise<unknown>;
  /** Stops the other threads' harts at a slice boundary and loads their states into the shadows. */
  pause(): void;
  /** Lets them run on from the shadows' states. */
  resume(): void;
  /** True between pause() and resume(). */
  readonly paused: boolean;
  /** The share of time the harts on other threads sit out (live migration's auto-converge). */
  throttle(percent: number): void;
  /** Ends the threads. */
  stop(): Promise<void>;
}

/** Where a virtio device sits: a virtio-mmio slot (the default) or the PCIe bus. */
export type VirtioBus = 'mmio' | 'pci';

export type BoardStop =
  | { kind: 'budget' }
  | { kind: 'wfi' }
  | { kind: 'syscon'; event: SysconEvent }
  | { kind: 'fault'; message: string };

export const MIN_MEMORY = 16 * 1024 * 1024;
export const MAX_MEMORY = 4 * 1024 * 1024 * 1024;
/** Bytes of /chosen/rng-seed, as many as QEMU gives. */
export const RNG_SEED_BYTES = 32;

/**
 * The two flash banks for the board (VirtBoardConfig.flash), 256 KiB sectors as QEMU's: each
 * empty, or on the image `images[bank]` (of exactly a bank's size, as QEMU requires).
 */
export function flashBanks(images: readonly (BlockBackend | null)[] = []): FlashStore[] {
  return Array.from({ length: VIRT.flash.banks }, (_, bank) => {
    const image = images[bank] ?? null;
    if (image !== null && image.size !== VIRT.flash.bankSize) {
      throw new BoardError(
        `flash bank ${bank}: the image has ${image.size} bytes; a bank takes exactly ` +
          `${VIRT.flash.bankSize} (${VIRT.flash.bankSize >> 20} MiB, as QEMU's pflash)`,
      );
    }
    return new FlashStore(VIRT.flash.bankSize, VIRT.flash.sectorSize, image);
  });
}

export class VirtBoard implements Persistent<BoardState> {
  readonly stateId = 'virt';
  readonly stateVersion = 1;
  readonly ram: Ram;
  readonly bus: Bus;
  readonly harts: Hart[];
  readonly clint: Clint;
  readonly plic: Plic;
  readonly uart: Uart16550;
  readonly rtc: GoldfishRtc;
  readonly syscon: Syscon;
  readonly bootRom: BootRom;
  /** The VM generation ID device. */
  readonly vmgenid: VmGenId;
  /** The CFI flash banks at 0x20000000 and 0x22000000 (QEMU's pflash0 and pflash1). */
  readonly flash: CfiFlash[];
  readonly layout: BoardLayout;
  /** The virtio slots, index = slot number: a transport or null when empty. */
  readonly virtio: (VirtioMmio | null)[];
  /** The PCIe host bridge (always there, as on QEMU). */
  readonly pcie: PciHost;
  /** The virtio-pci devices; index + 1 = PCI device number on bus 0. */
  readonly pci: VirtioPci[];
  /** The network card, when configured. */
  net: VirtioNet | null;
  /** The power button (virtio-input), when configured. */
  readonly input: VirtioInput | null;
  /** The balloon (free page reporting), when configured. */
  readonly balloon: VirtioBalloon | null;
  /** The virtio console (hvc0), when configured. */
  private readonly hvc: VirtioConsole | null;
  /** The virtio disks in the order configured (disk 0 is vda unless slots say otherwise). */
  readonly disks: VirtioBlk[];
  private event: SysconEvent | null = null;
  private readonly clock: Clock;
  /** The threads running harts 1 and up, or null when every hart runs here. */
  readonly remote: RemoteHarts | null;
  private readonly rngSeed: Uint8Array | undefined;

  constructor(cfg: VirtBoardConfig) {
    const mem = cfg.memoryBytes;
    if (!Number.isInteger(mem) || mem < MIN_MEMORY || mem > MAX_MEMORY || mem % 4096 !== 0) {
      throw new BoardError(
        `memory must be a multiple of 4 KiB between ${MIN_MEMORY >> 20} MiB and 4 GiB; got ${mem} bytes`,
      );
    }
    const nHarts = cfg.harts ?? 1;
    this.remote = nHarts > 1 ? (cfg.remote ?? null) : null;
    this.ram = new Ram(VIRT.ram.base, mem, { shared: this.remote !== null });
    cfg.adviseRam?.(this.ram.u8);
    this.bus = new Bus(this.ram);
    const clock = cfg.clock;
    this.clock = clock;
    this.harts = [];
    for (let h = 0; h < nHarts; h++)
      this.harts.push(
        new Hart(this.bus, {
          hartId: h,
          readTime: () => this.clint.mtime(),
          jitThreshold: cfg.jitThreshold,
          preciseInterrupts: clock.deterministic !== false,
        }),
      );
    const remote = this.remote;
    // Harts 1 and up run elsewhere: their jump caches are their own threads' to keep.
    if (remote !== null) this.ram.peerHartAreas = this.ram.localHartAreas.splice(1);
    const irqs = this.harts.map((h, i) =>
      remote !== null && i > 0 ? remote.irq(i, hartIrq(h)) : hartIrq(h),
    );
    this.clint = new Clint(irqs, clock, this.remote?.msip);
    this.plic = new Plic(irqs);
    this.uart = new Uart16550(cfg.console, this.plic.line(IRQ.uart0));
    this.rtc = new GoldfishRtc(cfg.wallClock, this.plic.line(IRQ.rtc));
    this.syscon = new Syscon((e) => {
      this.event = e;
      for (const h of this.harts) h.requestStop();
    });
    this.bus.map('clint', VIRT.clint.base, VIRT.clint.size, this.clint);
    this.bus.map('plic', VIRT.plic.base, VIRT.plic.size, this.plic);
    this.bus.map('uart0', VIRT.uart0.base, VIRT.uart0.size, this.uart);
    this.bus.map('rtc', VIRT.rtc.base, VIRT.rtc.size, this.rtc);
    this.bus.map('test', VIRT.test.base, VIRT.test.size, this.syscon);
    if (cfg.generationId !== undefined && cfg.generationId.length !== 16) {
      throw new BoardError(`generationId must be 16 bytes, got ${cfg.generationId.length}`);
    }
    this.vmgenid = new VmGenId(this.plic.line(IRQ.vmgenid), cfg.generationId);
    this.bus.map('vmgenid', VIRT.vmgenid.base, VIRT.vmgenid.size, this.vmgenid);
    let placed: VirtioDevices;
    try {
      placed = makeVirtioDevices(
        this.ram,
        (slot) => this.plic.line(IRQ.virtio0 + slot),
        (device) => this.plic.line(pciIrq(device, 1)),
        cfg,
      );
    } catch (e) {
      if (e instanceof VirtioSlotError) throw new BoardError(e.message);
      throw e;
    }
    this.virtio = placed.transports;
    this.pci = placed.pci;
    this.pcie = new PciHost();
    this.pci.forEach((t, i) => this.pcie.attach(i + 1, t));
    const { ecam, io, mmio, mmioHigh } = VIRT.pcie;
    this.bus.map('pcie-ecam', ecam.base, ecam.size, this.pcie.ecam);
    this.bus.map('pcie-io', io.base, io.size, this.pcie.window('io', io.base));
    this.bus.map('pcie-mmio', mmio.base, mmio.size, this.pcie.window('mem', mmio.base));
    this.bus.map(
      'pcie-mmio-high',
      mmioHigh.base,
      mmioHigh.size,
      this.pcie.window('mem', mmioHigh.base),
    );
    this.disks = placed.disks;
    this.net = placed.net;
    this.hvc = placed.hvc;
    this.input = placed.input;
    this.balloon = placed.balloon;
    for (let i = 0; i < VIRT.virtio.count; i++) {
      this.bus.map(
        `virtio${i}`,
        VIRT.virtio.base + i * VIRT.virtio.stride,
        VIRT.virtio.stride,
        this.virtio[i] ?? new EmptyVirtioSlot(),
      );
    }

    const stores = cfg.flash ?? flashBanks();
    if (stores.length !== VIRT.flash.banks || stores.some((s) => s.size !== VIRT.flash.bankSize)) {
      throw new BoardError(
        `the board has ${VIRT.flash.banks} flash banks of ${VIRT.flash.bankSize} bytes`,
      );
    }
    this.flash = stores.map((s) => new CfiFlash(s));
    this.flash.forEach((f, i) =>
      this.bus.map(`flash${i}`, VIRT.flash.base + i * VIRT.flash.bankSize, VIRT.flash.bankSize, f),
    );

    if (cfg.entropy) {
      this.rngSeed = new Uint8Array(RNG_SEED_BYTES);
      cfg.entropy.fill(this.rngSeed);
    }
    this.layout = this.load(cfg);
    // Without firmware the reset vector enters the kernel, with the same a0 (hart id) and a1
    // (device tree) as it gives a firmware, as QEMU's -bios none. With an image in flash bank
    // 0 it enters the flash instead, whatever else was loaded, as QEMU 7.2 does with pflash0.
    const { firmware, kernel } = this.layout;
    const fromFlash = this.flash[0].store.backing !== null;
    this.bootRom = new BootRom({
      firmwareStart: fromFlash
        ? VIRT.flash.base
        : (firmware?.entry ?? kernel?.entry ?? VIRT.ram.base),
      fdtAddress: this.layout.fdt.start,
      kernelEntry: this.layout.kernel?.entry ?? 0,
    });
    this.bus.map('bootrom', VIRT.bootRom.base, VIRT.bootRom.size, this.bootRom);
    for (const h of this.harts) h.pc = BigInt(VIRT.bootRom.base);
  }

  private load(cfg: VirtBoardConfig): BoardLayout {
    return placeBootImages(
      this.ram,
      {
        firmware: cfg.firmware,
        kernel: cfg.kernel,
        initrd: cfg.initrd,
        memoryBytes: cfg.memoryBytes,
      },
      (initrd) => this.deviceTree(cfg, initrd),
    );
  }

  private deviceTree(cfg: VirtBoardConfig, initrd: BoardLayout['initrd']): Uint8Array {
    return buildVirtDeviceTree({
      harts: cfg.harts ?? 1,
      memoryBytes: cfg.memoryBytes,
      bootargs: cfg.bootargs ?? '',
      initrd: initrd ?? undefined,
      rngSeed: this.rngSeed,
      vmgenid: true,
    });
  }

  /** True when console input goes to the virtio console (hvc0) rather than the UART. */
  get hasVirtioConsole(): boolean {
    return this.hvc !== null;
  }

  /** The virtio console (hvc0), when the board has one. */
  get virtioConsole(): VirtioConsole | null {
    return this.hvc;
  }

  /**
   * Holds the host's news for the guest in the virtio devices (true) while the machine stands
   * still, or lets them in (false): see VirtioTransport.hold.
   */
  holdDevices(on: boolean): void {
    for (const t of [...this.virtio, ...this.pci]) t?.hold(on);
  }

  /** Hands waiting console input to the virtio console, as far as the guest has buffers. */
  pollVirtioConsole(): void {
    const t = [...this.virtio, ...this.pci].find((v) => v !== null && v.device === this.hvc);
    if (t) t.poll(CONSOLE_RECEIVEQ);
  }

  /**
   * Presses the power button, as a supervisor asking the guest to shut down
   * cleanly (QEMU's system_powerdown): the guest's input driver sees KEY_POWER
   * pressed and released, now or once it has buffers. False when the board has
   * no input device (or too many presses are already waiting).
   */
  pressPowerButton(): boolean {
    return this.input !== null && this.input.pressPowerButton();
  }

  /** The harts that run on this thread: all, or hart 0 when the others have threads. */
  get localHarts(): Hart[] {
    return this.remote !== null ? this.harts.slice(0, 1) : this.harts;
  }

  /** Runs the harts for up to `budget` instructions each. */
  run(budget: number): BoardStop {
    this.clint.update();
    if (this.remote !== null) return this.runWithRemote(budget);
    let allWfi = true;
    const several = this.harts.length > 1;
    for (const h of this.harts) {
      const r = h.run(budget);
      // The other harts run before this one's next slice and may write what it reserved:
      // its reservation ends with the slice (an SC across slices fails, and is retried).
      if (several) h.reservation = -1;
      if (r === StopReason.Fault)
        return { kind: 'fault', message: `hart ${h.hartId}: ${h.lastError}` };
      if (r !== StopReason.Wfi) allWfi = false;
    }
    if (this.event !== null) {
      const event = this.event;
      this.event = null;
      for (const h of this.harts) h.stopRequested = false;
      return { kind: 'syscon', event };
    }
    return allWfi ? { kind: 'wfi' } : { kind: 'budget' };
  }

  /**
   * Runs hart 0 for up to `budget` instructions while harts 1 and up run on their threads,
   * serving their device accesses whenever one waits (they kick hart 0 out of its slice).
   */
  private runWithRemote(budget: number): BoardStop {
    const remote = this.remote!;
    const h = this.harts[0];
    const start = h.currentInstret();
    for (;;) {
      h.kicked = false;
      remote.serve(this);
      if (this.clint.msipOf(0)) h.mip |= MIP_MSIP;
      else h.mip &= ~MIP_MSIP;
      const failed = remote.fault();
      if (failed !== null) return { kind: 'fault', message: failed };
      if (this.event === null) {
        const r = h.run(Math.max(budget - (h.currentInstret() - start), 1));
        if (r === StopReason.Fault) return { kind: 'fault', message: `hart 0: ${h.lastError}` };
        if (this.event === null) {
          if (r === StopReason.Wfi) {
            // A kick seen after serve() (which notes the doorbell the VMM's idle wait watches)
            // came before that doorbell's ring: an IPI or request that would otherwise wait
            // for the next timer. Go round again instead.
            remote.serve(this);
            if (h.kicked) continue;
            return { kind: 'wfi' };
          }
          if (!h.kicked || h.currentInstret() - start >= budget) {
            remote.serve(this);
            return { kind: 'budget' };
          }
          continue;
        }
      }
      const event = this.event;
      this.event = null;
      h.stopRequested = false;
      return { kind: 'syscon', event };
    }
  }

  /**
   * The pages written since the last call, as Ram.takeDirtyPages; harts on other threads stop
   * meanwhile, so that none writes on through a write cache that the new log has not reached.
   */
  takeDirtyPages(): number[] {
    const remote = this.remote;
    if (remote === null || remote.paused) return this.ram.takeDirtyPages();
    remote.pause();
    try {
      return this.ram.takeDirtyPages();
    } finally {
      remote.resume();
    }
  }

  /** The clock reading at which the next timer fires (CLINT or Sstc), or Infinity. */
  nextDeadline(): number {
    let t = this.clint.nextDeadline();
    const mtimeOffset = this.clint.mtime() - this.clock.now();
    for (const h of this.localHarts) {
      if ((h.menvcfgHi & (1 << 31)) !== 0 && (h.mie & (1 << 5)) !== 0) {
        const cmp = (h.stimecmpHi >>> 0) * 4294967296 + (h.stimecmpLo >>> 0) - mtimeOffset;
        if (cmp < t) t = cmp;
      }
    }
    return t;
  }

  /** Total retired instructions of all harts. */
  instructions(): number {
    let n = 0;
    this.harts.forEach((h, i) => {
      n += this.remote !== null && i > 0 ? this.remote.instret(i) : h.currentInstret();
    });
    return n;
  }

  /** The board's configuration as a snapshot records it: a restore needs the same. */
  shape(): BoardShape {
    return boardShape(this);
  }

  /** The stateful parts by name, in the order a restore commits them. */
  parts(): [string, Persistent<unknown>][] {
    return boardParts(this);
  }

  /** The whole machine's state (between runs). */
  saveState(): BoardState {
    return saveBoard(this);
  }

  /** Validates every part's state before any is loaded. */
  checkState(data: unknown): BoardState {
    return checkBoard(this, data);
  }

  /** Loads every part's checked state. */
  loadState(s: BoardState): void {
    loadBoard(this, s);
  }
}
