// A virt board running the echo guest (test/vmm/echo.S) with every kind of device in its slots
// (rng, virtio console, network card on a memory backend, power button, two memory disks) and
// time that follows the instruction count, so that two boards given the same input run alike.
// The devices sit in the slots the board gave them before slots followed QEMU's plugging
// order (rng 0, console 1, network 2, power button 3, disks 7 and 6), which is the shape of
// the snapshot fixture test/fixtures/snapshot/echo-v1.snap.

import { readFileSync } from 'node:fs';
import { VirtBoard, type VirtBoardConfig } from '../../src/machine/board/virt.js';
import { MemoryBlockBackend } from '../../src/machine/virtio/blockBackend.js';
import { MemoryNetBackend } from '../../src/machine/virtio/netBackend.js';
import { SeededEntropy } from '../../src/machine/virtio/rng.js';
import { echoGuestElf } from '../vmm/echoGuest.js';

/** 2026-01-01 in ns since the epoch: the wall clock's start. */
const EPOCH_NS = 1_767_225_600_000_000_000n;

export interface EchoBoard {
  board: VirtBoard;
  /** What the guest wrote to its UART, as text. */
  output: () => string;
}

/** The fixture's slots, for the devices `cfg` has that name none. */
function fixtureSlots(cfg: VirtBoardConfig): VirtBoardConfig {
  const out = { ...cfg, rngSlot: cfg.rngSlot ?? 0 };
  if (cfg.hvc) out.hvc = { slot: 1, ...cfg.hvc };
  if (cfg.net) out.net = { slot: 2, ...cfg.net };
  if (cfg.input) out.input = { slot: 3, ...cfg.input };
  return out;
}

/** A board of `memoryBytes` (default 16 MiB) running the echo guest from its reset vector. */
export function echoBoard(extra: Partial<VirtBoardConfig> = {}): EchoBoard {
  let out = '';
  let board: VirtBoard | null = null;
  const ticks = (): number => (board === null ? 0 : Math.floor(board.instructions() / 10));
  board = new VirtBoard(
    fixtureSlots({
      memoryBytes: 16 << 20,
      clock: { now: ticks },
      wallClock: () => EPOCH_NS + BigInt(ticks()) * 100n,
      console: { write: (b) => (out += String.fromCharCode(b)) },
      firmware: readFileSync(echoGuestElf()),
      rng: new SeededEntropy(1n),
      hvc: { out: { write: () => {} }, input: { pending: () => 0, take: () => [] } },
      net: { backend: new MemoryNetBackend(), seed: 'echo' },
      input: {},
      disks: [
        { backend: new MemoryBlockBackend(1 << 20) },
        { backend: new MemoryBlockBackend(2 << 20, true) },
      ],
      ...extra,
    }),
  );
  return { board, output: () => out };
}

/** Runs `n` instructions in slices of at most `slice`; throws if the guest stops otherwise. */
export function runFor(board: VirtBoard, n: number, slice = 100_000): void {
  for (let left = n; left > 0; left -= slice) {
    const stop = board.run(Math.min(slice, left));
    if (stop.kind !== 'budget') throw new Error(`the echo guest stopped: ${JSON.stringify(stop)}`);
  }
}

/** Gives the guest `text` on its UART, a byte at a time, running `gap` instructions after each. */
export function type(board: VirtBoard, text: string, gap = 20_000): void {
  for (const c of text) {
    if (board.uart.receive([c.charCodeAt(0)]) !== 1) throw new Error('the UART is full');
    runFor(board, gap);
  }
}
