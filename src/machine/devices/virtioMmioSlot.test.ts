// An empty virtio-mmio slot identifies itself as a version-2 transport with no device.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmptyVirtioSlot, VIRTIO_MMIO_MAGIC } from './virtioMmioSlot.js';

test('empty slot reads magic, version 2 and device ID 0; writes change nothing', () => {
  const s = new EmptyVirtioSlot();
  assert.equal(s.read(0, 4), VIRTIO_MMIO_MAGIC);
  assert.equal(s.read(4, 4), 2);
  s.write();
  assert.equal(s.read(8, 4), 0);
  assert.equal(s.read(0x70, 4), 0);
});
