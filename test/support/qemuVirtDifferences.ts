// The intended differences between Berth's virt device tree and QEMU 7.2's
// (Debian's qemu-system-misc, run with -cpu rv64,h=false, a hart without the
// hypervisor extension like Berth's), each checked, for the tests that
// compare the two (src/machine/board/virtDeviceTree.test.ts, virtBoardTree.test.ts):
//
// - QEMU-only nodes: /fw-cfg, /platform-bus (devices Berth does not have).
//   The PCIe host bridge /soc/pci@30000000 is the same in both, property by
//   property (interrupt-map's PLIC phandle compared as the path it names).
// - / model: "riscv-virtio,berth" instead of "riscv-virtio,qemu".
// - cpu riscv,isa: what the Berth hart implements (QEMU's
//   rv64imafdch_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc without H,
//   with Zicntr, Svnapot, Svpbmt); riscv,isa-base and riscv,isa-extensions
//   are there too (newer QEMU versions have them; 7.2 does not).
// - /pmu riscv,event-to-mhpmcounters: only the rows of the counters Berth's
//   hart has (cycles on mcycle, instructions on minstret); QEMU maps them and
//   three cache events to its 16 programmable counters as well.
// - plic riscv,ndev: 95, the highest source id (QEMU 7.2 says 96, one past
//   its last source).
// - /chosen rng-seed: QEMU fills it with 32 random bytes at every boot; the
//   board does too (another value), the tree builder only on request.
// - /chosen linux,initrd-start/-end: 64-bit (two cells) in Berth, one cell in
//   QEMU 7.2; the values are the same.
// - Berth-only: /soc/rng@10200000, the VM generation ID (microsoft,vmgenid),
//   which the board always has (BERTH_ONLY_NODES; the tree builder on request).

import assert from 'node:assert/strict';
import { hartIsaString, PMU_EVENT_COUNTERS } from '../../src/machine/board/virtDeviceTree.js';
import { cells, type Difference } from './deviceTree.js';

export const QEMU_ONLY_NODES = ['/fw-cfg@10100000', '/platform-bus@4000000'];
export const BERTH_ONLY_NODES = ['/soc/rng@10200000'];

/** The extensions a quoted riscv,isa string names: single letters and the _-separated rest. */
function isaExtensions(isa: string): string[] {
  const [base, ...multi] = isa.replace(/"/g, '').split('_');
  return [...base.slice(4), ...multi];
}

/** Sorts differences into the intended ones (checking each) and the rest. */
export function classify(diffs: Difference[]): { intended: string[]; unexpected: Difference[] } {
  const cpuPath = /^\/cpus\/cpu@[0-9a-f]+$/;
  const intended = new Set<string>();
  const rest = diffs.filter((d) => {
    const label = `${d.path.replace(/@[0-9a-f]+$/, '@N')} ${d.prop ?? 'node'}`;
    if (BERTH_ONLY_NODES.includes(d.path) && d.berth === 'node') {
      // Checked where it is built (virtDeviceTree.test.ts).
    } else if (d.path === '/' && d.prop === 'model') {
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
      // Random in QEMU: 32 bytes; Berth's are random too (another value) or absent.
      assert.equal(cells(d.qemu!).length, 8);
      if (d.berth !== undefined) assert.equal(cells(d.berth).length, 8);
    } else if (d.path === '/pmu' && d.prop === 'riscv,event-to-mhpmcounters') {
      const rows = (v: string): number[][] => {
        const c = cells(v);
        const out: number[][] = [];
        for (let i = 0; i < c.length; i += 3) out.push(c.slice(i, i + 3));
        return out;
      };
      assert.deepEqual(rows(d.berth!), PMU_EVENT_COUNTERS);
      // Each of Berth's rows is one of QEMU's, with QEMU's counters narrowed to Berth's.
      for (const [first, last, mask] of rows(d.berth!)) {
        const q = rows(d.qemu!).find((r) => r[0] === first && r[1] === last);
        assert.ok(q && (q[2] & mask) === mask, `QEMU maps events ${first}..${last} too`);
      }
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

export const ALWAYS_INTENDED = [
  '/ model',
  '/pmu riscv,event-to-mhpmcounters',
  '/cpus/cpu@N riscv,isa',
  '/cpus/cpu@N riscv,isa-base',
  '/cpus/cpu@N riscv,isa-extensions',
  '/chosen rng-seed',
  '/soc/plic@N riscv,ndev',
].sort();
