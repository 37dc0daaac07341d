// The whole board saves and restores as one: every part under its bus name, a restored board
// runs on exactly as the original does, and a state that is wrong anywhere (a part missing,
// extra, of another kind or version, or out of range deep inside) is refused before any part
// is loaded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restoreState } from '../state/persistent.js';
import type { BoardState } from './virtState.js';
import { echoBoard, runFor, type } from '../../../test/support/echoBoard.js';
import { assertRefused } from '../../../test/support/persistence.js';

/** A deep copy of a board state (RAM's bytes included). */
const copy = (s: BoardState): BoardState => structuredClone(s);

test('the parts are keyed by their bus names, harts and RAM included', () => {
  const { board } = echoBoard({ harts: 2 });
  const names = Object.keys(board.saveState().parts);
  assert.deepEqual(names, [
    ...['ram', 'hart0', 'hart1', 'clint', 'plic', 'uart0', 'rtc', 'test', 'bootrom', 'vmgenid'],
    ...[
      'flash0',
      'flash1',
      'virtio0',
      'virtio1',
      'virtio2',
      'virtio3',
      'virtio6',
      'virtio7',
      'pcie',
    ],
  ]);
  const s = board.saveState();
  assert.equal(s.parts.uart0.id, 'ns16550a');
  assert.equal(s.parts.virtio2.id, 'virtio-mmio');
  assert.equal((s.parts.virtio2.state as { device: { id: string } }).device.id, 'virtio-net');
});

test('a restored board saves the same state and runs on exactly as the original', () => {
  const a = echoBoard();
  runFor(a.board, 300_000);
  type(a.board, 'ab');
  assert.equal(a.output(), 'echo ready\nab');
  const saved = a.board.saveState();
  const b = echoBoard();
  runFor(b.board, 1000); // a board that ran elsewhere meanwhile
  restoreState(b.board, copy(saved));
  const printed = b.output().length;
  assert.deepEqual(b.board.saveState(), saved);
  assert.equal(b.board.instructions(), a.board.instructions());
  // Both go on with the same input.
  for (const e of [a, b]) {
    type(e.board, 'xyz');
    runFor(e.board, 123_457);
  }
  assert.equal(b.output().slice(printed), 'xyz');
  assert.ok(a.output().endsWith('abxyz'));
  assert.deepEqual(b.board.saveState(), a.board.saveState());
  assert.equal(b.board.harts[0].regs.get(18), a.board.harts[0].regs.get(18), 's2 counts the spins');
});

test('a state wrong in its last part is refused before any part is loaded', () => {
  const a = echoBoard();
  runFor(a.board, 300_000);
  const b = echoBoard();
  runFor(b.board, 50_000);
  const before = b.board.saveState();
  const printed = b.output();
  const bad = copy(a.board.saveState());
  const disk = bad.parts.virtio7.state as { queues: { size: number }[] };
  disk.queues[0].size = -1;
  assertRefused(b.board, bad, /^virt: virtio7: queues\[0\]\.size must be an integer from 0/);
  assert.deepEqual(b.board.saveState(), before, 'RAM and harts are as they were');
  runFor(b.board, 10_000);
  assert.equal(b.output(), printed);
  assert.equal(b.board.instructions(), 60_000, 'the board goes on from where it was');
});

test('parts missing, extra, of another kind or a newer version are refused by name', () => {
  const { board } = echoBoard();
  const s = board.saveState();
  const without = copy(s);
  delete without.parts.virtio3;
  assertRefused(
    board,
    without,
    /the state has no part virtio3 \(virtio-mmio\), which this board has/,
  );
  const extra = copy(s);
  extra.parts.virtio5 = extra.parts.virtio6;
  assertRefused(board, extra, /the state has a part virtio5, which this board does not have/);
  const kind = copy(s);
  kind.parts.rtc = kind.parts.uart0;
  assertRefused(board, kind, /rtc: the state is of a ns16550a, this part is a goldfish-rtc/);
  const newer = copy(s);
  newer.parts.plic.version = 2;
  assertRefused(
    board,
    newer,
    /plic: the sifive-plic state has version 2, newer than this Berth reads \(up to 1\)/,
  );
  assertRefused(board, { parts: [] }, /a board state must be \{parts/);
});

test('a board of another shape refuses the state', () => {
  const a = echoBoard();
  const s = a.board.saveState();
  assertRefused(
    echoBoard({ memoryBytes: 32 << 20 }).board,
    s,
    /ram: the state is of 16777216 bytes of RAM, this RAM has 33554432/,
  );
  assertRefused(echoBoard({ harts: 2 }).board, s, /the state has no part hart1/);
  assertRefused(
    echoBoard({ input: undefined }).board,
    s,
    /the state has a part virtio3, which this board does not have/,
  );
  assert.notDeepEqual(echoBoard({ harts: 2 }).board.shape(), a.board.shape());
  assert.deepEqual(echoBoard().board.shape(), a.board.shape());
  // Each disk's slot says which configured disk it is (a restore places them by it).
  assert.deepEqual(a.board.shape().virtio[7], {
    device: 'virtio-blk',
    disk: 0,
    bytes: 1 << 20,
    readOnly: false,
  });
  assert.deepEqual(a.board.shape().virtio[6], {
    device: 'virtio-blk',
    disk: 1,
    bytes: 2 << 20,
    readOnly: true,
  });
});

test('a state saved before the board had a VM generation ID restores; the device keeps its own', () => {
  const id = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
  const a = echoBoard();
  runFor(a.board, 100_000);
  const old = copy(a.board.saveState());
  delete old.parts.vmgenid; // as a state written before the device existed
  const b = echoBoard({ generationId: id });
  restoreState(b.board, old);
  assert.deepEqual(b.board.vmgenid.id, id);
  assert.equal(b.board.instructions(), a.board.instructions());
  // A state that has the part loads it.
  const c = echoBoard({ generationId: new Uint8Array(16).fill(7) });
  restoreState(c.board, copy(b.board.saveState()));
  assert.deepEqual(c.board.vmgenid.id, id);
});
