// Disk blocks on the migration stream: a batch round-trips (zero chunks as their entry alone,
// offsets past 4 GiB); a damaged or misdirected batch is refused and writes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlockBackend } from '../../machine/virtio/blockBackend.js';
import { applyBlocks, decodeBlocks, encodeBlocks, type Block } from './blocks.js';
import { MigrationError } from './wire.js';

const data = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const big = 2 ** 33; // offsets past 4 GiB use the high word

test('blocks round-trip: data, zero chunks without their bytes, offsets past 4 GiB', () => {
  const blocks: Block[] = [
    { disk: 0, offset: 65536, length: 4096, data: data(4096, 7) },
    { disk: 2, offset: big, length: 65536, data: null },
    { disk: 2, offset: big + 65536, length: 512, data: data(512, 9) },
  ];
  const p = encodeBlocks(blocks);
  assert.equal(p.length, 4 + 3 * 24 + 4096 + 512, 'the zero chunk travels as its entry alone');
  const back = decodeBlocks(p, [{ size: 1 << 20 }, null, { size: big + (1 << 20) }]);
  assert.equal(back.length, 3);
  assert.deepEqual(
    back.map((b) => [b.disk, b.offset, b.length, b.data === null ? null : b.data[0]]),
    [
      [0, 65536, 4096, 7],
      [2, big, 65536, null],
      [2, big + 65536, 512, 9],
    ],
  );
});

test('a flipped byte, a disk not mirrored, a range past the end: refused, nothing written', () => {
  const disk = new MemoryBlockBackend(1 << 20);
  disk.data.fill(1, 0, 4096);
  const good: Block[] = [
    { disk: 0, offset: 0, length: 4096, data: null },
    { disk: 0, offset: 8192, length: 4096, data: data(4096, 5) },
  ];
  const p = Buffer.from(encodeBlocks(good));
  const cases: [Uint8Array, (Block | null)[] | null, RegExp][] = [];
  const flipped = Buffer.from(p);
  flipped[4 + 24 + 24 + 100] ^= 0x10; // in the second block's data
  cases.push([flipped, null, /block 1 \(disk 0 at 8192\) fails its checksum/]);
  cases.push([p, [], /names disk 0, which is not mirrored here/]);
  const far = encodeBlocks([{ disk: 0, offset: (1 << 20) - 512, length: 4096, data: null }]);
  cases.push([far, null, /outside disk 0's 1048576 bytes/]);
  cases.push([p.subarray(0, p.length - 1), null, /ends inside block 1/]);
  for (const [payload, disks, msg] of cases) {
    assert.throws(
      () => applyBlocks(payload, disks === null ? [disk] : (disks as never)),
      (e: Error) => e instanceof MigrationError && msg.test(e.message),
    );
    assert.ok(
      disk.data.subarray(0, 4096).every((b) => b === 1),
      'the first block is not applied',
    );
    assert.ok(disk.data.subarray(8192, 12288).every((b) => b === 0));
  }
  assert.equal(applyBlocks(p, [disk]), 8192);
  assert.ok(
    disk.data.subarray(0, 4096).every((b) => b === 0),
    'the zero block zeroes',
  );
  assert.ok(disk.data.subarray(8192, 12288).every((b) => b === 5));
});
