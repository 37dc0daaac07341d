// The virt device tree against QEMU's: both blobs are decompiled with Debian's
// dtc and compared node by node and property by property, with phandle
// numbers replaced by the paths they point at. Every difference must be one
// of the intended ones listed below.
//
// Intended differences from QEMU 7.2's virt (Debian's qemu-system-misc):
// - QEMU-only nodes: /pmu (SBI PMU event map; Berth has no HPM counters),
//   /fw-cfg, /flash, /platform-bus, /soc/pci (devices Berth does not have).
// - / model: "riscv-virtio,berth" instead of "riscv-virtio,qemu".
// - cpu riscv,isa: what the Berth hart implements (QEMU's
//   rv64imafdch_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc without H,
//   with Zicntr, Svnapot, Svpbmt); riscv,isa-base and riscv,isa-extensions
//   are there too (newer QEMU versions have them; 7.2 does not).
// - plic riscv,ndev: 95, the highest source id (QEMU 7.2 says 96, one past
//   its last source).
// - /chosen rng-seed: QEMU fills it with random bytes; Berth only on request.
// - /chosen linux,initrd-start/-end: 64-bit (two cells) in Berth, one cell in
//   QEMU 7.2; the values are the same.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildVirtDeviceTree,
  DeviceTreeError,
  hartIsaString,
  virtDeviceTree,
  virtFdtAddress,
  type VirtDeviceTreeConfig,
} from './virtDeviceTree.js';

type Props = Map<string, string>;
interface Tree {
  /** Node paths in document order. */
  order: string[];
  nodes: Map<string, Props>;
  /** dtc's warnings about the tree (without the file name). */
  warnings: string[];
}

const MiB = 1 << 20;
const QEMU_ONLY_NODES = [
  '/pmu',
  '/fw-cfg@10100000',
  '/flash@20000000',
  '/platform-bus@4000000',
  '/soc/pci@30000000',
];

/** Parses dtc's dts output (one statement per line). */
function parseDts(text: string): Tree {
  const nodes = new Map<string, Props>();
  const order: string[] = [];
  const stack: string[] = [];
  const path = (): string => (stack.length <= 1 ? '/' : stack.slice(1).join('/').replace(/^/, '/'));
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('/dts-v1/') || line.startsWith('/memreserve/')) continue;
    const open = /^(\S+) \{$/.exec(line);
    if (open) {
      stack.push(open[1]);
      const p = path();
      nodes.set(p, new Map());
      order.push(p);
      continue;
    }
    if (line === '};') {
      stack.pop();
      continue;
    }
    const prop = /^([^=\s]+)(?: = (.*))?;$/.exec(line);
    assert.ok(prop, `unexpected dts line: ${line}`);
    nodes.get(path())!.set(prop[1], prop[2] ?? '');
  }
  return { nodes, order, warnings: [] };
}

function cells(v: string): number[] {
  const m = /^<(.*)>$/.exec(v);
  assert.ok(m, `not a cell list: ${v}`);
  return m[1]
    .split(' ')
    .filter(Boolean)
    .map((c) => Number(c));
}

/** Replaces phandle numbers by the path of the node they name. */
function normalisePhandles(t: Tree): Tree {
  const byPhandle = new Map<number, string>();
  for (const [p, props] of t.nodes) {
    const ph = props.get('phandle');
    if (ph !== undefined) byPhandle.set(cells(ph)[0], p);
  }
  const ref = (n: number): string => `&{${byPhandle.get(n) ?? `?${n}`}}`;
  for (const props of t.nodes.values()) {
    if (props.has('phandle')) props.set('phandle', '<PHANDLE>');
    for (const name of ['interrupt-parent', 'regmap', 'cpu']) {
      const v = props.get(name);
      if (v !== undefined) props.set(name, `<${cells(v).map(ref).join(' ')}>`);
    }
    const ie = props.get('interrupts-extended');
    if (ie !== undefined) {
      // Every interrupt parent here (cpu-intc) has #interrupt-cells = 1: pairs.
      const c = cells(ie);
      const parts: string[] = [];
      for (let i = 0; i < c.length; i += 2) parts.push(`${ref(c[i])} ${c[i + 1]}`);
      props.set('interrupts-extended', `<${parts.join(', ')}>`);
    }
  }
  return t;
}

let dir: string | null = null;
function tmp(): string {
  if (dir === null) dir = mkdtempSync(join(tmpdir(), 'berth-dt-'));
  return dir;
}
process.on('exit', () => {
  if (dir !== null) rmSync(dir, { recursive: true, force: true });
});

function decompile(blob: Uint8Array, name: string): Tree {
  const file = join(tmp(), name);
  writeFileSync(file, blob);
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`dtc failed: ${r.error?.message ?? r.stderr}`);
  const tree = normalisePhandles(parseDts(r.stdout));
  tree.warnings = r.stderr
    .split('\n')
    .filter((l) => l.includes('Warning'))
    .map((l) => l.replace(/^.*?Warning/, 'Warning'))
    .filter((l) => !QEMU_ONLY_NODES.some((q) => l.includes(` ${q}:`) || l.includes(` ${q}/`)))
    .sort();
  return tree;
}

interface QemuRun {
  harts: number;
  memoryMiB: number;
  bootargs?: string;
  initrdBytes?: number;
}

function qemuTree(run: QemuRun): Tree {
  const name = `qemu-${run.harts}-${run.memoryMiB}-${run.bootargs ? 'k' : 'n'}`;
  const out = join(tmp(), `${name}.dtb`);
  const args = ['-M', `virt,dumpdtb=${out}`, '-m', `${run.memoryMiB}M`, '-smp', String(run.harts)];
  args.push('-nographic', '-bios', 'none');
  if (run.bootargs !== undefined) {
    // Any file will do as a "kernel": QEMU only places it.
    const kernel = join(tmp(), 'kernel.bin');
    writeFileSync(kernel, new Uint8Array(4096));
    args.push('-kernel', kernel, '-append', run.bootargs);
    if (run.initrdBytes) {
      const initrd = join(tmp(), 'initrd.bin');
      writeFileSync(initrd, new Uint8Array(run.initrdBytes));
      args.push('-initrd', initrd);
    }
  }
  execFileSync('qemu-system-riscv64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return decompile(readFileSync(out), `${name}.norm.dtb`);
}

interface Difference {
  path: string;
  prop?: string;
  qemu?: string;
  berth?: string;
}

function diffTrees(qemu: Tree, berth: Tree): Difference[] {
  const out: Difference[] = [];
  for (const [path, qprops] of qemu.nodes) {
    const bprops = berth.nodes.get(path);
    if (!bprops) {
      if (!QEMU_ONLY_NODES.some((q) => path === q || path.startsWith(q + '/')))
        out.push({ path, qemu: 'node' });
      continue;
    }
    for (const [prop, qv] of qprops) {
      const bv = bprops.get(prop);
      if (bv !== qv) out.push({ path, prop, qemu: qv, berth: bv });
    }
    for (const [prop, bv] of bprops) if (!qprops.has(prop)) out.push({ path, prop, berth: bv });
  }
  for (const path of berth.nodes.keys())
    if (!qemu.nodes.has(path)) out.push({ path, berth: 'node' });
  return out;
}

/** Sorts differences into the intended ones (checking each) and the rest. */
/** The extensions a quoted riscv,isa string names: single letters and the _-separated rest. */
function isaExtensions(isa: string): string[] {
  const [base, ...multi] = isa.replace(/"/g, '').split('_');
  return [...base.slice(4), ...multi];
}

function classify(diffs: Difference[]): { intended: string[]; unexpected: Difference[] } {
  const cpuPath = /^\/cpus\/cpu@[0-9a-f]+$/;
  const intended = new Set<string>();
  const rest = diffs.filter((d) => {
    const label = `${d.path.replace(/@[0-9a-f]+$/, '@N')} ${d.prop}`;
    if (d.path === '/' && d.prop === 'model') {
      assert.equal(d.berth, '"riscv-virtio,berth"');
    } else if (cpuPath.test(d.path) && d.prop === 'riscv,isa') {
      assert.equal(d.berth, `"${hartIsaString()}"`);
      // QEMU's extensions without H, plus the ones Berth names that QEMU 7.2 does not.
      const want = new Set(isaExtensions(d.qemu ?? ''));
      want.delete('h');
      for (const e of ['zicntr', 'svnapot', 'svpbmt']) want.add(e);
      assert.deepEqual(isaExtensions(d.berth ?? '').sort(), [...want].sort());
    } else if (
      cpuPath.test(d.path) &&
      (d.prop === 'riscv,isa-base' || d.prop === 'riscv,isa-extensions')
    ) {
      assert.equal(d.qemu, undefined);
    } else if (d.path === '/soc/plic@c000000' && d.prop === 'riscv,ndev') {
      assert.equal(d.berth, '<0x5f>');
    } else if (d.path === '/chosen' && d.prop === 'rng-seed') {
      assert.equal(d.berth, undefined);
    } else if (
      d.path === '/chosen' &&
      (d.prop === 'linux,initrd-start' || d.prop === 'linux,initrd-end')
    ) {
      const q = cells(d.qemu!);
      const b = cells(d.berth!);
      assert.equal(b.length, 2);
      assert.equal(b[0] * 2 ** 32 + b[1], q.length === 1 ? q[0] : q[0] * 2 ** 32 + q[1]);
    } else {
      return true;
    }
    intended.add(label);
    return false;
  });
  return { intended: [...intended].sort(), unexpected: rest };
}

const ALWAYS_INTENDED = [
  '/ model',
  '/cpus/cpu@N riscv,isa',
  '/cpus/cpu@N riscv,isa-base',
  '/cpus/cpu@N riscv,isa-extensions',
  '/chosen rng-seed',
  '/soc/plic@N riscv,ndev',
].sort();

function compareWithQemu(run: QemuRun, cfg: VirtDeviceTreeConfig): { qemu: Tree; berth: Tree } {
  const qemu = qemuTree(run);
  const berth = decompile(buildVirtDeviceTree(cfg), `berth-${run.harts}.dtb`);
  const { intended, unexpected } = classify(diffTrees(qemu, berth));
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
  const qemu = qemuTree({
    harts: 2,
    memoryMiB: 256,
    bootargs: 'console=ttyS0 root=/dev/vda',
    initrdBytes: 1000,
  });
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
  const { intended, unexpected } = classify(diffTrees(qemu, berth));
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
