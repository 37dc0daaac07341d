// virtio-rng fills each writable buffer from its entropy source; a seeded
// source repeats exactly; counters are not saved state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertMutationsRefused, assertRoundTrip } from '../../../test/support/persistence.js';
import { Ram } from '../ram.js';
import { FakeLine } from '../devices/testIrq.js';
import { REG, VirtioMmio } from './mmio.js';
import { SeededEntropy, VIRTIO_ID_RNG, VirtioRng } from './rng.js';
import { TestDriver } from './virtioTestDriver.js';

function setup(source = new SeededEntropy(42n)) {
  const ram = new Ram(0x80000000, 2 << 20);
  const rng = new VirtioRng(source);
  const t = new VirtioMmio(ram, rng, new FakeLine(), () => {}, 'slot 0');
  const d = new TestDriver(ram, t);
  d.init([16]);
  return { rng, t, d };
}

test('identifies as an entropy device with one queue', () => {
  const { t } = setup();
  assert.equal(t.read(REG.deviceId, 4), VIRTIO_ID_RNG);
});

test('fills scattered writable buffers and reports the length', () => {
  const { d, rng } = setup();
  const [a, b] = d.submit(0, [{ writeLen: 100 }, { writeLen: 28 }]);
  assert.deepEqual(d.takeUsed(0), [{ id: 0, len: 128 }]);
  const bytes = [...d.bytes(a, 100), ...d.bytes(b, 28)];
  const expect = new Uint8Array(128);
  new SeededEntropy(42n).fill(expect);
  assert.deepEqual(bytes, [...expect]);
  assert.deepEqual(rng.counters, { requests: 1, bytes: 128 });
  const other = new VirtioRng(new SeededEntropy(1n));
  assert.deepEqual(assertRoundTrip(rng, other), {});
  assert.deepEqual(other.counters, { requests: 0, bytes: 0 }, 'counters are not state');
  assertMutationsRefused(other);
});

test('seeded sources repeat; different seeds differ', () => {
  const a = new Uint8Array(64);
  const b = new Uint8Array(64);
  const c = new Uint8Array(64);
  new SeededEntropy(7n).fill(a);
  new SeededEntropy(7n).fill(b);
  new SeededEntropy(8n).fill(c);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(new Set(a).size > 20, 'bytes look random');
});

test('a seeded source saves where its sequence is and goes on alike when restored', () => {
  const a = new SeededEntropy(5n);
  a.fill(new Uint8Array(24));
  const b = new SeededEntropy(99n);
  assertRoundTrip(a, b);
  const x = new Uint8Array(40);
  const y = new Uint8Array(40);
  a.fill(x);
  b.fill(y);
  assert.deepEqual(y, x);
  assertMutationsRefused(b);
});
