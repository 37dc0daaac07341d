// Rounding core. An exact value is handed over as (-1)^s * (a + l) * 2^k where
// a = |hi| is the round-to-nearest-even binary64 value of the exact magnitude
// (at scale k, away from overflow and underflow) and l is the exact remainder
// — or a stand-in with the same sign that is no tie, where only the side of the
// remainder is known. roundMag rounds that to a format of precision P and
// exponent range [EMIN, EMAX] in any RISC-V rounding mode, with IEEE flags and
// tininess detected after rounding, as RISC-V requires.

import {
  FpRegs,
  FFLAG_NX,
  FFLAG_OF,
  FFLAG_UF,
  RM_RDN,
  RM_RMM,
  RM_RNE,
  RM_RTZ,
  RM_RUP,
} from '../regs.js';
import { exponentOf, isPow2, mulPow2, nextAway, nextToward0, pow2 } from './bits.js';

/** Set by roundInt: whether the last rounding was inexact. */
let inexact = false;

/**
 * Rounds (a + l) * 2^-e to an integer in mode rm for sign s (1 = negative).
 * ea is exponentOf(a). Precondition: the result is below 2^54.
 */
function roundInt(a: number, l: number, ea: number, e: number, s: number, rm: number): number {
  if (ea - e <= -2) {
    // Less than half a unit, and not zero.
    inexact = true;
    return (rm === RM_RUP && s === 0) || (rm === RM_RDN && s === 1) ? 1 : 0;
  }
  const t = mulPow2(a, -e);
  let n = Math.floor(t);
  const fr = t - n;
  let cls: number; // what remains beyond n: 1 below half, 2 half, 3 above half
  if (fr === 0) {
    if (l === 0) {
      inexact = false;
      return n;
    }
    const lq = mulPow2(l, -e); // may underflow to 0: decide on the sign of l
    if (l > 0) cls = lq < 0.5 ? 1 : lq === 0.5 ? 2 : 3;
    else {
      n -= 1;
      cls = lq > -0.5 ? 3 : lq === -0.5 ? 2 : 1;
    }
  } else if (fr !== 0.5) {
    cls = fr < 0.5 ? 1 : 3;
  } else {
    cls = l > 0 ? 3 : l < 0 ? 1 : 2;
  }
  inexact = true;
  switch (rm) {
    case RM_RNE:
      return cls === 3 || (cls === 2 && (n & 1) === 1) ? n + 1 : n;
    case RM_RTZ:
      return n;
    case RM_RDN:
      return s === 1 ? n + 1 : n;
    case RM_RUP:
      return s === 0 ? n + 1 : n;
    default:
      return cls >= 2 ? n + 1 : n;
  }
}

/** Magnitude delivered on overflow: infinity or the largest finite number, by mode and sign. */
function overflow(f: FpRegs, s: number, rm: number, P: number, EMAX: number): number {
  f.flags |= FFLAG_OF | FFLAG_NX;
  const toInf =
    rm === RM_RNE || rm === RM_RMM || (rm === RM_RDN && s === 1) || (rm === RM_RUP && s === 0);
  return toInf ? Infinity : (pow2(P) - 1) * pow2(EMAX - P + 1);
}

/**
 * Rounds the magnitude (a + l) * 2^k (a > 0 finite, see the file comment) to
 * precision P, exponents [EMIN, EMAX], mode rm, sign s; returns the rounded
 * magnitude (possibly Infinity) and accrues NX, UF, OF into f.flags.
 */
export function roundMag(
  f: FpRegs,
  s: number,
  a: number,
  l: number,
  k: number,
  P: number,
  EMIN: number,
  EMAX: number,
  rm: number,
): number {
  const ea = exponentOf(a);
  let ex = ea + k; // exponent of the exact value
  if (l < 0 && isPow2(a)) ex -= 1;
  if (ex > EMAX) return overflow(f, s, rm, P, EMAX);
  const qe = ex >= EMIN ? ex - P + 1 : EMIN - P + 1;
  const n = roundInt(a, l, ea, qe - k, s, rm);
  const inx = inexact;
  if (ex >= EMIN) {
    if (ex === EMAX && n === pow2(P)) return overflow(f, s, rm, P, EMAX);
  } else if (inx) {
    // Tiny unless rounding with an unbounded exponent reaches 2^EMIN.
    if (ex < EMIN - 1 || roundInt(a, l, ea, EMIN - P - k, s, rm) !== pow2(P)) {
      f.flags |= FFLAG_UF;
    }
  }
  if (inx) f.flags |= FFLAG_NX;
  return n * pow2(qe);
}

/**
 * Binary64 fast path: r = RN(x) is normal, far from overflow and underflow, and
 * lo = x - r exactly (or a non-tie stand-in of the same sign). Returns x
 * rounded in mode rm and accrues NX.
 */
export function adjust64(f: FpRegs, r: number, lo: number, rm: number): number {
  if (lo === 0) return r;
  f.flags |= FFLAG_NX;
  const up = lo > 0 === r > 0; // exact magnitude above |r|
  switch (rm) {
    case RM_RNE:
      return r;
    case RM_RTZ:
      return up ? r : nextToward0(r);
    case RM_RDN:
      return r > 0 ? (up ? r : nextToward0(r)) : up ? nextAway(r) : r;
    case RM_RUP:
      return r > 0 ? (up ? nextAway(r) : r) : up ? r : nextToward0(r);
    default: {
      // RMM differs from RNE only on a tie that RNE resolved toward zero.
      const d = lo + lo;
      return up && r + d - r === d ? nextAway(r) : r;
    }
  }
}
