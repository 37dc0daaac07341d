// Single-precision add, subtract, multiply, divide and square root. Operands
// are widened to double, where the operation is computed with its exact
// remainder (sums and products of singles are exact as a double pair, quotients
// and roots come with the sign of the remainder); the pair is then rounded
// once to single. In round-to-nearest-even, rounding the double result again
// is already correct for these operations (53 >= 2 * 24 + 2), so Math.fround
// serves away from the underflow and overflow thresholds.

import { FpRegs, FFLAG_NX, RM_RNE } from '../regs.js';
import { divDir, pow2, sqrtDir, twoSumErr } from './bits.js';
import { isSNaNS, readS, writeS, writeSOrNaN } from './operands.js';
import { roundMag } from './round.js';
import { addSpecial, divSpecial, mulSpecial, sqrtSpecial, zeroSum } from './special.js';

const MIN_NORMAL_S = pow2(-126);
const TINY_REL = pow2(-60);

/**
 * Writes the single rounding of h + lo to f rd: h is a nonzero finite double
 * (the round-to-nearest-even double of the exact value) and lo the exact
 * remainder or a stand-in of the same sign that is no tie. drSafe: rounding h
 * to nearest single gives the correctly rounded result of the exact value.
 */
export function packS(
  f: FpRegs,
  rd: number,
  h: number,
  lo: number,
  rm: number,
  drSafe: boolean,
): void {
  if (rm === RM_RNE && (lo === 0 || drSafe)) {
    const y = Math.fround(h);
    const ay = Math.abs(y);
    if (ay > MIN_NORMAL_S && ay < Infinity) {
      if (y !== h || lo !== 0) f.flags |= FFLAG_NX;
      writeS(f, rd, y);
      return;
    }
  }
  const m =
    h < 0
      ? -roundMag(f, 1, -h, -lo, 0, 24, -126, 127, rm)
      : roundMag(f, 0, h, lo, 0, 24, -126, 127, rm);
  writeS(f, rd, m);
}

/** fadd.s (neg = false) and fsub.s (neg = true). */
export function addS(
  f: FpRegs,
  rd: number,
  rs1: number,
  rs2: number,
  neg: boolean,
  rm: number,
): void {
  const a = readS(f, rs1);
  const b = neg ? -readS(f, rs2) : readS(f, rs2);
  const r = a + b;
  if (r - r === 0) {
    if (r === 0) writeS(f, rd, zeroSum(a, b, rm));
    else packS(f, rd, r, twoSumErr(a, b, r), rm, true);
    return;
  }
  writeSOrNaN(f, rd, addSpecial(f, a, b, isSNaNS(f, rs1) || isSNaNS(f, rs2)));
}

/** fmul.s: the product of two singles is exact in double. */
export function mulS(f: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  const a = readS(f, rs1);
  const b = readS(f, rs2);
  const p = a * b;
  if (p - p === 0) {
    if (p === 0) writeS(f, rd, p);
    else packS(f, rd, p, 0, rm, true);
    return;
  }
  writeSOrNaN(f, rd, mulSpecial(f, a, b, isSNaNS(f, rs1) || isSNaNS(f, rs2)));
}

/** fdiv.s */
export function divS(f: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  const a = readS(f, rs1);
  const b = readS(f, rs2);
  const q = a / b;
  if (q - q === 0 && q !== 0) {
    packS(f, rd, q, divDir(a, b, q) * Math.abs(q) * TINY_REL, rm, true);
    return;
  }
  writeSOrNaN(f, rd, divSpecial(f, a, b, isSNaNS(f, rs1) || isSNaNS(f, rs2)));
}

/** fsqrt.s */
export function sqrtS(f: FpRegs, rd: number, rs1: number, rm: number): void {
  const a = readS(f, rs1);
  if (a > 0 && a < Infinity) {
    const r = Math.sqrt(a);
    packS(f, rd, r, sqrtDir(a, r) * r * TINY_REL, rm, true);
    return;
  }
  writeSOrNaN(f, rd, sqrtSpecial(f, a, isSNaNS(f, rs1)));
}
