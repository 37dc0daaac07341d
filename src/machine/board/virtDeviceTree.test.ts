// The virt device tree against QEMU's: both blobs are decompiled with Debian's
// dtc and compared node by node and property by property, with phandle
// numbers replaced by the paths they point at (test/support/deviceTree.ts).
// Every difference must be one of the intended ones, listed and checked in
// test/support/qemuVirtDifferences.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cells,
  decompile,
  diffTrees,
  qemuTree,
  type QemuRun,
  type Tree,
} from '../../../test/support/deviceTree.js';
import {
  ALWAYS_INTENDED,
  classify,
  QEMU_ONLY_NODES,
} from '../../../test/support/qemuVirtDifferences.js';
import {
  buildVirtDeviceTree,
  DeviceTreeError,
  virtDeviceTree,
  virtFdtAddress,
  type VirtDeviceTreeConfig,
} from './virtDeviceTree.js';

const MiB = 1 << 20;

function compareWithQemu(run: QemuRun, cfg: VirtDeviceTreeConfig): { qemu: Tree; berth: Tree } {
  const qemu = qemuTree(run, QEMU_ONLY_NODES);
  const berth = decompile(buildVirtDeviceTree(cfg), `berth-${run.harts}.dtb`);
  const { intended, unexpected } = classify(diffTrees(qemu, berth, QEMU_ONLY_NODES));
  assert.deepEqual(unexpected, []);
  assert.deepEqual(intended, ALWAYS_INTENDED);
  // dtc's checks find nothing in our tree that they do not find in QEMU's.
  assert.deepEqual(berth.warnings, qemu.warnings);
  return { qemu, berth };
}

test('one hart, 256 MiB: the same tree as QEMU virt but for the intended differences', () => {
  const { qemu, berth } = compareWithQemu(
    { harts: 1, memoryMiB: 256 },
    { harts: 1, memoryBytes: 256 * MiB },
  );
  // The QEMU-only nodes really are in QEMU's tree (the list is not stale).
  for (const q of QEMU_ONLY_NODES) assert.ok(qemu.nodes.has(q), `QEMU has ${q}`);
  // Same order of the soc devices we share, virtio slots highest first
  // (Linux probes in tree order, so this decides which disk is vda).
  const socOrder = (t: Tree): string[] =>
    t.order.filter((p) => /^\/soc\/[^/]+$/.test(p) && !QEMU_ONLY_NODES.includes(p));
  assert.deepEqual(socOrder(berth), socOrder(qemu));
  const cpu = berth.nodes.get('/cpus/cpu@0')!;
  assert.equal(cpu.get('mmu-type'), '"riscv,sv48"');
  assert.equal(
    cpu.get('riscv,isa'),
    '"rv64imafdc_zicntr_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc_svnapot_svpbmt"',
  );
  assert.equal(cpu.get('riscv,isa-base'), '"rv64i"');
  assert.equal(
    cpu.get('riscv,isa-extensions'),
    '"i\\0m\\0a\\0f\\0d\\0c\\0zicntr\\0zicsr\\0zifencei\\0zihintpause\\0zba\\0zbb\\0zbc\\0zbs\\0sstc\\0svnapot\\0svpbmt"',
  );
});

test('four harts: cpus, cpu-map and the CLINT/PLIC interrupts-extended lists match QEMU', () => {
  const { berth } = compareWithQemu(
    { harts: 4, memoryMiB: 512 },
    { harts: 4, memoryBytes: 512 * MiB },
  );
  const intc = (h: number): string => `&{/cpus/cpu@${h}/interrupt-controller}`;
  const all = (a: number, b: number): string =>
    [0, 1, 2, 3].map((h) => `${intc(h)} ${a}, ${intc(h)} ${b}`).join(', ');
  assert.equal(berth.nodes.get('/soc/clint@2000000')!.get('interrupts-extended'), `<${all(3, 7)}>`);
  assert.equal(berth.nodes.get('/soc/plic@c000000')!.get('interrupts-extended'), `<${all(11, 9)}>`);
  assert.equal(berth.nodes.get('/cpus/cpu-map/cluster0/core3')!.get('cpu'), '<&{/cpus/cpu@3}>');
});

test('kernel command line and initrd in /chosen, as QEMU -append/-initrd puts them', () => {
  const qemu = qemuTree(
    { harts: 2, memoryMiB: 256, bootargs: 'console=ttyS0 root=/dev/vda', initrdBytes: 1000 },
    QEMU_ONLY_NODES,
  );
  const chosen = qemu.nodes.get('/chosen')!;
  const start = cells(chosen.get('linux,initrd-start')!)[0];
  const end = cells(chosen.get('linux,initrd-end')!)[0];
  assert.equal(end - start, 1000);
  const berth = decompile(
    buildVirtDeviceTree({
      harts: 2,
      memoryBytes: 256 * MiB,
      bootargs: 'console=ttyS0 root=/dev/vda',
      initrd: { start, end },
    }),
    'berth-chosen.dtb',
  );
  const { intended, unexpected } = classify(diffTrees(qemu, berth, QEMU_ONLY_NODES));
  assert.deepEqual(unexpected, []);
  assert.deepEqual(
    intended,
    [...ALWAYS_INTENDED, '/chosen linux,initrd-end', '/chosen linux,initrd-start'].sort(),
  );
  assert.equal(berth.nodes.get('/chosen')!.get('bootargs'), '"console=ttyS0 root=/dev/vda"');
});

test('options: rng-seed, stdout-path, mmu-type, fewer virtio slots', () => {
  const t = decompile(
    buildVirtDeviceTree({
      harts: 1,
      memoryBytes: 64 * MiB,
      rngSeed: new Uint8Array([1, 2, 3, 4]),
      stdoutPath: '/soc/virtio_mmio@10001000',
      mmuType: 'sv39',
      virtioSlots: 2,
    }),
    'berth-options.dtb',
  );
  assert.equal(t.nodes.get('/chosen')!.get('rng-seed'), '<0x1020304>');
  assert.equal(t.nodes.get('/chosen')!.get('stdout-path'), '"/soc/virtio_mmio@10001000"');
  assert.equal(t.nodes.get('/chosen')!.has('bootargs'), false);
  assert.equal(t.nodes.get('/cpus/cpu@0')!.get('mmu-type'), '"riscv,sv39"');
  assert.deepEqual(
    t.order.filter((p) => p.includes('virtio_mmio')),
    ['/soc/virtio_mmio@10002000', '/soc/virtio_mmio@10001000'],
  );
  assert.equal(t.nodes.get('/memory@80000000')!.get('reg'), '<0x00 0x80000000 0x00 0x4000000>');
});

test('vmgenid: a microsoft,vmgenid node with the 16-byte ID and PLIC source 12, nothing else changed', () => {
  const plain = decompile(buildVirtDeviceTree({ harts: 1, memoryBytes: 256 * MiB }), 'plain.dtb');
  const t = decompile(
    buildVirtDeviceTree({ harts: 1, memoryBytes: 256 * MiB, vmgenid: true }),
    'berth-vmgenid.dtb',
  );
  const node = t.nodes.get('/soc/rng@10200000')!;
  assert.equal(node.get('compatible'), '"microsoft,vmgenid"');
  assert.equal(node.get('reg'), '<0x00 0x10200000 0x00 0x10>');
  assert.equal(node.get('interrupts'), '<0x0c>');
  assert.equal(node.get('interrupt-parent'), '<&{/soc/plic@c000000}>');
  assert.equal(node.size, 4);
  assert.deepEqual(
    t.order.filter((p) => p !== '/soc/rng@10200000'),
    plain.order,
    'the other nodes are as before',
  );
  for (const [p, props] of plain.nodes) assert.deepEqual(t.nodes.get(p), props, p);
  assert.deepEqual(t.warnings, plain.warnings, 'dtc finds nothing new to warn about');
});

test('blob is padded for in-place edits; bad configurations are refused', () => {
  assert.equal(buildVirtDeviceTree({ harts: 1, memoryBytes: 64 * MiB }).length, 0x10000);
  assert.ok(
    buildVirtDeviceTree({ harts: 1, memoryBytes: 64 * MiB }, { minSize: 0 }).length < 0x10000,
  );
  assert.throws(() => virtDeviceTree({ harts: 0, memoryBytes: MiB }), DeviceTreeError);
  assert.throws(() => virtDeviceTree({ harts: 1, memoryBytes: 0 }), DeviceTreeError);
  assert.throws(
    () => virtDeviceTree({ harts: 1, memoryBytes: MiB, virtioSlots: 9 }),
    DeviceTreeError,
  );
  assert.throws(
    () => virtDeviceTree({ harts: 1, memoryBytes: MiB, initrd: { start: 10, end: 5 } }),
    DeviceTreeError,
  );
});

test('virtFdtAddress places the tree like QEMU: 2 MiB aligned below min(RAM end, 3 GiB)', () => {
  assert.equal(virtFdtAddress(0x80000000, 256 * MiB, 0x10000), 0x8fe00000);
  assert.equal(virtFdtAddress(0x80000000, 4096 * MiB, 0x10000), 0xbfe00000);
  assert.throws(() => virtFdtAddress(0x80000000, MiB, 2 * MiB), DeviceTreeError);
});
