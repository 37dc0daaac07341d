// The CFI flash bank: the answers QEMU 7.2's bank gives (its query table as a bare-metal
// program read it, test/baremetal/flash.test.ts), programming, erasing and buffered writes
// into a sparse store, a store kept by the next board's bank, its saved state; a bank on an image.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CfiFlash } from './cfiFlash.js';
import { FlashStore } from './flashStore.js';
import { MemoryBlockBackend } from '../virtio/blockBackend.js';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
  viaJson,
} from '../../../test/support/persistence.js';

const bank = (): CfiFlash => new CfiFlash(new FlashStore(32 << 20, 256 << 10));

/** 32-bit writes of [offset, value], in order. */
function writes(f: CfiFlash, ...w: [number, number][]): void {
  for (const [offset, value] of w) f.write(offset, 4, value);
}

test('IDs, the status register and the query table in both chips’ lanes, as on QEMU', () => {
  const f = bank();
  assert.equal(f.read(0, 4), 0);
  f.write(0, 4, 0x90);
  assert.deepEqual(
    [f.read(0, 4), f.read(4, 4), f.read(8, 4), f.read(0, 1)],
    [0x890089, 0x180018, 0, 0x89],
  );
  f.write(0x154, 4, 0x98);
  // Bytes 0x10..0x3f of the table, one a word, as QEMU 7.2 answered them.
  const table = Array.from({ length: 0x30 }, (_, i) => f.read(4 * (0x10 + i), 1));
  assert.equal(
    Buffer.from(table).toString('hex'),
    '5152590100310000000000455500000707' +
      '0a000404040018' +
      '02000b00017f0000' +
      '0250524931300000' +
      '0000000000000001',
  );
  assert.equal(f.read(0x40, 4), 0x510051);
  assert.equal(f.read(4 * 0x52, 4), 0, 'past the table');
  f.write(0, 4, 0x90);
  assert.equal(f.read(0x40, 4), 0x510051, 'only read-array leaves query mode');
  f.write(0, 4, 0xff);
  f.write(0, 4, 0x70);
  assert.deepEqual([f.read(0, 4), f.read(0, 2)], [0x800080, 0x80]);
  f.write(0, 4, 0x50);
  assert.equal(f.read(0, 4), 0, 'clear status: read array again');
  f.write(0, 4, 0x70);
  assert.equal(f.read(0, 4), 0);
});

test('program, erase and buffered write; status until read-array; an unknown command reads the array', () => {
  const f = bank();
  f.write(0x1000, 4, 0x40);
  f.write(0x1000, 4, 0x12345678);
  assert.equal(f.read(0x1000, 4), 0x800080);
  f.write(0, 4, 0xff);
  assert.equal(f.read(0x1000, 4), 0x12345678);
  f.write(0x1000, 4, 0x10);
  f.write(0x1000, 2, 0xffff);
  f.write(0, 1, 0xff);
  assert.equal(f.read(0x1000, 4), 0x1234ffff, 'stored as written, not ANDed');
  f.write(0x40010, 4, 0x20);
  f.write(0x40010, 4, 0xd0);
  f.write(0, 4, 0xff);
  assert.deepEqual(
    [0x3fffc, 0x40000, 0x7fffc, 0x80000].map((o) => f.read(o, 4)),
    [0, 0xffffffff, 0xffffffff, 0],
  );
  writes(f, [0x2000, 0xe8], [0x2000, 1], [0x2000, 0xa1b2c3d4], [0x2004, 0x01020304]);
  writes(f, [0x2000, 0xd0]);
  assert.equal(f.read(0x2000, 4), 0x800080);
  f.write(0, 4, 0xff);
  assert.deepEqual([f.read(0x2000, 4), f.read(0x2004, 4)], [0xa1b2c3d4, 0x01020304]);
  f.write(0, 4, 0x33);
  assert.equal(f.read(0x2000, 4), 0xa1b2c3d4);
  f.write(0, 4, 0x60);
  f.write(0, 4, 0x01);
  assert.equal(f.read(0, 4), 0x800080);
  // The next board's bank over the same store holds the same, in read-array mode.
  const g = new CfiFlash(f.store);
  assert.equal(g.read(0x2000, 4), 0xa1b2c3d4);
});

test('saved state: mid-command, sectors as fill or bytes; bad states are refused and change nothing', () => {
  const a = bank();
  writes(a, [0x40000, 0x20], [0, 0xff]); // sector 1 all 0xff
  writes(a, [0x2000, 0x40], [0x2000, 0xcafe]);
  writes(a, [0x2000, 0xe8], [0x2000, 3], [0x2004, 0x55aa]); // in the middle of a buffered write
  const b = bank();
  const s = assertRoundTrip(a, b);
  assert.deepEqual(
    s.sectors.map((x) => [x.index, x.fill ?? 'bytes']),
    [
      [0, 'bytes'],
      [1, 255],
    ],
  );
  assert.equal(s.sectors[0].hex!.slice(0x2000 * 2, 0x2000 * 2 + 16), 'feca0000aa550000');
  assert.deepEqual([s.cmd, s.cycle, s.counter], [0xe8, 2, 2]);
  writes(b, [0x2008, 1], [0x200c, 2], [0x2010, 3], [0, 0xd0], [0, 0xff]);
  assert.equal(b.read(0x2010, 4), 3);
  const good = a.saveState();
  assertRefused(b, { ...good, cycle: 3, cmd: 0x40 }, /cycle 3 is past the last of command 0x40/);
  assertRefused(b, { ...good, cmd: 0x33 }, /cmd 0x33 is not a command this flash keeps/);
  assertRefused(
    b,
    { ...good, sectors: [good.sectors[1], good.sectors[0]] },
    /sectors\[1\]\.index must grow/,
  );
  assertRefused(
    b,
    { ...good, sectors: [{ index: 128, fill: 0 }] },
    /sectors\[0\]\.index must be an integer from 0 to 127/,
  );
  assertRefused(
    b,
    { ...good, sectors: [{ index: 0, hex: 'ff' }] },
    /sectors\[0\]\.hex must be 262144 to 262144 bytes/,
  );
  assertRefused(
    b,
    { ...good, sectors: [{ index: 0 }] },
    /sectors\[0\] must have either fill or hex/,
  );
  assert.ok(assertMutationsRefused(a) > 10);
});

test('a bank on an image: read when touched, written through; read-only fails as QEMU’s; state', () => {
  const image = new MemoryBlockBackend(32 << 20);
  image.data.set([0x13, 0, 0, 0], 0x100);
  const f = new CfiFlash(new FlashStore(32 << 20, 256 << 10, image));
  assert.equal(f.read(0x100, 4), 0x13);
  writes(f, [0x1000, 0x40], [0x1000, 0xdeadbeef], [0x40000, 0x20], [0, 0xff]);
  assert.equal(new DataView(image.data.buffer).getUint32(0x1000, true), 0xdeadbeef);
  assert.ok(image.data.subarray(0x40000, 0x80000).every((b) => b === 0xff));
  const s = f.saveState();
  assert.deepEqual([s.backed, s.sectors], [true, []], 'the image holds the contents');
  assertRefused(
    bank(),
    viaJson(s),
    /backed: the bank sat on a flash image when the state was saved/,
  );
  assertRefused(f, { ...s, backed: false }, /backed: the bank held its contents in the state/);
  assertRefused(
    f,
    { ...s, sectors: [{ index: 0, fill: 1 }] },
    /a bank on a flash image has its contents in the image/,
  );

  const ro = new MemoryBlockBackend(32 << 20, true);
  const g = new CfiFlash(new FlashStore(32 << 20, 256 << 10, ro));
  writes(g, [0x1000, 0x40], [0x1000, 1]);
  assert.equal(g.read(0, 4), 0x900090, 'program error');
  writes(g, [0, 0x50], [0x40000, 0x20], [0x40000, 0xd0]);
  assert.equal(g.read(0, 4), 0xa000a0, 'erase error');
  writes(g, [0, 0xff]);
  assert.deepEqual([g.read(0x1000, 4), g.read(0x40000, 4)], [0, 0]);
});
