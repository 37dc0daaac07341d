// virtio-balloon's free page reporting: reported ranges go to the RAM's discarder (whole pages
// only) and read as zero after; the dirty log and decoded code hear of it; without a discarder
// nothing changes but the buffers still come back. Inflated page numbers are given back alike.
// The configuration space and the saved state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertMutationsRefused, assertRoundTrip } from '../../../test/support/persistence.js';
import { Ram } from '../ram.js';
import { FakeLine } from '../devices/testIrq.js';
import { REG, VirtioMmio } from './mmio.js';
import {
  BALLOON_DEFLATEQ,
  BALLOON_INFLATEQ,
  BALLOON_REPORTQ,
  VIRTIO_BALLOON_F_REPORTING,
  VIRTIO_ID_BALLOON,
  VirtioBalloon,
} from './balloon.js';
import { TestDriver } from './virtioTestDriver.js';

const BASE = 0x80000000;
const PAGE = 4096;

function setup(discarder: Ram['discarder'] = null) {
  const ram = new Ram(BASE, 4 << 20);
  const given: [number, number][] = [];
  ram.discarder =
    discarder ??
    ((view) => {
      given.push([view.byteOffset - ram.u8.byteOffset, view.length]);
      view.fill(0);
      return true;
    });
  const balloon = new VirtioBalloon();
  const t = new VirtioMmio(ram, balloon, new FakeLine(), () => {}, 'slot 0');
  const d = new TestDriver(ram, t);
  d.init([16, 16, 16]);
  return { ram, balloon, t, d, given };
}

test('identifies as a balloon offering free page reporting, with a target of 0 pages', () => {
  const { t, balloon } = setup();
  assert.equal(t.read(REG.deviceId, 4), VIRTIO_ID_BALLOON);
  assert.equal(balloon.features, 1n << VIRTIO_BALLOON_F_REPORTING);
  assert.equal(t.read(REG.config, 4), 0, 'num_pages');
  t.write(REG.config, 4, 1234);
  assert.equal(t.read(REG.config, 4), 0, 'num_pages is not the driver to write');
  t.write(REG.config + 4, 4, 0x01020304);
  assert.equal(t.read(REG.config + 4, 4), 0x01020304, 'actual');
  assert.equal(t.read(REG.config + 5, 1), 0x03);
  t.write(REG.config + 6, 2, 0xaabb);
  assert.equal(t.read(REG.config + 4, 4), 0xaabb0304);
});

test('reported ranges are given back, whole pages only, and read as zero after', () => {
  const { ram, balloon, d, given } = setup();
  // Code decoded on a page that is then reported free must be forgotten.
  const [a] = d.submit(BALLOON_REPORTQ, [{ writeLen: 4 * PAGE, align: PAGE }], {
    notify: false,
  });
  const code = ram.codePage((a - BASE) / PAGE + 1);
  code[0] = 7;
  ram.takeDirtyPages();
  const [b] = d.submit(BALLOON_REPORTQ, [{ writeLen: 2 * PAGE + 100, align: PAGE }], {
    notify: false,
  });
  const [c] = d.submit(BALLOON_REPORTQ, [{ writeLen: PAGE - 8, align: PAGE }]);
  assert.deepEqual(
    d.takeUsed(BALLOON_REPORTQ).map((u) => u.len),
    [0, 0, 0],
    'every buffer comes back, nothing written',
  );
  const off = (pa: number): number => pa - BASE;
  assert.deepEqual(given, [
    [off(a), 4 * PAGE],
    [off(b), 2 * PAGE],
  ]);
  assert.ok(ram.u8.subarray(off(a), off(a) + 4 * PAGE).every((x) => x === 0));
  assert.equal(ram.u8[off(b) + 2 * PAGE], 0xee, 'the part page after a range keeps its bytes');
  assert.equal(ram.u8[off(c)], 0xee, 'a range of no whole page is left alone');
  assert.notEqual(ram.codePage((a - BASE) / PAGE + 1)[0], 7, 'decoded code is forgotten');
  const dirty = ram.takeDirtyPages();
  for (let p = off(b) / PAGE; p < off(b) / PAGE + 2; p++) assert.ok(dirty.includes(p));
  assert.deepEqual(balloon.counters, {
    reports: 3,
    reportedBytes: 4 * PAGE + 2 * PAGE + 100 + PAGE - 8,
    discardedBytes: 6 * PAGE,
  });
});

test('without a way to give pages back, reports change nothing and still come back', () => {
  const { ram, balloon, d } = setup(() => false);
  const [a] = d.submit(BALLOON_REPORTQ, [{ writeLen: 2 * PAGE, align: PAGE }]);
  assert.deepEqual(d.takeUsed(BALLOON_REPORTQ), [{ id: 0, len: 0 }]);
  assert.equal(ram.u8[a - BASE], 0xee);
  assert.equal(balloon.counters.discardedBytes, 0);
});

test('inflated pages are given back; deflating needs nothing; pages outside RAM are skipped', () => {
  const { ram, d, given } = setup();
  const target = d.alloc(2 * PAGE, PAGE);
  ram.u8.fill(0x55, target - BASE, target - BASE + 2 * PAGE);
  const pfns = new Uint8Array(12);
  const v = new DataView(pfns.buffer);
  v.setUint32(0, target / PAGE + 1, true);
  v.setUint32(4, 0xfffff, true); // far past RAM's end
  v.setUint32(8, target / PAGE, true);
  d.submit(BALLOON_INFLATEQ, [{ data: pfns }]);
  assert.equal(d.takeUsed(BALLOON_INFLATEQ).length, 1);
  assert.deepEqual(given, [
    [target - BASE + PAGE, PAGE],
    [target - BASE, PAGE],
  ]);
  assert.equal(ram.u8[target - BASE], 0);
  d.submit(BALLOON_DEFLATEQ, [{ data: pfns }]);
  assert.equal(d.takeUsed(BALLOON_DEFLATEQ).length, 1);
  assert.equal(given.length, 2);
});

test('saves the driver-written actual; bad states are refused', () => {
  const a = new VirtioBalloon();
  a.configWrite(4, 4, 300);
  const b = new VirtioBalloon();
  assertRoundTrip(a, b);
  assert.equal(b.configRead(4, 4), 300);
  assertMutationsRefused(b);
  b.reset();
  assert.equal(b.configRead(4, 4), 0);
});
