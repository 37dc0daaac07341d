// Test helpers for the unit tests of translated blocks against the interpreter (csrBlocks,
// sstatusBlocks, blockJumps .test.ts): a small random generator, CSR and ALU instruction
// encoders, a loop that runs a hart to its WFI, and one call that runs the same code from the same state on a fresh hart,
// interpreted or translated (a block at the first visit), and returns what the tests compare.
// Used only by the *.test.ts files beside it.

import { Bus } from '../bus.js';
import { Ram } from '../ram.js';
import { CSR_MTVEC, CSR_PMPADDR0, CSR_PMPCFG0, writeCsr } from './csr.js';
import { Hart, StopReason } from './hart.js';

export const BASE = 0x80000000;
export const CODE = BASE + 0x1000;
/** M-mode trap handler: a WFI. */
export const HANDLER = BASE + 0x8000;
export const WFI = 0x10500073;
/** funct3 of CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI. */
export const F3 = [1, 2, 3, 5, 6, 7];

/** A small deterministic generator (xorshift32). */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

export const csrInst = (f3: number, rd: number, rs1: number, csr: number): number =>
  ((csr << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x73) >>> 0;
/** add, xor, or sub rd, rs1, rs2. */
export const alu = (k: number, rd: number, rs1: number, rs2: number): number =>
  ([0, 0x20 << 25, 0][k] | (rs2 << 20) | (rs1 << 15) | ([0, 0, 4][k] << 12) | (rd << 7) | 0x33) >>>
  0;

/** B-type: a branch of funct3 `f3` (BEQ 0, BNE 1, ...) on rs1, rs2 to pc + off. */
export const branch = (f3: number, rs1: number, rs2: number, off: number): number =>
  ((((off >> 12) & 1) << 31) |
    (((off >> 5) & 0x3f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (f3 << 12) |
    (((off >> 1) & 0xf) << 8) |
    (((off >> 11) & 1) << 7) |
    0x63) >>>
  0;
/** I-type: opcode `opc`, funct3 `f3`, rd, rs1 and a 12-bit immediate. */
export const itype = (opc: number, f3: number, rd: number, rs1: number, imm: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc) >>> 0;
/** S-type: sd rs2, imm(rs1). */
export const sd = (rs2: number, rs1: number, imm: number): number =>
  ((((imm >> 5) & 0x7f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (3 << 12) |
    ((imm & 0x1f) << 7) |
    0x23) >>>
  0;
/** J-type: jal rd, pc + off. */
export const jal = (rd: number, off: number): number =>
  ((((off >> 20) & 1) << 31) |
    (((off >> 1) & 0x3ff) << 21) |
    (((off >> 11) & 1) << 20) |
    (((off >> 12) & 0xff) << 12) |
    (rd << 7) |
    0x6f) >>>
  0;

export interface Outcome {
  stop: StopReason;
  x: bigint[];
  /** f0..f31, as bits. */
  f: bigint[];
  pc: bigint;
  /** mstatus, fflags, frm, the S-mode trap CSRs (halves), priv, mcause, mepc, mtval. */
  csrs: number[];
  translated: number;
  /** Instructions retired. */
  instret: number;
  /** TLB misses (Mmu.tlbMisses). */
  tlbMisses: number;
  /** Calls into translated code (Hart.dispatches). */
  dispatches: number;
}

/**
 * Runs `code` (words at CODE) at privilege `priv` with mstatus `mstatus` on a fresh hart of the
 * given engine: registers x1..x15 and the CSRs from `seed`, then `setup` (page tables, interrupt
 * state), for at most `budget` instructions.
 */
export function runCode(
  code: number[],
  jit: boolean,
  priv: number,
  mstatus: number,
  seed: number,
  setup?: (h: Hart, ram: Ram) => void,
  budget = 100_000,
): Outcome {
  const ram = new Ram(BASE, 1 << 20);
  const hart = new Hart(new Bus(ram), { jitThreshold: jit ? 1 : 0, jitSynchronous: true });
  const bytes = new Uint8Array(code.length * 4);
  code.forEach((w, i) => new DataView(bytes.buffer).setUint32(i * 4, w, true));
  ram.write(CODE, bytes);
  ram.write(HANDLER, new Uint8Array([0x73, 0x00, 0x50, 0x10]));
  setCsr(hart, CSR_PMPADDR0, -1, 0x003fffff);
  setCsr(hart, CSR_PMPCFG0, 0x1f, 0);
  setCsr(hart, CSR_MTVEC, HANDLER, 0);
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
  setup?.(hart, ram);
  hart.priv = priv;
  hart.updateMmuMode();
  hart.pc = BigInt(CODE);
  const stop = hart.run(budget);
  return {
    stop,
    x: Array.from({ length: 16 }, (_, i) => hart.regs.get(i)),
    f: Array.from(hart.fregs.u64),
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
    instret: hart.currentInstret(),
    tlbMisses: hart.mmu.tlbMisses,
    dispatches: hart.dispatches,
  };
}

/** CSR names in Outcome.csrs, for messages. */
const CSR_NAMES = [
  'mstatus',
  'fflags',
  'frm',
  'sscratch lo',
  'sscratch hi',
  'sepc lo',
  'sepc hi',
  'scause lo',
  'scause hi',
  'stval lo',
  'stval hi',
  'priv',
  'mcause',
  'mepc',
  'mtval',
];

/**
 * Runs `code` on both engines and throws, naming the first difference, unless they end alike;
 * returns the translated run.
 */
export function bothEngines(
  code: number[],
  priv: number,
  mstatus: number,
  seed: number,
  setup?: (h: Hart, ram: Ram) => void,
  budget?: number,
): Outcome {
  const a = runCode(code, false, priv, mstatus, seed, setup, budget);
  const b = runCode(code, true, priv, mstatus, seed, setup, budget);
  const differ = (what: string, i: unknown, t: unknown): never => {
    throw new Error(`seed ${seed}: the engines differ in ${what}: interpreter ${i}, blocks ${t}`);
  };
  if (a.translated !== 0) differ('instructions translated', a.translated, 0);
  if (a.stop !== b.stop) differ('stop reason', a.stop, b.stop);
  if (a.instret !== b.instret) differ('instructions retired', a.instret, b.instret);
  if (a.pc !== b.pc) differ('pc', a.pc.toString(16), b.pc.toString(16));
  a.x.forEach((v, i) => v !== b.x[i] && differ(`x${i}`, v.toString(16), b.x[i].toString(16)));
  a.f.forEach((v, i) => v !== b.f[i] && differ(`f${i}`, v.toString(16), b.f[i].toString(16)));
  a.csrs.forEach((v, i) => v !== b.csrs[i] && differ(CSR_NAMES[i], v >>> 0, b.csrs[i] >>> 0));
  return b;
}

/** writeCsr, which must succeed. */
export function setCsr(h: Hart, num: number, lo: number, hi: number): void {
  if (!writeCsr(h, num, lo, hi)) throw new Error(`CSR ${num.toString(16)} refused ${lo}, ${hi}`);
}

/**
 * Runs `hart` to a WFI in slices of `slice` instructions (the blocks asked for in a slice are
 * compiled at its end; a block runs only with 64 instructions of the slice left).
 */
export function runToWfi(hart: Hart, slice = 100): void {
  for (let i = 0; i < 10000; i++) {
    const r = hart.run(slice);
    if (r === StopReason.Wfi) return;
    if (r !== StopReason.Budget)
      throw new Error(`the hart stopped (${r}): ${hart.lastError ?? ''}`);
  }
  throw new Error('the program did not reach its WFI');
}
