// Snapshots of a VMM's machine: the board's snapshot file (snapshot/) plus what the VMM keeps
// for the guest beside the board: in deterministic mode, the idle time its instruction clock
// skipped and where the seeded entropy source is, so that a restored deterministic run goes on
// exactly as the original would have (section "vmm.clock"; host clocks keep nothing).

import type { VirtBoard } from '../machine/board/virt.js';
import { StateError } from '../machine/state/persistent.js';
import { StateReader } from '../machine/state/stateReader.js';
import type { SeededEntropy, SeededEntropyState } from '../machine/virtio/rng.js';
import { InstructionClock, type TickClock } from './clocks.js';
import { SnapshotError } from './snapshot/format.js';
import type { SnapshotInfo } from './snapshot/snapshot.js';
import {
  checkSnapshotFile,
  writeSnapshotFile,
  type SnapshotFileBytes,
} from './snapshot/snapshotFile.js';

/** A VMM's machine: the board and the host-side sources it runs on. */
export interface VmmMachine {
  board: VirtBoard;
  clock: TickClock;
  /** The seeded entropy source of a deterministic run, or null. */
  entropy: SeededEntropy | null;
}

interface ClockSection {
  deterministic: boolean;
  skippedTicks: number;
  entropy: unknown;
}

export function clockSection(m: VmmMachine): ClockSection {
  return {
    deterministic: m.clock.deterministic,
    skippedTicks: m.clock instanceof InstructionClock ? m.clock.skippedTicks : 0,
    entropy: m.entropy?.saveState() ?? null,
  };
}

/** Writes the snapshot of `m` (between slices) to `path`; returns its size in bytes. */
export function writeMachineSnapshot(m: VmmMachine, path: string): number {
  return writeSnapshotFile(m.board, path, { clock: clockSection(m) });
}

/**
 * Restores the snapshot file `path` into `m`, a machine just made from the same configuration:
 * checks the file, the board's state and the VMM's section first, then loads them all. `read`
 * is the file as readSnapshotFile read it ahead, if it did.
 */
export function restoreMachineSnapshot(
  m: VmmMachine,
  path: string,
  read?: SnapshotFileBytes | null,
): SnapshotInfo {
  const checked = checkSnapshotFile(m.board, path, read);
  let skippedTicks: number | null = null;
  let entropy: SeededEntropyState | null = null;
  try {
    const data = checked.extras.clock;
    if (data !== undefined) {
      StateReader.read(data, (r) => {
        const deterministic = r.bool('deterministic');
        const skipped = r.int('skippedTicks', 0, Number.MAX_SAFE_INTEGER);
        const saved = r.raw('entropy');
        // Deterministic runs take the skipped time and the entropy position; host clocks go on.
        if (deterministic && m.clock instanceof InstructionClock) skippedTicks = skipped;
        if (deterministic && m.entropy !== null && saved !== null) {
          entropy = m.entropy.checkState(saved);
        }
      });
    }
  } catch (e) {
    if (!(e instanceof StateError)) throw e;
    throw new SnapshotError(
      'state',
      `snapshot ${path}: its vmm.clock section is refused: ${e.message}`,
    );
  }
  if (skippedTicks !== null && m.clock instanceof InstructionClock) {
    m.clock.skippedTicks = skippedTicks;
  }
  if (entropy !== null) m.entropy?.loadState(entropy);
  m.board.loadState(checked.state);
  return checked.info;
}
