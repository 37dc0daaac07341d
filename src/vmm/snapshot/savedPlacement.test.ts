// Where a saved board's devices sat, read from its shape: shapes written before the disks'
// numbers were recorded (disk 0 in the highest disk slot), shapes that record them, and
// shapes from a damaged file or a stranger.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BoardShape } from '../../machine/board/virtState.js';
import { placementOf, withDiskIndices } from './savedPlacement.js';
import { sameBoard, sameShape, shapeDifferences } from './boardShape.js';

const base = { machine: 'virt', isa: 'rv64', memoryBytes: 1 << 25, harts: 1 } as const;

/** The shape a Berth with fixed slots wrote: rng 0, console 1, net 2, button 3, disks from 7. */
const fixed: BoardShape = {
  ...base,
  virtio: [
    { device: 'virtio-rng' },
    { device: 'virtio-console' },
    { device: 'virtio-net', mac: '52:54:00:00:00:01' },
    { device: 'virtio-input' },
    null,
    null,
    { device: 'virtio-blk', bytes: 2 << 20, readOnly: true },
    { device: 'virtio-blk', bytes: 1 << 20, readOnly: false },
  ],
};

test('a shape without disk numbers: disk 0 sat in the highest disk slot, the others below', () => {
  assert.deepEqual(placementOf(fixed), {
    disks: [7, 6],
    rng: 0,
    console: 1,
    net: 2,
    powerButton: 3,
    balloonAt: 'none',
  });
  assert.deepEqual(
    withDiskIndices(fixed).virtio.map((s) => s?.disk),
    [undefined, undefined, undefined, undefined, undefined, undefined, 1, 0],
  );
});

test('a shape that records disk numbers is taken at its word', () => {
  const shape: BoardShape = {
    ...base,
    virtio: [
      { device: 'virtio-blk', disk: 0, bytes: 1 << 20, readOnly: false },
      null,
      null,
      null,
      null,
      { device: 'virtio-input' },
      { device: 'virtio-rng' },
      { device: 'virtio-blk', disk: 1, bytes: 2 << 20, readOnly: true },
    ],
  };
  assert.deepEqual(placementOf(shape), {
    disks: [0, 7],
    rng: 6,
    powerButton: 5,
    balloonAt: 'none',
  });
  // The same board written without the record would say otherwise: the record matters.
  const unrecorded = { ...shape, virtio: shape.virtio.map((s) => s && { ...s, disk: undefined }) };
  assert.deepEqual(placementOf(unrecorded).disks, [7, 0]);
  assert.equal(sameShape(shape, unrecorded), false);
});

test('the comparisons take an old shape as the same board as a new one of the same placement', () => {
  const recorded = withDiskIndices(fixed);
  assert.equal(sameBoard(fixed, recorded), true);
  assert.equal(sameShape(fixed, recorded), true);
  const swapped = {
    ...recorded,
    virtio: recorded.virtio.map((s) => (s?.disk === undefined ? s : { ...s, disk: 1 - s.disk })),
  };
  assert.equal(sameBoard(fixed, swapped), false);
  assert.deepEqual(shapeDifferences(fixed, swapped), [
    'virtio slot 6: virtio-blk (disk 1, 2097152 bytes, read-only) in the snapshot, virtio-blk (disk 0, 2097152 bytes, read-only) here',
    'virtio slot 7: virtio-blk (disk 0, 1048576 bytes) in the snapshot, virtio-blk (disk 1, 1048576 bytes) here',
  ]);
});

test('a damaged or strange shape places nothing it cannot make out', () => {
  for (const junk of [null, 7, 'x', {}, { virtio: 'no' }, { virtio: [1, [], 'a'] }]) {
    assert.deepEqual(placementOf(junk), { disks: [], balloonAt: 'none' });
  }
  // Two network cards: neither is taken; disk numbers that clash: derived instead.
  const odd = {
    virtio: [
      { device: 'virtio-net' },
      { device: 'virtio-net' },
      { device: 'virtio-blk', disk: 0 },
      { device: 'virtio-blk', disk: 0 },
      { device: 'virtio-rng' },
      { device: 'toString' },
    ],
  };
  assert.deepEqual(placementOf(odd), { disks: [3, 2], rng: 4, balloonAt: 'none' });
});

test('disks on PCI count among the disks: the slots keep the numbers they recorded', () => {
  const shape: BoardShape = {
    ...base,
    virtio: [
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      { device: 'virtio-blk', disk: 1, bytes: 512 },
    ],
    pci: [{ device: 'virtio-blk', disk: 0, bytes: 1024 }],
  };
  const { disks, balloonAt } = placementOf(shape);
  assert.equal(disks[1], 7);
  assert.equal(balloonAt, 'none');
  const withBalloon = { ...shape, pci: [...shape.pci!, { device: 'virtio-balloon' }] };
  assert.equal(placementOf(withBalloon).balloonAt, 'pci');
  const inSlot = {
    ...shape,
    virtio: shape.virtio.map((s, i) => (i === 2 ? { device: 'virtio-balloon' } : s)),
  };
  assert.deepEqual([placementOf(inSlot).balloon, placementOf(inSlot).balloonAt], [2, 'mmio']);
  assert.equal(disks[0], undefined, 'disk 0 sat on PCI, in no slot');
  assert.equal(withDiskIndices(shape).virtio[7]?.disk, 1);
});
