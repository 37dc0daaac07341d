// RAM sections: windows of 4096 pages, zero pages left out, runs that cross a window split and
// joined again; damaged windows (out of order, beyond RAM, too much or too little data) refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { PAGE_SIZE, Ram } from '../../machine/ram.js';
import { restoreState } from '../../machine/state/persistent.js';
import { SnapshotError, type Section } from './format.js';
import { RAM_WINDOW_PAGES, RamAssembler, ramSections } from './ramSections.js';

const BASE = 0x80000000;
const SIZE = 40 << 20; // two whole windows and half of a third

function filled(): Ram {
  const ram = new Ram(BASE, SIZE);
  const at = (page: number, b: number): void =>
    ram.write(BASE + page * PAGE_SIZE + 5, Uint8Array.of(b));
  at(0, 1);
  for (let p = RAM_WINDOW_PAGES - 2; p < RAM_WINDOW_PAGES + 3; p++) at(p, p & 0xff); // crosses a window
  at(SIZE / PAGE_SIZE - 1, 9);
  return ram;
}

function assemble(sections: Section[]): Ram {
  const asm = new RamAssembler(SIZE);
  sections.forEach((s, i) => asm.add(s, `section ${i} (ram)`));
  const ram = new Ram(BASE, SIZE);
  restoreState(ram, asm.state());
  return ram;
}

test('windows hold only pages that are not zero; a run across a window boundary comes back whole', () => {
  const ram = filled();
  const sections = [...ramSections(ram.saveState(), 1)];
  assert.equal(sections.length, 3);
  const first = sections.map((s) => new DataView(s.payload.buffer).getUint32(0, true));
  assert.deepEqual(first, [0, RAM_WINDOW_PAGES, 2 * RAM_WINDOW_PAGES]);
  const back = assemble(sections);
  assert.deepEqual(back.saveState(), ram.saveState());
  assert.equal(back.u8[(RAM_WINDOW_PAGES - 1) * PAGE_SIZE + 5], (RAM_WINDOW_PAGES - 1) & 0xff);
  assert.deepEqual(
    [...ramSections(new Ram(BASE, SIZE).saveState(), 1)],
    [],
    'zero RAM has no section',
  );
});

test('damaged windows are refused', () => {
  const sections = [...ramSections(filled().saveState(), 1)];
  const refused = (list: Section[], message: RegExp): void =>
    assert.throws(
      () => assemble(list),
      (e: unknown) =>
        e instanceof SnapshotError && e.problem === 'corrupt' && message.test(e.message),
    );
  refused([sections[1], sections[0]], /section 1 \(ram\) holds pages 0\.\.4095, out of order/);
  const beyond = { ...sections[2], payload: sections[2].payload.slice() };
  new DataView(beyond.payload.buffer).setUint32(4, RAM_WINDOW_PAGES, true);
  refused([beyond], /holds pages 8192\.\.12287, out of order or beyond this RAM's 10240/);
  const window = (bitmap: number[], data: Uint8Array): Section => {
    const packed = deflateRawSync(data);
    const payload = new Uint8Array(8 + bitmap.length + packed.length);
    new DataView(payload.buffer).setUint32(4, bitmap.length * 8, true);
    payload.set(bitmap, 8);
    payload.set(packed, 8 + bitmap.length);
    return { ...sections[0], payload };
  };
  refused([window([1], new Uint8Array(2 * PAGE_SIZE))], /does not decompress/);
  refused([window([3], new Uint8Array(PAGE_SIZE))], /holds 4096 bytes for 2 pages/);
  refused(
    [{ ...sections[0], payload: sections[0].payload.subarray(0, 6) }],
    /too short for RAM pages/,
  );
});
