// RAM pages on the migration stream: a batch round-trips; the pages a destination received are
// data pages there in turn (a guest moved on again sends them: its next hop loses nothing);
// round 1 and the destination's zeroing read only pages ever written; a damaged batch writes
// nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE, Ram } from '../../machine/ram.js';
import { applyPages, encodePages, zeroRam } from './pages.js';

const BASE = 0x80000000;
const PAGES = 64;

function filled(pages: number[]): Ram {
  const ram = new Ram(BASE, PAGES * PAGE_SIZE);
  for (const p of pages) ram.write(BASE + p * PAGE_SIZE + 7, Uint8Array.of(p + 1, 0xaa));
  return ram;
}

test('pages received are data pages at the destination, so the next hop sends them again', () => {
  const a = filled([1, 5, 6, 63]);
  a.takeDirtyPages(); // as a migration starts its log: written, no longer dirty
  assert.deepEqual(a.dataPages(), [1, 5, 6, 63]);
  const b = new Ram(BASE, PAGES * PAGE_SIZE);
  assert.equal(applyPages(b, encodePages(a, [...a.dataPages(), 9])), 5, 'page 9 travels as zero');
  assert.deepEqual(b.dataPages(), [1, 5, 6, 63]);
  b.takeDirtyPages(); // the next hop's log starts
  assert.deepEqual(b.dataPages(), [1, 5, 6, 63], 'the pages still count as holding data');
  const c = new Ram(BASE, PAGES * PAGE_SIZE);
  applyPages(c, encodePages(b, b.dataPages()));
  assert.deepEqual(c.u8, a.u8);
});

test('a zero page received over a data page clears it; zeroRam clears every data page', () => {
  const b = filled([2, 3]);
  const zeros = new Ram(BASE, PAGES * PAGE_SIZE);
  applyPages(b, encodePages(zeros, [2]));
  assert.deepEqual(b.dataPages(), [3]);
  zeroRam(b);
  assert.deepEqual(b.dataPages(), []);
  assert.ok(b.u8.every((x) => x === 0));
});

test('a batch with one flipped bit is refused and writes nothing', () => {
  const a = filled([4, 8]);
  const payload = encodePages(a, [4, 8]);
  const bad = Uint8Array.from(payload);
  bad[bad.length - 1] ^= 0x10;
  const b = new Ram(BASE, PAGES * PAGE_SIZE);
  assert.throws(() => applyPages(b, bad), /page 8 fails its checksum/);
  assert.deepEqual(b.dataPages(), [], 'page 4 was not written either');
});
