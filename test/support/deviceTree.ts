// Device trees for tests: decompiles a DTB with Debian's dtc (device-tree-compiler) into
// nodes and properties, with phandle numbers replaced by the paths they point at, so that two
// trees built in different orders compare; dumps QEMU's own virt tree
// (qemu-system-riscv64 -machine virt,dumpdtb=FILE); and lists the differences between two
// trees node by node and property by property.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Props = Map<string, string>;
export interface Tree {
  /** Node paths in document order. */
  order: string[];
  nodes: Map<string, Props>;
  /** dtc's warnings about the tree (without the file name), sorted. */
  warnings: string[];
}

/** Parses dtc's dts output (one statement per line). */
export function parseDts(text: string): Tree {
  const nodes = new Map<string, Props>();
  const order: string[] = [];
  const stack: string[] = [];
  const path = (): string => (stack.length <= 1 ? '/' : '/' + stack.slice(1).join('/'));
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

/** The numbers of a `<...>` cell list. */
export function cells(v: string): number[] {
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
    const im = props.get('interrupt-map');
    if (im !== undefined) {
      // PCI hosts here: 3 address cells, 1 interrupt cell, the parent (PLIC: no address
      // cells, 1 interrupt cell): 6 cells an entry, the 5th a phandle.
      const c = cells(im);
      const rows: string[] = [];
      for (let i = 0; i < c.length; i += 6) {
        rows.push([...c.slice(i, i + 4), ref(c[i + 4]), c[i + 5]].join(' '));
      }
      props.set('interrupt-map', `<${rows.join(', ')}>`);
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

/**
 * Decompiles `blob` with dtc. Warnings about nodes under `ignoreWarningsOf` (paths) are
 * dropped: nodes one tree has and the other has not on purpose.
 */
export function decompile(blob: Uint8Array, name: string, ignoreWarningsOf: string[] = []): Tree {
  const file = join(tmp(), name);
  writeFileSync(file, blob);
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`dtc failed: ${r.error?.message ?? r.stderr}`);
  const tree = normalisePhandles(parseDts(r.stdout));
  tree.warnings = r.stderr
    .split('\n')
    .filter((l) => l.includes('Warning'))
    .map((l) => l.replace(/^.*?Warning/, 'Warning'))
    .filter((l) => !ignoreWarningsOf.some((q) => l.includes(` ${q}:`) || l.includes(` ${q}/`)))
    .sort();
  return tree;
}

export interface QemuRun {
  harts: number;
  memoryMiB: number;
  bootargs?: string;
  initrdBytes?: number;
  /** More qemu-system-riscv64 arguments (devices: -device virtio-rng-device,...). */
  extra?: string[];
}

/**
 * QEMU 7.2's virt tree for `run`, with a hart like Berth's (-cpu rv64,h=false: no
 * hypervisor extension) and no firmware (-bios none).
 */
export function qemuTree(run: QemuRun, ignoreWarningsOf: string[] = []): Tree {
  const name = `qemu-${run.harts}-${run.memoryMiB}-${run.bootargs ? 'k' : 'n'}-${(run.extra ?? []).length}`;
  const out = join(tmp(), `${name}.dtb`);
  const args = ['-machine', `virt,dumpdtb=${out}`, '-cpu', 'rv64,h=false'];
  args.push('-m', `${run.memoryMiB}M`, '-smp', String(run.harts), '-nographic', '-bios', 'none');
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
  args.push(...(run.extra ?? []));
  execFileSync('qemu-system-riscv64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return decompile(readFileSync(out), `${name}.norm.dtb`, ignoreWarningsOf);
}

export interface Difference {
  path: string;
  prop?: string;
  /** The value in each tree; 'node' for a node only that tree has; absent: not there. */
  qemu?: string;
  berth?: string;
}

/**
 * Every difference between QEMU's tree and Berth's: nodes only one has (not looking inside a
 * node of `qemuOnly`, listed once), then properties that differ or only one node has.
 */
export function diffTrees(qemu: Tree, berth: Tree, qemuOnly: string[] = []): Difference[] {
  const out: Difference[] = [];
  for (const [path, qprops] of qemu.nodes) {
    const bprops = berth.nodes.get(path);
    if (!bprops) {
      if (!qemuOnly.some((q) => path === q || path.startsWith(q + '/')))
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
