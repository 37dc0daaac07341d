// Conversions: float to integer (rounded by rm, saturating, NV when out of
// range or NaN, NX when inexact), integer to float (rounded by rm; 64-bit
// integers are split into two exact doubles first), and single <-> double.
// 32-bit integer results are sign-extended to 64 bits, unsigned ones included.

import { FpRegs, FFLAG_NV, FFLAG_NX, IntRegs, RM_RDN, RM_RNE, RM_RTZ, RM_RUP } from '../regs.js';
import { TWO32, twoSumErr } from './bits.js';
import { packS } from './arith32.js';
import { isSNaND, isSNaNS, readS, writeNaND, writeNaNS, writeS } from './operands.js';
import { adjust64 } from './round.js';

/** Set by rint: whether the last rounding to an integer was inexact. */
let inexact = false;

/** v (finite) rounded to an integer in mode rm. */
function rint(v: number, rm: number): number {
  const t = Math.trunc(v); // v itself when |v| >= 2^52
  const fr = v - t;
  if (fr === 0) {
    inexact = false;
    return t;
  }
  inexact = true;
  const away = fr > 0 ? t + 1 : t - 1;
  const af = Math.abs(fr);
  switch (rm) {
    case RM_RNE:
      return af > 0.5 || (af === 0.5 && t % 2 !== 0) ? away : t;
    case RM_RTZ:
      return t;
    case RM_RDN:
      return fr < 0 ? away : t;
    case RM_RUP:
      return fr > 0 ? away : t;
    default:
      return af >= 0.5 ? away : t;
  }
}

// Kinds of integer destination.
export const CVT_W = 0;
export const CVT_WU = 1;
export const CVT_L = 2;
export const CVT_LU = 3;

const TWO63 = TWO32 * 2147483648;
const TWO64 = TWO32 * TWO32;
const MIN = [-2147483648, 0, -TWO63, 0];
const MAX = [2147483647, 4294967295, TWO63, TWO64]; // the 64-bit bounds are exclusive

/** Writes the integer n (in range for kind) to x rd. */
function writeInt(x: IntRegs, rd: number, n: number, kind: number): void {
  if (kind < CVT_L) {
    const lo = n | 0; // WU: values above 2^31 wrap to negative, i.e. sign-extend
    x.x[2 * rd] = lo;
    x.x[2 * rd + 1] = lo >> 31;
  } else {
    const hi = Math.floor(n / TWO32);
    x.x[2 * rd] = (n - hi * TWO32) | 0;
    x.x[2 * rd + 1] = hi | 0;
  }
}

/** Writes the saturated value for kind: the maximum when !neg (NaN too), else the minimum. */
function writeSaturated(x: IntRegs, rd: number, neg: boolean, kind: number): void {
  let lo: number;
  let hi: number;
  if (kind === CVT_W) {
    lo = neg ? -2147483648 : 2147483647;
    hi = neg ? -1 : 0;
  } else if (kind === CVT_L) {
    lo = neg ? 0 : -1;
    hi = neg ? -2147483648 : 2147483647;
  } else {
    lo = neg ? 0 : -1; // WU saturates to 0xffffffff sign-extended: all ones
    hi = lo;
  }
  x.x[2 * rd] = lo;
  x.x[2 * rd + 1] = hi;
}

/** fcvt.{w,wu,l,lu}.{s,d}: v is the operand as a double (NaN for any NaN). */
export function floatToInt(
  f: FpRegs,
  x: IntRegs,
  rd: number,
  v: number,
  kind: number,
  rm: number,
): void {
  if (!(Math.abs(v) < TWO64)) {
    f.flags |= FFLAG_NV;
    writeSaturated(x, rd, v < 0, kind);
    return;
  }
  const n = rint(v, rm);
  const max = MAX[kind];
  if (n < MIN[kind] || n > max || (n === max && kind >= CVT_L)) {
    f.flags |= FFLAG_NV;
    writeSaturated(x, rd, n < 0, kind);
    return;
  }
  if (inexact) f.flags |= FFLAG_NX;
  writeInt(x, rd, n, kind);
}

/** fcvt.d.w / fcvt.d.wu: always exact. */
export function int32ToD(f: FpRegs, x: IntRegs, rd: number, rs1: number, unsigned: boolean): void {
  const v = x.x[2 * rs1];
  f.f64[rd] = unsigned ? v >>> 0 : v;
}

/** fcvt.s.w / fcvt.s.wu */
export function int32ToS(
  f: FpRegs,
  x: IntRegs,
  rd: number,
  rs1: number,
  unsigned: boolean,
  rm: number,
): void {
  const w = x.x[2 * rs1];
  const v = unsigned ? w >>> 0 : w;
  if (v === 0) writeS(f, rd, 0);
  else packS(f, rd, v, 0, rm, true);
}

// The 64-bit integer operand as an exact pair: value = i64Hi + i64Lo.
let i64Hi = 0;
let i64Lo = 0;

/** Splits the integer in x rs1 into i64Hi + i64Lo = RN(value) + exact remainder. */
function splitInt64(x: IntRegs, rs1: number, unsigned: boolean): void {
  const hw = x.x[2 * rs1 + 1];
  const lw = x.x[2 * rs1] >>> 0;
  const hi = unsigned ? hw >>> 0 : hw;
  if (hi >= -2097152 && hi < 2097152) {
    i64Hi = hi * TWO32 + lw; // below 2^53 in magnitude: exact
    i64Lo = 0;
    return;
  }
  // hi * 2^32 is exact, and so is the low word: add them with TwoSum.
  const a = hi * TWO32;
  const s = a + lw;
  i64Hi = s;
  i64Lo = twoSumErr(a, lw, s);
}

/** fcvt.d.l / fcvt.d.lu */
export function int64ToD(
  f: FpRegs,
  x: IntRegs,
  rd: number,
  rs1: number,
  unsigned: boolean,
  rm: number,
): void {
  splitInt64(x, rs1, unsigned);
  f.f64[rd] = adjust64(f, i64Hi, i64Lo, rm);
}

/** fcvt.s.l / fcvt.s.lu */
export function int64ToS(
  f: FpRegs,
  x: IntRegs,
  rd: number,
  rs1: number,
  unsigned: boolean,
  rm: number,
): void {
  splitInt64(x, rs1, unsigned);
  if (i64Hi === 0) writeS(f, rd, 0);
  else packS(f, rd, i64Hi, i64Lo, rm, false);
}

/** fcvt.s.d */
export function dToS(f: FpRegs, rd: number, rs1: number, rm: number): void {
  const d = f.f64[rs1];
  if (d - d === 0 && d !== 0) {
    packS(f, rd, d, 0, rm, true);
  } else if (d === d) {
    writeS(f, rd, d); // zeros and infinities convert exactly
  } else {
    if (isSNaND(f, rs1)) f.flags |= FFLAG_NV;
    writeNaNS(f, rd);
  }
}

/** fcvt.d.s: exact. */
export function sToD(f: FpRegs, rd: number, rs1: number): void {
  const v = readS(f, rs1);
  if (v === v) {
    f.f64[rd] = v;
    return;
  }
  if (isSNaNS(f, rs1)) f.flags |= FFLAG_NV;
  writeNaND(f, rd);
}
