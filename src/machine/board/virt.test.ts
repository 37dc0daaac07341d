// The virt board places virtio disks from the highest slot down (the first
// disk is the one Linux probes first, vda) and leaves the other slots empty.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtBoard, BoardError } from './virt.js';
import { VIRT } from './memoryMap.js';
import { MemoryBlockBackend } from '../virtio/blockBackend.js';

function board(disks: { backend: MemoryBlockBackend; serial?: string }[]): VirtBoard {
  return new VirtBoard({
    memoryBytes: 32 << 20,
    clock: { now: () => 0 },
    wallClock: () => 0n,
    console: { write: () => {} },
    firmware: new Uint8Array(64),
    disks,
  });
}

const slotReg = (b: VirtBoard, slot: number, reg: number): number =>
  b.bus.readDevice(VIRT.virtio.base + slot * VIRT.virtio.stride + reg, 4);

test('disks fill virtio slots 7, 6, ...; the rest answer as empty slots', () => {
  const b = board([
    { backend: new MemoryBlockBackend(1 << 20), serial: 'first' },
    { backend: new MemoryBlockBackend(2 << 20) },
  ]);
  assert.equal(b.disks.length, 2);
  assert.equal(slotReg(b, 7, 0x008), 2);
  assert.equal(slotReg(b, 7, 0x100), (1 << 20) / 512);
  assert.equal(slotReg(b, 6, 0x008), 2);
  assert.equal(slotReg(b, 6, 0x100), (2 << 20) / 512);
  for (let s = 0; s < 6; s++) {
    assert.equal(slotReg(b, s, 0x000), 0x74726976);
    assert.equal(slotReg(b, s, 0x008), 0);
    assert.equal(b.virtio[s], null);
  }
  assert.equal(b.virtio[7]?.device, b.disks[0]);
});

test('more disks than virtio slots are refused', () => {
  const many = Array.from({ length: 9 }, () => ({ backend: new MemoryBlockBackend(512) }));
  assert.throws(() => board(many), BoardError);
});
