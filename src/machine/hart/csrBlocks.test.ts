// CSR accesses in translated blocks (jit/csrEmitter.ts) against the interpreter: random runs of
// CSRRW/S/C and the immediate forms on sscratch, sepc, scause, stval, fflags, frm and fcsr (and
// sstatus, which ends a block), among integer instructions, run by both engines from the same
// state must end in the same registers and CSRs. The S-mode CSRs cannot be reached from the
// user-mode differential suite (test/diff); the FP ones are also there (group fcsr). Then the
// legality rules: from U-mode an S-mode CSR, and with mstatus.FS Off an FP CSR, is an illegal
// instruction in both engines, at the same pc with the same registers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../bus.js';
import { Ram } from '../ram.js';
import { EXC_ILLEGAL, PRIV_S, PRIV_U } from './causes.js';
import {
  CSR_FCSR,
  CSR_FFLAGS,
  CSR_FRM,
  CSR_MTVEC,
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  CSR_SCAUSE,
  CSR_SEPC,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_STVAL,
  MSTATUS_FS,
  writeCsr,
} from './csr.js';
import { Hart, StopReason } from './hart.js';

const BASE = 0x80000000;
const CODE = BASE + 0x1000;
/** M-mode trap handler: a WFI. */
const HANDLER = BASE + 0x8000;
const WFI = 0x10500073;
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
/** funct3 of CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI. */
const F3 = [1, 2, 3, 5, 6, 7];

/** A small deterministic generator (xorshift32). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

const csrInst = (f3: number, rd: number, rs1: number, csr: number): number =>
  ((csr << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x73) >>> 0;
/** add, xor, or sub rd, rs1, rs2. */
const alu = (k: number, rd: number, rs1: number, rs2: number): number =>
  ([0, 0x20 << 25, 0][k] | (rs2 << 20) | (rs1 << 15) | ([0, 0, 4][k] << 12) | (rd << 7) | 0x33) >>>
  0;

/** A random run of `n` CSR and ALU instructions on x1..x15 and then a WFI. */
function program(seed: number, n: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const rd = r(4) === 0 ? 0 : 1 + r(15);
    if (r(3) === 0) out.push(alu(r(3), rd, r(16), r(16)));
    else {
      // sstatus now and then (read only: its writes have effects this test does not check).
      const csr = r(12) === 0 ? CSR_SSTATUS : CSRS[r(7)];
      const f3 = csr === CSR_SSTATUS ? 2 : F3[r(6)];
      const rs1 = csr === CSR_SSTATUS ? 0 : r(5) === 0 ? 0 : r(4) === 0 ? rd : r(32) & 15;
      out.push(csrInst(f3, rd, rs1, csr));
    }
  }
  out.push(WFI);
  return out;
}

interface Outcome {
  stop: StopReason;
  x: bigint[];
  pc: bigint;
  csrs: number[];
  translated: number;
}

/** Runs `code` at privilege `priv` with mstatus `mstatus` on a fresh hart of the given engine. */
function run(code: number[], jit: boolean, priv: number, mstatus: number, seed: number): Outcome {
  const ram = new Ram(BASE, 1 << 20);
  const hart = new Hart(new Bus(ram), { jitThreshold: jit ? 1 : 0, jitSynchronous: true });
  const bytes = new Uint8Array(code.length * 4);
  code.forEach((w, i) => new DataView(bytes.buffer).setUint32(i * 4, w, true));
  ram.write(CODE, bytes);
  ram.write(HANDLER, new Uint8Array([0x73, 0x00, 0x50, 0x10]));
  assert.ok(writeCsr(hart, CSR_PMPADDR0, -1, 0x003fffff));
  assert.ok(writeCsr(hart, CSR_PMPCFG0, 0x1f, 0));
  assert.ok(writeCsr(hart, CSR_MTVEC, HANDLER, 0));
  const r = rng(seed ^ 0x9e3779b9);
  // Registers: small values (valid rounding modes, flag patterns, cause codes) and 64-bit ones.
  for (let i = 1; i < 16; i++) {
    const v =
      r(2) === 0
        ? BigInt(r(256))
        : (BigInt(r(0x10000)) << 48n) | (BigInt(r(0x1000000)) << 24n) | BigInt(r(0x1000000));
    hart.regs.set(i, v);
  }
  hart.mstatus = mstatus;
  hart.fregs.flags = r(32);
  hart.fregs.frm = r(5);
  hart.sscratchLo = r(0x7fffffff);
  hart.sepcHi = -1;
  hart.scauseLo = 5;
  hart.stvalHi = r(0x7fffffff);
  hart.priv = priv;
  hart.updateMmuMode();
  hart.pc = BigInt(CODE);
  const stop = hart.run(100_000);
  return {
    stop,
    x: Array.from({ length: 16 }, (_, i) => hart.regs.get(i)),
    pc: hart.pc,
    csrs: [
      hart.mstatus,
      hart.fregs.flags,
      hart.fregs.frm,
      hart.sscratchLo,
      hart.sscratchHi,
      hart.sepcLo,
      hart.sepcHi,
      hart.scauseLo,
      hart.scauseHi,
      hart.stvalLo,
      hart.stvalHi,
      hart.priv,
      hart.mcauseLo,
      hart.mepcLo,
      hart.mtvalLo,
    ],
    translated: hart.translatedInstructions,
  };
}

/** Runs `code` on both engines and checks they agree; returns the translated run. */
function both(code: number[], priv: number, mstatus: number, seed: number): Outcome {
  const interp = run(code, false, priv, mstatus, seed);
  const blocks = run(code, true, priv, mstatus, seed);
  assert.equal(interp.translated, 0);
  assert.deepEqual(
    { ...blocks, translated: 0 },
    { ...interp, translated: 0 },
    `seed ${seed}: the engines differ`,
  );
  return blocks;
}

const FS_INITIAL = 1 << 13;

test('S-mode and FP CSR accesses in blocks end as in the interpreter', () => {
  let translated = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const code = program(seed, 40 + (seed % 50));
    const o = both(code, PRIV_S, FS_INITIAL, seed);
    assert.equal(o.stop, StopReason.Wfi, `seed ${seed}`);
    translated += o.translated;
  }
  // All but the sstatus reads (one in 12 CSR accesses) and the WFIs ran in blocks.
  assert.ok(translated > 60 * 65 * 0.85, `translated ${translated}`);
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
