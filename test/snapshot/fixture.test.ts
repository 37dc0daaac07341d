// Snapshots written by format version 1 keep loading: test/fixtures/snapshot/echo-v1.snap was
// written by Berth 0.1.0 (format 1) from the echo guest (test/vmm/echo.S, built from this
// repository's source) on the board of test/support/echoBoard.ts, mid-run. Every later Berth
// must restore it onto that board and run it on. To write a snapshot the same way (for a new
// format version's fixture; never over an old one):
//   BERTH_WRITE_SNAPSHOT_FIXTURE=test/fixtures/snapshot/echo-vN.snap \
//     node --test dist/test/snapshot/fixture.test.js

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoBoard, runFor, type } from '../support/echoBoard.js';
import { restoreSnapshotFile, writeSnapshotFile } from '../../src/vmm/snapshot/snapshotFile.js';
import { MemoryNetBackend } from '../../src/machine/virtio/netBackend.js';
import { formatMac } from '../../src/machine/virtio/net.js';

const FIXTURE = join(
  dirname(fileURLToPath(import.meta.url)),
  ...['..', '..', '..', 'test', 'fixtures', 'snapshot', 'echo-v1.snap'],
);

/** How the fixtures are made: boot the echo guest, run 300,000 instructions, type "v1". */
function makeFixture(path: string): void {
  const { board, output } = echoBoard();
  runFor(board, 300_000);
  type(board, 'v1');
  assert.equal(output(), 'echo ready\nv1');
  writeSnapshotFile(board, path);
}

test('the snapshot of format version 1 restores and the echo guest runs on', () => {
  const out = process.env.BERTH_WRITE_SNAPSHOT_FIXTURE;
  if (out) makeFixture(out);
  assert.ok(statSync(FIXTURE).size < 16384, 'the fixture stays small');
  const { board, output } = echoBoard();
  const { info } = restoreSnapshotFile(board, FIXTURE);
  assert.equal(info.formatVersion, 1);
  assert.equal(info.writer, '0.1.0');
  assert.equal(board.instructions(), 340_000, '300,000 instructions and 20,000 after each key');
  assert.ok(board.harts[0].regs.get(18) > 0n, 's2 counts the spins');
  type(board, 'ok');
  assert.equal(output(), 'ok');
  assert.equal(board.uart.receive([0x71]), 1); // 'q'
  const stop = board.run(100_000);
  assert.deepEqual(stop, { kind: 'syscon', event: { kind: 'poweroff' } });
});

test('format 1 restores onto a board with a VM generation ID (not in the file) and another MAC', () => {
  // The board gained the generation ID device after format 1, and restores no longer need the
  // snapshot's MAC; neither may make the fixture unloadable.
  const id = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
  const mac = '52:54:00:0f:1e:2d';
  const { board, output } = echoBoard({
    generationId: id,
    net: { backend: new MemoryNetBackend(), mac },
  });
  const { info } = restoreSnapshotFile(board, FIXTURE);
  assert.notEqual(info.shape.virtio[2]?.mac, mac, 'the fixture has another MAC');
  assert.deepEqual(board.vmgenid.id, id, 'the device keeps the ID it was given');
  assert.equal(formatMac(board.net!.mac), mac);
  assert.equal(board.instructions(), 340_000);
  type(board, 'ok');
  assert.equal(output(), 'ok');
});
