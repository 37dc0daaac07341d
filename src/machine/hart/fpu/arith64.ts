// Double-precision add, subtract, multiply, divide and square root. The JS
// operation gives the round-to-nearest-even result; an error-free
// transformation gives the exact remainder, from which the other rounding
// modes and the flags follow. Operands near the ends of the exponent range go
// through a scaled path that rounds with roundMag.

import { FpRegs, RM_RDN } from '../regs.js';
import { divDir, exponentOf, mulPow2, pow2, sqrtDir, twoProductErr, twoSumErr } from './bits.js';
import { isSNaND, writeDOrNaN } from './operands.js';
import { adjust64, roundMag } from './round.js';
import { addSpecial, divSpecial, mulSpecial, sqrtSpecial, zeroSum } from './special.js';

const ADD_SAFE = pow2(1022); // below this TwoSum cannot overflow
const M_LO = pow2(-1000); // operand range of the multiply/divide fast paths
const M_HI = pow2(990);
const P_LO = pow2(-950); // product range where Dekker's product is exact
const P_HI = pow2(1000);
const D_LO = pow2(-900);
const D_HI = pow2(900);
const Q_LO = pow2(-990);
const Q_HI = pow2(990);
const S_LO = pow2(-900);
const S_HI = pow2(1000);
const SMALL = pow2(-1021);
const STICKY = pow2(-1000);
/** Relative size of a stand-in remainder: far below half an ulp, never a tie. */
const TINY_REL = pow2(-60);

/** Rounds (-1)^sign(h) * (|h| + ...) * 2^k to binary64; h nonzero, l its remainder. */
function pack64(f: FpRegs, h: number, l: number, k: number, rm: number): number {
  if (h < 0) return -roundMag(f, 1, -h, -l, k, 53, -1022, 1023, rm);
  return roundMag(f, 0, h, l, k, 53, -1022, 1023, rm);
}

/** fadd.d (neg = false) and fsub.d (neg = true). */
export function addD(
  f: FpRegs,
  rd: number,
  rs1: number,
  rs2: number,
  neg: boolean,
  rm: number,
): void {
  const a = f.f64[rs1];
  const b = neg ? -f.f64[rs2] : f.f64[rs2];
  const r = a + b;
  if (Math.abs(a) < ADD_SAFE && Math.abs(b) < ADD_SAFE) {
    const lo = twoSumErr(a, b, r);
    if (lo !== 0) f.f64[rd] = adjust64(f, r, lo, rm);
    else f.f64[rd] = r === 0 && rm === RM_RDN ? zeroSum(a, b, rm) : r;
    return;
  }
  addSlowD(f, rd, a, b, rs1, rs2, rm);
}

function addSlowD(
  f: FpRegs,
  rd: number,
  a: number,
  b: number,
  rs1: number,
  rs2: number,
  rm: number,
): void {
  if (a - a !== 0 || b - b !== 0) {
    writeDOrNaN(f, rd, addSpecial(f, a, b, isSNaND(f, rs1) || isSNaND(f, rs2)));
    return;
  }
  // A finite operand near the top of the range: halve both (exact, except for
  // an operand so small that it only decides the side of the remainder).
  const a2 = Math.abs(a) < SMALL ? (a > 0 ? STICKY : a < 0 ? -STICKY : a) : a * 0.5;
  const b2 = Math.abs(b) < SMALL ? (b > 0 ? STICKY : b < 0 ? -STICKY : b) : b * 0.5;
  const r = a2 + b2;
  if (r === 0) {
    f.f64[rd] = zeroSum(a, b, rm);
    return;
  }
  f.f64[rd] = pack64(f, r, twoSumErr(a2, b2, r), 1, rm);
}

/** fmul.d */
export function mulD(f: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  const a = f.f64[rs1];
  const b = f.f64[rs2];
  const p = a * b;
  const aa = Math.abs(a);
  const ab = Math.abs(b);
  const ap = Math.abs(p);
  if (aa > M_LO && aa < M_HI && ab > M_LO && ab < M_HI && ap > P_LO && ap < P_HI) {
    f.f64[rd] = adjust64(f, p, twoProductErr(a, b, p), rm);
    return;
  }
  mulSlowD(f, rd, a, b, rs1, rs2, rm);
}

function mulSlowD(
  f: FpRegs,
  rd: number,
  a: number,
  b: number,
  rs1: number,
  rs2: number,
  rm: number,
): void {
  if (a - a !== 0 || b - b !== 0 || a === 0 || b === 0) {
    writeDOrNaN(f, rd, mulSpecial(f, a, b, isSNaND(f, rs1) || isSNaND(f, rs2)));
    return;
  }
  const ka = exponentOf(a);
  const kb = exponentOf(b);
  const a1 = mulPow2(a, -ka);
  const b1 = mulPow2(b, -kb);
  const p = a1 * b1;
  f.f64[rd] = pack64(f, p, twoProductErr(a1, b1, p), ka + kb, rm);
}

/** fdiv.d */
export function divD(f: FpRegs, rd: number, rs1: number, rs2: number, rm: number): void {
  const a = f.f64[rs1];
  const b = f.f64[rs2];
  const q = a / b;
  const aa = Math.abs(a);
  const ab = Math.abs(b);
  const aq = Math.abs(q);
  if (aa > D_LO && aa < D_HI && ab > D_LO && ab < D_HI && aq > Q_LO && aq < Q_HI) {
    const dir = divDir(a, b, q);
    // A quotient is never a tie: a stand-in remainder of the right sign will do.
    f.f64[rd] = dir === 0 ? q : adjust64(f, q, dir * aq * TINY_REL, rm);
    return;
  }
  divSlowD(f, rd, a, b, rs1, rs2, rm);
}

function divSlowD(
  f: FpRegs,
  rd: number,
  a: number,
  b: number,
  rs1: number,
  rs2: number,
  rm: number,
): void {
  if (a - a !== 0 || b - b !== 0 || a === 0 || b === 0) {
    writeDOrNaN(f, rd, divSpecial(f, a, b, isSNaND(f, rs1) || isSNaND(f, rs2)));
    return;
  }
  const ka = exponentOf(a);
  const kb = exponentOf(b);
  const a1 = mulPow2(a, -ka);
  const b1 = mulPow2(b, -kb);
  const q = a1 / b1;
  const dir = divDir(a1, b1, q);
  f.f64[rd] = pack64(f, q, dir * Math.abs(q) * TINY_REL, ka - kb, rm);
}

/** fsqrt.d */
export function sqrtD(f: FpRegs, rd: number, rs1: number, rm: number): void {
  const a = f.f64[rs1];
  if (a > S_LO && a < S_HI) {
    const r = Math.sqrt(a);
    const dir = sqrtDir(a, r);
    f.f64[rd] = dir === 0 ? r : adjust64(f, r, dir * r * TINY_REL, rm);
    return;
  }
  if (!(a > 0 && a < Infinity)) {
    writeDOrNaN(f, rd, sqrtSpecial(f, a, isSNaND(f, rs1)));
    return;
  }
  // Very small or very large: scale by an even power of two; the root is normal.
  const sh = a < 1 ? 600 : -600;
  const a1 = mulPow2(a, sh);
  const r = Math.sqrt(a1);
  const dir = sqrtDir(a1, r);
  const r1 = dir === 0 ? r : adjust64(f, r, dir * r * TINY_REL, rm);
  f.f64[rd] = r1 * pow2(-sh / 2);
}
