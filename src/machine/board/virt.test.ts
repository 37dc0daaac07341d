// The virt board places virtio disks in the free slots from the highest down
// (the first disk is the one Linux probes first, vda), the power button in
// slot 3, and leaves the other slots empty.

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

function boardWith(cfg: Partial<ConstructorParameters<typeof VirtBoard>[0]>): VirtBoard {
  return new VirtBoard({
    memoryBytes: 32 << 20,
    clock: { now: () => 0 },
    wallClock: () => 0n,
    console: { write: () => {} },
    firmware: new Uint8Array(64),
    ...cfg,
  });
}

test('the power button sits in slot 3; disks take the free slots from the top', () => {
  const disks = Array.from({ length: 5 }, (_, i) => ({
    backend: new MemoryBlockBackend((i + 1) << 20),
  }));
  const b = boardWith({
    disks,
    rng: { fill: () => {} },
    hvc: { out: { write: () => {} }, input: { pending: () => 0, take: () => [] } },
    input: {},
  });
  assert.equal(slotReg(b, 0, 0x008), 4);
  assert.equal(slotReg(b, 1, 0x008), 3);
  assert.equal(slotReg(b, 3, 0x008), 18);
  assert.equal(b.virtio[3]?.device, b.input);
  // Disks 0..4 in slots 7, 6, 5, 4 and 2 (slot 3 is the button's, 2 is free without net).
  [7, 6, 5, 4, 2].forEach((slot, n) => {
    assert.equal(slotReg(b, slot, 0x008), 2, `slot ${slot}`);
    assert.equal(slotReg(b, slot, 0x100), ((n + 1) << 20) / 512, `slot ${slot}`);
  });
  assert.equal(b.pressPowerButton(), true);
  assert.equal(b.input?.pending, 4, 'held until the guest driver gives buffers');
});

test('a board without the input device has no power button; a full board is refused', () => {
  assert.equal(boardWith({}).pressPowerButton(), false);
  assert.equal(boardWith({}).virtio[3], null);
  const disks = (n: number) =>
    Array.from({ length: n }, () => ({ backend: new MemoryBlockBackend(512) }));
  assert.doesNotThrow(() => boardWith({ disks: disks(7), input: {} }));
  const hvc = { out: { write: () => {} }, input: { pending: () => 0, take: () => [] } };
  assert.throws(
    () => boardWith({ disks: disks(6), input: {}, rng: { fill: () => {} }, hvc }),
    /8 virtio slots; 6 disks and 3 other devices do not fit/,
  );
});
