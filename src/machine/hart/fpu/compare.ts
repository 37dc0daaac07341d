// Comparisons, minimum/maximum and classification. feq raises NV only for
// signalling NaNs, flt/fle for any NaN. fmin/fmax follow the 2.2 semantics
// (IEEE 754-2019 minimumNumber/maximumNumber): a single NaN operand yields the
// other operand, two yield the canonical NaN, -0 is below +0, NV only for
// signalling NaNs. Results are copied bit-exactly from the chosen operand.

import { FpRegs, FFLAG_NV, IntRegs } from '../regs.js';
import { bitsS, isSNaND, isSNaNS, readS, writeNaND, writeNaNS } from './operands.js';

function writeBool(x: IntRegs, rd: number, v: boolean): void {
  x.x[2 * rd] = v ? 1 : 0;
  x.x[2 * rd + 1] = 0;
}

/** feq.s */
export function eqS(f: FpRegs, x: IntRegs, rd: number, rs1: number, rs2: number): void {
  const a = readS(f, rs1);
  const b = readS(f, rs2);
  if ((a !== a || b !== b) && (isSNaNS(f, rs1) || isSNaNS(f, rs2))) f.flags |= FFLAG_NV;
  writeBool(x, rd, a === b);
}

/** flt.s (le = false) and fle.s (le = true) */
export function ltS(
  f: FpRegs,
  x: IntRegs,
  rd: number,
  rs1: number,
  rs2: number,
  le: boolean,
): void {
  const a = readS(f, rs1);
  const b = readS(f, rs2);
  if (a !== a || b !== b) f.flags |= FFLAG_NV;
  writeBool(x, rd, le ? a <= b : a < b);
}

/** feq.d */
export function eqD(f: FpRegs, x: IntRegs, rd: number, rs1: number, rs2: number): void {
  const a = f.f64[rs1];
  const b = f.f64[rs2];
  if ((a !== a || b !== b) && (isSNaND(f, rs1) || isSNaND(f, rs2))) f.flags |= FFLAG_NV;
  writeBool(x, rd, a === b);
}

/** flt.d (le = false) and fle.d (le = true) */
export function ltD(
  f: FpRegs,
  x: IntRegs,
  rd: number,
  rs1: number,
  rs2: number,
  le: boolean,
): void {
  const a = f.f64[rs1];
  const b = f.f64[rs2];
  if (a !== a || b !== b) f.flags |= FFLAG_NV;
  writeBool(x, rd, le ? a <= b : a < b);
}

/**
 * Which operand fmin/fmax returns: 1 (rs1), 2 (rs2) or 0 (both NaN). sa/sb
 * are the sign bits, deciding between equal values (the zeros).
 */
function pick(a: number, b: number, sa: boolean, sb: boolean, max: boolean): number {
  if (a !== a) return b !== b ? 0 : 2;
  if (b !== b) return 1;
  if (a === b) return sa === max ? 2 : 1;
  return a < b !== max ? 1 : 2;
}

/** fmin.s (max = false) and fmax.s (max = true) */
export function minMaxS(f: FpRegs, rd: number, rs1: number, rs2: number, max: boolean): void {
  const a = readS(f, rs1);
  const b = readS(f, rs2);
  if (isSNaNS(f, rs1) || isSNaNS(f, rs2)) f.flags |= FFLAG_NV;
  const wa = bitsS(f, rs1);
  const wb = bitsS(f, rs2);
  const which = pick(a, b, wa < 0, wb < 0, max);
  if (which === 0) {
    writeNaNS(f, rd);
    return;
  }
  f.u[2 * rd] = which === 1 ? wa : wb;
  f.u[2 * rd + 1] = -1;
}

/** fmin.d (max = false) and fmax.d (max = true) */
export function minMaxD(f: FpRegs, rd: number, rs1: number, rs2: number, max: boolean): void {
  const a = f.f64[rs1];
  const b = f.f64[rs2];
  if (isSNaND(f, rs1) || isSNaND(f, rs2)) f.flags |= FFLAG_NV;
  const which = pick(a, b, f.u[2 * rs1 + 1] < 0, f.u[2 * rs2 + 1] < 0, max);
  if (which === 0) {
    writeNaND(f, rd);
    return;
  }
  const rs = which === 1 ? rs1 : rs2;
  const lo = f.u[2 * rs];
  const hi = f.u[2 * rs + 1];
  f.u[2 * rd] = lo;
  f.u[2 * rd + 1] = hi;
}

/** The fclass bit for sign, biased exponent (all ones = emax), fraction != 0, quiet bit. */
function classBit(
  neg: boolean,
  exp: number,
  expMax: number,
  frac: boolean,
  quiet: boolean,
): number {
  if (exp === expMax) {
    if (!frac) return neg ? 1 : 1 << 7;
    return quiet ? 1 << 9 : 1 << 8;
  }
  if (exp === 0) {
    if (!frac) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

/** fclass.s */
export function classS(f: FpRegs, x: IntRegs, rd: number, rs1: number): void {
  const w = bitsS(f, rs1);
  x.x[2 * rd] = classBit(
    w < 0,
    (w >>> 23) & 0xff,
    0xff,
    (w & 0x7fffff) !== 0,
    (w & 0x400000) !== 0,
  );
  x.x[2 * rd + 1] = 0;
}

/** fclass.d */
export function classD(f: FpRegs, x: IntRegs, rd: number, rs1: number): void {
  const hi = f.u[2 * rs1 + 1];
  const frac = ((hi & 0xfffff) | f.u[2 * rs1]) !== 0;
  x.x[2 * rd] = classBit(hi < 0, (hi >>> 20) & 0x7ff, 0x7ff, frac, (hi & 0x80000) !== 0);
  x.x[2 * rd + 1] = 0;
}
