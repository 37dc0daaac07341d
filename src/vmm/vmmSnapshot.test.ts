// A deterministic VMM's snapshot keeps what the board alone does not: the idle time its
// instruction clock skipped and where its seeded entropy is, so mtime, the RTC and the random
// bytes of a restored run go on exactly as the original's; a bad vmm.clock section is refused
// before anything is loaded.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VirtBoard } from '../machine/board/virt.js';
import { SeededEntropy } from '../machine/virtio/rng.js';
import { echoBoard, runFor } from '../../test/support/echoBoard.js';
import { InstructionClock, wallClockNs } from './clocks.js';
import { SnapshotError } from './snapshot/format.js';
import { writeSnapshotFile } from './snapshot/snapshotFile.js';
import { restoreMachineSnapshot, writeMachineSnapshot, type VmmMachine } from './vmmSnapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-vmm-snapshot-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic machine as the VMM makes one: instruction clock, seeded entropy. */
function machine(): VmmMachine & { output: () => string } {
  let board: VirtBoard | null = null;
  const clock = new InstructionClock(() => (board ? board.instructions() : 0));
  const entropy = new SeededEntropy(1n);
  const e = echoBoard({ clock, wallClock: wallClockNs(clock), rng: entropy });
  board = e.board;
  return { board, clock, entropy, output: e.output };
}

test('a restored deterministic machine has the same time, RTC and entropy and runs on alike', () => {
  const a = machine();
  runFor(a.board, 250_000);
  a.clock.skipTo(a.clock.now() + 123_456); // the guest idled in WFI
  a.entropy!.fill(new Uint8Array(100)); // and took random bytes
  const file = join(dir, 'det.snap');
  writeMachineSnapshot(a, file);
  const b = machine();
  restoreMachineSnapshot(b, file);
  assert.equal(b.clock.now(), a.clock.now());
  assert.equal(b.board.clint.mtime(), a.board.clint.mtime());
  assert.equal(b.board.rtc.nowNs(), a.board.rtc.nowNs());
  assert.deepEqual(b.entropy!.saveState(), a.entropy!.saveState());
  for (const m of [a, b]) runFor(m.board, 100_000);
  assert.deepEqual(b.board.saveState(), a.board.saveState());
  assert.equal(b.board.rtc.nowNs(), a.board.rtc.nowNs());
});

test('a bad vmm.clock section is refused and nothing is loaded', () => {
  const a = machine();
  runFor(a.board, 50_000);
  const b = machine();
  const before = b.board.saveState();
  const bad: [unknown, RegExp][] = [
    [
      { deterministic: true, skippedTicks: -1, entropy: null },
      /skippedTicks must be an integer from 0/,
    ],
    [
      { deterministic: true, skippedTicks: 0, entropy: { s0: 'x', s1: 'y' } },
      /s0 must be a 64-bit value/,
    ],
    [
      { deterministic: 'yes', skippedTicks: 0, entropy: null },
      /deterministic must be true or false/,
    ],
  ];
  for (const [clock, message] of bad) {
    const file = join(dir, 'bad.snap');
    writeSnapshotFile(a.board, file, { clock });
    assert.throws(
      () => restoreMachineSnapshot(b, file),
      (e: unknown) =>
        e instanceof SnapshotError &&
        e.problem === 'state' &&
        e.message.startsWith(`snapshot ${file}: its vmm.clock section is refused: `) &&
        message.test(e.message),
    );
  }
  assert.deepEqual(b.board.saveState(), before);
  assert.equal(b.clock.now(), 0);
});
