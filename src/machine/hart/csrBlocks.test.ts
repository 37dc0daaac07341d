// CSR accesses in translated blocks (jit/csrEmitter.ts) against the interpreter: random runs of
// CSRRW/S/C and the immediate forms on sscratch, sepc, scause, stval, fflags, frm and fcsr (and
// sstatus reads; sstatusBlocks.test.ts writes it), among integer instructions, run by both
// engines from the same state must end in the same registers and CSRs. The S-mode CSRs cannot be reached from the
// user-mode differential suite (test/diff); the FP ones are also there (group fcsr). Then the
// legality rules: from U-mode an S-mode CSR, and with mstatus.FS Off an FP CSR, is an illegal
// instruction in both engines, at the same pc with the same registers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXC_ILLEGAL, PRIV_S, PRIV_U } from './causes.js';
import {
  CSR_FCSR,
  CSR_FFLAGS,
  CSR_FRM,
  CSR_SCAUSE,
  CSR_SEPC,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_STVAL,
  MSTATUS_FS,
} from './csr.js';
import { StopReason } from './hart.js';
import { alu, bothEngines as both, CODE, csrInst, F3, rng, WFI } from './csrTestkit.js';

const CSRS = [
  CSR_SSCRATCH,
  CSR_SEPC,
  CSR_SCAUSE,
  CSR_STVAL,
  CSR_FFLAGS,
  CSR_FRM,
  CSR_FCSR,
  CSR_SSTATUS,
];

/** A random run of `n` CSR and ALU instructions on x1..x15 and then a WFI. */
function program(seed: number, n: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const rd = r(4) === 0 ? 0 : 1 + r(15);
    if (r(3) === 0) out.push(alu(r(3), rd, r(16), r(16)));
    else {
      // sstatus now and then (read only: sstatusBlocks.test.ts writes it).
      const csr = r(12) === 0 ? CSR_SSTATUS : CSRS[r(7)];
      const f3 = csr === CSR_SSTATUS ? 2 : F3[r(6)];
      const rs1 = csr === CSR_SSTATUS ? 0 : r(5) === 0 ? 0 : r(4) === 0 ? rd : r(32) & 15;
      out.push(csrInst(f3, rd, rs1, csr));
    }
  }
  out.push(WFI);
  return out;
}

const FS_INITIAL = 1 << 13;

test('S-mode and FP CSR accesses in blocks end as in the interpreter', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const code = program(seed, 40 + (seed % 50));
    const o = both(code, PRIV_S, FS_INITIAL, seed);
    assert.equal(o.stop, StopReason.Wfi, `seed ${seed}`);
    // All but the WFI ran in blocks.
    assert.equal(o.translated, code.length - 1, `seed ${seed}: translated`);
  }
});

test('an S-mode CSR from U-mode is illegal in blocks too', () => {
  for (let seed = 100; seed < 130; seed++) {
    // Integer and FP CSR work first (legal in U-mode), then an S-mode CSR access.
    const csr = [CSR_SSCRATCH, CSR_SEPC, CSR_SCAUSE, CSR_STVAL][seed & 3];
    const head = program(seed, 30).filter(
      (w) => (w >>> 20 < 0x100 || (w & 0x7f) === 0x33) && w !== WFI,
    );
    const code = [...head, csrInst(F3[seed % 6], 1 + (seed % 15), seed % 16, csr), WFI];
    const o = both(code, PRIV_U, FS_INITIAL, seed);
    assert.equal(o.stop, StopReason.Wfi);
    assert.equal(o.csrs[12], EXC_ILLEGAL, `seed ${seed}: mcause`);
    assert.equal(o.csrs[13], (CODE + head.length * 4) | 0, `seed ${seed}: mepc`);
    assert.ok(o.translated >= head.length, `seed ${seed}: the work before it ran translated`);
  }
});

test('an FP CSR with mstatus.FS Off is illegal in blocks too; a write makes FS Dirty', () => {
  for (let seed = 200; seed < 230; seed++) {
    const csr = [CSR_FFLAGS, CSR_FRM, CSR_FCSR][seed % 3];
    const head = program(seed, 30).filter((w) => (w & 0x7f) === 0x33);
    const access = csrInst(F3[seed % 6], 1 + (seed % 15), seed % 16, csr);
    const off = both([...head, access, WFI], PRIV_S, 0, seed);
    assert.equal(off.csrs[12], EXC_ILLEGAL, `seed ${seed}: mcause`);
    assert.equal(off.csrs[13], (CODE + head.length * 4) | 0, `seed ${seed}: mepc`);
    // FS Initial: legal; FS becomes Dirty when the instruction writes (CSRRW/I, or rs1/uimm not 0).
    const on = both([...head, access, WFI], PRIV_S, FS_INITIAL, seed);
    assert.equal(on.stop, StopReason.Wfi);
    const writes = seed % 6 === 0 || seed % 6 === 3 || seed % 16 !== 0;
    assert.equal(on.csrs[0] & MSTATUS_FS, writes ? MSTATUS_FS : FS_INITIAL, `seed ${seed}: FS`);
    assert.equal(on.translated, head.length + 1, `seed ${seed}: the access ran translated`);
  }
});
