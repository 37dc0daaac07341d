// Fused multiply-add with a single rounding, for both precisions, without
// BigInt. The product is split exactly into two doubles (Dekker), the addend is
// added with TwoSum, and the three-term sum is reduced to its nearest double
// plus a remainder that is exact or at least has the right sign and tells a
// tie apart; roundMag then rounds once. FMSUB/FNMSUB/FNMADD come in with the
// product and/or addend already negated.

import { FpRegs, RM_RDN } from '../regs.js';
import { exponentOf, mulPow2, pow2, twoProductErr, twoSumErr } from './bits.js';
import { packS } from './arith32.js';
import { isSNaND, isSNaNS, readS, writeDOrNaN, writeS, writeSOrNaN } from './operands.js';
import { adjust64, roundMag } from './round.js';
import { fmaSpecial, zeroSum } from './special.js';

/** Result of sum3: sumH = RN(p + e + c), sumL the remainder (see sum3). */
let sumH = 0;
let sumL = 0;

/**
 * Exact sum of three doubles p + e + c with |e| <= ulp(p) / 2 (a split
 * product), no overflow in the intermediates. Sets sumH = RN(sum) and sumL =
 * sum - sumH, exactly or as a stand-in of the same sign that is a tie only
 * when the sum really is one.
 */
function sum3(p: number, e: number, c: number): void {
  const s1 = p + c;
  const r1 = twoSumErr(p, c, s1);
  if (r1 === 0) {
    // The sum is s1 + e exactly.
    const h = s1 + e;
    sumH = h;
    sumL = twoSumErr(s1, e, h);
    return;
  }
  // No cancellation here: s2 is tiny against s1, r2 tinier still.
  const s2 = r1 + e;
  const r2 = twoSumErr(r1, e, s2);
  const h = s1 + s2;
  const r3 = twoSumErr(s1, s2, h); // sum = h + r3 + r2
  sumH = h;
  if (r3 === 0) {
    sumL = r2;
    return;
  }
  const d = r3 + r3;
  if (h + d - h !== d) {
    sumL = r3; // not half a gap: r2 cannot change the side
    return;
  }
  // r3 is exactly half the gap to the neighbour h + d: r2 breaks the tie.
  if (r2 === 0) sumL = r3;
  else if (r2 > 0 === r3 > 0) {
    sumH = h + d;
    sumL = -0.5 * r3;
  } else sumL = 0.5 * r3;
}

const A_LO = pow2(-1000);
const A_HI = pow2(990);
const P_LO = pow2(-950);
const P_HI = pow2(1000);
const C_HI = pow2(1000);
const H_LO = pow2(-1000);
const PRODUCT_STICKY = pow2(-200);
const ADDEND_STICKY = pow2(-250);

/** fmadd.d and its negated forms: (negP ? -1 : 1) * rs1 * rs2 + (negC ? -1 : 1) * rs3. */
export function fmaD(
  f: FpRegs,
  rd: number,
  rs1: number,
  rs2: number,
  rs3: number,
  negP: boolean,
  negC: boolean,
  rm: number,
): void {
  const a = negP ? -f.f64[rs1] : f.f64[rs1];
  const b = f.f64[rs2];
  const c = negC ? -f.f64[rs3] : f.f64[rs3];
  const p = a * b;
  const aa = Math.abs(a);
  const ab = Math.abs(b);
  const ap = Math.abs(p);
  if (
    aa > A_LO &&
    aa < A_HI &&
    ab > A_LO &&
    ab < A_HI &&
    ap > P_LO &&
    ap < P_HI &&
    Math.abs(c) < C_HI
  ) {
    sum3(p, twoProductErr(a, b, p), c);
    const h = sumH;
    const ah = Math.abs(h);
    if (ah > H_LO) f.f64[rd] = adjust64(f, h, sumL, rm);
    else if (h === 0)
      f.f64[rd] = rm === RM_RDN ? -0 : 0; // exact cancellation
    else if (h < 0) f.f64[rd] = -roundMag(f, 1, ah, -sumL, 0, 53, -1022, 1023, rm);
    else f.f64[rd] = roundMag(f, 0, ah, sumL, 0, 53, -1022, 1023, rm);
    return;
  }
  fmaSlowD(f, rd, a, b, c, rs1, rs2, rs3, rm);
}

function fmaSlowD(
  f: FpRegs,
  rd: number,
  a: number,
  b: number,
  c: number,
  rs1: number,
  rs2: number,
  rs3: number,
  rm: number,
): void {
  if (a - a !== 0 || b - b !== 0 || c - c !== 0) {
    const sn = isSNaND(f, rs1) || isSNaND(f, rs2) || isSNaND(f, rs3);
    writeDOrNaN(f, rd, fmaSpecial(f, a, b, c, sn));
    return;
  }
  if (a === 0 || b === 0) {
    // Exact zero product: the addend, or a signed zero.
    f.f64[rd] = c === 0 ? zeroSum(a * b, c, rm) : c;
    return;
  }
  // Scale the factors to [1, 2) and the addend by the same power of two; an
  // addend or product far below the other is replaced by a tiny stand-in with
  // its sign, which decides the same rounding.
  const ka = exponentOf(a);
  const kb = exponentOf(b);
  const a1 = mulPow2(a, -ka);
  const b1 = mulPow2(b, -kb);
  let k = ka + kb;
  let p = a1 * b1;
  let e = twoProductErr(a1, b1, p);
  let c1 = 0;
  if (c !== 0) {
    const kc = exponentOf(c);
    if (kc - k > 110) {
      p = p > 0 ? PRODUCT_STICKY : -PRODUCT_STICKY;
      e = 0;
      c1 = mulPow2(c, -kc);
      k = kc;
    } else if (kc - k < -200) {
      c1 = c > 0 ? ADDEND_STICKY : -ADDEND_STICKY;
    } else {
      c1 = mulPow2(c, -k);
    }
  }
  sum3(p, e, c1);
  const h = sumH;
  if (h === 0) f.f64[rd] = rm === RM_RDN ? -0 : 0;
  else if (h < 0) f.f64[rd] = -roundMag(f, 1, -h, -sumL, k, 53, -1022, 1023, rm);
  else f.f64[rd] = roundMag(f, 0, h, sumL, k, 53, -1022, 1023, rm);
}

/** fmadd.s and its negated forms. The product of two singles is exact in double. */
export function fmaS(
  f: FpRegs,
  rd: number,
  rs1: number,
  rs2: number,
  rs3: number,
  negP: boolean,
  negC: boolean,
  rm: number,
): void {
  const a = negP ? -readS(f, rs1) : readS(f, rs1);
  const b = readS(f, rs2);
  const c = negC ? -readS(f, rs3) : readS(f, rs3);
  const p = a * b;
  const h = p + c;
  if (h - h === 0) {
    if (h === 0) writeS(f, rd, zeroSum(p, c, rm));
    else packS(f, rd, h, twoSumErr(p, c, h), rm, false);
    return;
  }
  const sn = isSNaNS(f, rs1) || isSNaNS(f, rs2) || isSNaNS(f, rs3);
  writeSOrNaN(f, rd, fmaSpecial(f, a, b, c, sn));
}
