// The dirty-chunk log of disk mirroring: writes mark the chunks they touch, clipped at the disk's
// end; a chunk taken is clear until the next write into it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirtyChunks } from './dirtyChunks.js';

test('writes mark every chunk they touch; the bytes count the short last chunk as it is', () => {
  const d = new DirtyChunks(10 * 1024 + 512, 1024); // 11 chunks, the last 512 bytes
  assert.equal(d.chunks, 11);
  d.mark(1023, 2); // chunks 0 and 1
  d.mark(5 * 1024, 1024); // chunk 5 only
  d.mark(4096, 0); // nothing
  assert.deepEqual(d.list(), [0, 1, 5]);
  assert.equal(d.count, 3);
  assert.equal(d.bytes, 3 * 1024);
  d.mark(10 * 1024 + 100, 1);
  assert.equal(d.bytes, 3 * 1024 + 512);
  d.mark(0, 1 << 20); // clipped at the end of the disk
  assert.equal(d.count, 11);
  assert.equal(d.bytes, 10 * 1024 + 512);
});

test('taking a chunk clears it; a write after the take marks it again', () => {
  const d = new DirtyChunks(8 * 1024, 1024);
  d.markAll();
  assert.equal(d.count, 8);
  assert.equal(d.take(3), true);
  assert.equal(d.take(3), false, 'taken once');
  assert.equal(d.has(3), false);
  d.mark(3 * 1024 + 7, 1); // the guest writes into it while it is read for sending
  assert.equal(d.has(3), true);
  for (const c of d.list()) d.take(c);
  assert.equal(d.count, 0);
  assert.equal(d.bytes, 0);
  assert.deepEqual(d.list(), []);
});
