// Which snapshot boards restore onto which: the ISA may have grown since the snapshot
// (its guest only knows what its device tree said), never shrunk or changed base.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isaCovers, sameBoard, shapeDifferences } from './boardShape.js';
import type { BoardShape } from '../../machine/board/virtState.js';
import { hartIsaString } from '../../machine/board/virtDeviceTree.js';

const OLD_ISA = 'rv64imafdc_zicntr_zicsr_zifencei_sstc_svnapot_svpbmt';

function shape(isa: string, memoryBytes = 16 << 20): BoardShape {
  return { machine: 'virt', isa, memoryBytes, harts: 1, virtio: [{ device: 'rng' }, null] };
}

test('a snapshot from a hart with fewer extensions restores onto this one', () => {
  assert.ok(isaCovers(OLD_ISA, hartIsaString()));
  assert.ok(sameBoard(shape(OLD_ISA), shape(hartIsaString())));
  assert.ok(sameBoard(shape(hartIsaString()), shape(hartIsaString())));
});

test('a snapshot whose hart had more, or another base, or a malformed ISA does not', () => {
  const here = hartIsaString();
  for (const saved of [
    `${here}_zbkb`,
    here.replace('rv64imafdc', 'rv64imafdch'),
    here.replace('rv64', 'rv32'),
    'rv64 imafdc',
    '',
  ]) {
    assert.equal(isaCovers(saved, here), false, saved);
    assert.equal(sameBoard(shape(saved), shape(here)), false, saved);
  }
  assert.equal(isaCovers(42, here), false);
});

test('the other parts of the shape still have to match, and differences are named', () => {
  assert.equal(sameBoard(shape(OLD_ISA, 32 << 20), shape(hartIsaString())), false);
  assert.deepEqual(shapeDifferences(shape(`${hartIsaString()}_zbkb`), shape(hartIsaString())), [
    `ISA: ${hartIsaString()}_zbkb in the snapshot, ${hartIsaString()} here`,
  ]);
});

test('the devices on PCI are part of the shape: another device or none there differs, a MAC does not', () => {
  const here = hartIsaString();
  const disk = { device: 'virtio-blk', disk: 0, bytes: 1 << 20, readOnly: false };
  const net = (mac: string) => ({ device: 'virtio-net', mac });
  const withPci = (pci?: BoardShape['pci']): BoardShape => ({ ...shape(here), pci });
  assert.ok(
    sameBoard(withPci([disk, net('52:54:00:00:00:01')]), withPci([disk, net('52:54:00:00:00:02')])),
  );
  assert.equal(sameBoard(withPci([disk]), withPci()), false);
  assert.deepEqual(shapeDifferences(withPci([disk]), withPci()), [
    'PCI device 1: virtio-blk (disk 0, 1048576 bytes) in the snapshot, nothing here',
  ]);
  assert.deepEqual(shapeDifferences(withPci(), withPci([net('52:54:00:00:00:01')])), [
    'PCI device 1: nothing in the snapshot, virtio-net here',
  ]);
});
