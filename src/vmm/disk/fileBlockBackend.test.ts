// The raw-file disk backend: reads and writes land in the file, flush, read-only
// opens, clear errors for bad files, and discard / write-zeroes that keep holes.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockBackendError } from '../../machine/virtio/blockBackend.js';
import { FileBlockBackend, FileBlockBackendError, parseDiskSpec } from './fileBlockBackend.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-disk-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function image(size: number): string {
  const p = join(dir, `disk${n++}.img`);
  writeFileSync(p, '');
  truncateSync(p, size);
  return p;
}

test('reads and writes go to the file; flush and close', () => {
  const p = image(1 << 20);
  const b = new FileBlockBackend(p);
  assert.equal(b.size, 1 << 20);
  assert.equal(b.readOnly, false);
  b.write(4096, Uint8Array.of(1, 2, 3, 4));
  b.flush();
  const back = new Uint8Array(6);
  b.read(4095, back);
  assert.deepEqual([...back], [0, 1, 2, 3, 4, 0]);
  assert.deepEqual([...readFileSync(p).subarray(4096, 4100)], [1, 2, 3, 4]);
  assert.throws(() => b.read((1 << 20) - 2, new Uint8Array(4)), BlockBackendError);
  assert.throws(() => b.write(-1, new Uint8Array(4)), BlockBackendError);
  b.close();
  assert.throws(() => b.read(0, new Uint8Array(4)), BlockBackendError);
});

test('a read-only disk refuses writes and leaves the file alone', () => {
  const p = image(65536);
  const b = new FileBlockBackend(p, { readOnly: true });
  assert.equal(b.readOnly, true);
  assert.throws(() => b.write(0, Uint8Array.of(1)), /read-only/);
  assert.throws(() => b.writeZeroes(0, 512), /read-only/);
  b.flush();
  b.close();
  assert.ok(readFileSync(p).every((x) => x === 0));
});

test('missing, empty, odd-sized files and directories are refused with a clear message', () => {
  assert.throws(
    () => new FileBlockBackend(join(dir, 'nope.img')),
    /cannot open disk image .*nope.img: the file does not exist/,
  );
  assert.throws(
    () => new FileBlockBackend(image(1000)),
    /is 1000 bytes; a raw disk must be a non-zero multiple of 512/,
  );
  assert.throws(() => new FileBlockBackend(image(0)), FileBlockBackendError);
  assert.throws(() => new FileBlockBackend(dir), FileBlockBackendError);
});

test('write-zeroes and discard only write where data is, so holes stay holes', () => {
  const size = 8 << 20;
  const p = image(size);
  const fd = openSync(p, 'r+');
  writeSync(fd, new Uint8Array(4096).fill(7), 0, 4096, 4 << 20);
  closeSync(fd);
  const before = statSync(p).blocks;
  const b = new FileBlockBackend(p);
  b.writeZeroes(0, size);
  b.discard(0, size);
  b.close();
  const st = statSync(p);
  assert.ok(readFileSync(p).every((x) => x === 0));
  assert.equal(st.size, size);
  assert.ok(
    st.blocks <= before + 128,
    `blocks ${before} -> ${st.blocks}: zeros were written over holes`,
  );
});

test('--disk specs: PATH, PATH,ro, commas in the path', () => {
  assert.deepEqual(parseDiskSpec('a.img'), { path: 'a.img', readOnly: false });
  assert.deepEqual(parseDiskSpec('/x/a.img,ro'), { path: '/x/a.img', readOnly: true });
  assert.deepEqual(parseDiskSpec('a,b.img'), { path: 'a,b.img', readOnly: false });
  assert.throws(() => parseDiskSpec(',ro'), FileBlockBackendError);
  assert.deepEqual(parseDiskSpec('a.img,slot=3'), { path: 'a.img', readOnly: false, slot: 3 });
  assert.deepEqual(parseDiskSpec('a.img,slot=0,ro'), { path: 'a.img', readOnly: true, slot: 0 });
  assert.throws(
    () => parseDiskSpec('a.img,slot=8'),
    (e) =>
      e instanceof FileBlockBackendError &&
      e.message === "--disk a.img,slot=8: '8' is not a virtio slot; the board has slots 0 to 7",
  );
  assert.throws(() => parseDiskSpec('a.img,slot=x'), FileBlockBackendError);
  assert.deepEqual(parseDiskSpec('a.img,bus=pci,ro'), {
    path: 'a.img',
    readOnly: true,
    bus: 'pci',
  });
  assert.deepEqual(parseDiskSpec('a.img,bus=mmio'), {
    path: 'a.img',
    readOnly: false,
    bus: 'mmio',
  });
  assert.deepEqual(parseDiskSpec('a.img,bus=usb'), { path: 'a.img,bus=usb', readOnly: false });
});
