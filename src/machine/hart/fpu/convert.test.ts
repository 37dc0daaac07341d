// Conversions: float to integer (rounding, saturation, NV versus NX, sign
// extension of 32-bit results), integer to float (rounding of wide integers,
// including a case where rounding to double first would be wrong), and
// single <-> double.

import { test } from 'node:test';
import { Op } from '../ops.js';
import { CANON_D, CANON_S, NV, NX, OF, UF, d, expectAll, expectModes, s, sb } from './testkit.js';

/** A signed integer as the unsigned 64-bit register pattern. */
const u = (n: number | bigint): bigint => BigInt.asUintN(64, BigInt(n));

const NAN_D = 0x7ff8000000000000n;
const INF_D = 0x7ff0000000000000n;
const NINF_D = 0xfff0000000000000n;
const W_MAX = 0x7fffffffn;
const W_MIN = u(-2147483648);
const ALL_ONES = u(-1);
const L_MAX = 0x7fffffffffffffffn;
const L_MIN = 0x8000000000000000n;

test('fcvt.w.d rounds in every mode', () => {
  expectModes(Op.FCVT_W_D, d(2.5), 0n, 0n, [
    [2n, NX],
    [2n, NX],
    [2n, NX],
    [3n, NX],
    [3n, NX],
  ]);
  expectModes(Op.FCVT_W_D, d(-2.5), 0n, 0n, [
    [u(-2), NX],
    [u(-2), NX],
    [u(-3), NX],
    [u(-2), NX],
    [u(-3), NX],
  ]);
  expectModes(Op.FCVT_W_D, d(-0.25), 0n, 0n, [
    [0n, NX],
    [0n, NX],
    [u(-1), NX],
    [0n, NX],
    [0n, NX],
  ]);
  expectAll(Op.FCVT_W_D, d(-7), 0n, 0n, u(-7), 0);
});

test('fcvt.w.d saturates with NV and no NX', () => {
  expectAll(Op.FCVT_W_D, NAN_D, 0n, 0n, W_MAX, NV);
  expectAll(Op.FCVT_W_D, 0x7ff0000000000001n, 0n, 0n, W_MAX, NV);
  expectAll(Op.FCVT_W_D, 0xfff8000000000000n, 0n, 0n, W_MAX, NV); // negative NaN too
  expectAll(Op.FCVT_W_D, INF_D, 0n, 0n, W_MAX, NV);
  expectAll(Op.FCVT_W_D, NINF_D, 0n, 0n, W_MIN, NV);
  expectAll(Op.FCVT_W_D, d(2 ** 31), 0n, 0n, W_MAX, NV);
  expectAll(Op.FCVT_W_D, d(-(2 ** 31)), 0n, 0n, W_MIN, 0);
  // 2^31 - 0.5 and -2^31 - 0.5: in range or not depending on the mode.
  expectModes(Op.FCVT_W_D, d(2147483647.5), 0n, 0n, [
    [W_MAX, NV],
    [W_MAX, NX],
    [W_MAX, NX],
    [W_MAX, NV],
    [W_MAX, NV],
  ]);
  expectModes(Op.FCVT_W_D, d(-2147483648.5), 0n, 0n, [
    [W_MIN, NX],
    [W_MIN, NX],
    [W_MIN, NV],
    [W_MIN, NX],
    [W_MIN, NV],
  ]);
});

test('fcvt.wu.d: unsigned range, results sign-extended', () => {
  expectAll(Op.FCVT_WU_D, d(4294967295), 0n, 0n, ALL_ONES, 0);
  expectAll(Op.FCVT_WU_D, d(3e9), 0n, 0n, 0xffffffffb2d05e00n, 0);
  expectAll(Op.FCVT_WU_D, d(2 ** 31 - 1), 0n, 0n, 0x7fffffffn, 0);
  expectAll(Op.FCVT_WU_D, d(2 ** 32), 0n, 0n, ALL_ONES, NV);
  expectAll(Op.FCVT_WU_D, NAN_D, 0n, 0n, ALL_ONES, NV);
  expectAll(Op.FCVT_WU_D, d(-1), 0n, 0n, 0n, NV);
  expectAll(Op.FCVT_WU_D, NINF_D, 0n, 0n, 0n, NV);
  // -0.5 rounds to 0 (in range, inexact) or to -1 (out of range).
  expectModes(Op.FCVT_WU_D, d(-0.5), 0n, 0n, [
    [0n, NX],
    [0n, NX],
    [0n, NV],
    [0n, NX],
    [0n, NV],
  ]);
  expectAll(Op.FCVT_WU_D, 0x8000000000000000n, 0n, 0n, 0n, 0);
});

test('fcvt.l.d and fcvt.lu.d at the 64-bit limits', () => {
  expectAll(Op.FCVT_L_D, d(2 ** 63), 0n, 0n, L_MAX, NV);
  expectAll(Op.FCVT_L_D, d(-(2 ** 63)), 0n, 0n, L_MIN, 0);
  expectAll(Op.FCVT_L_D, d(-(2 ** 63) - 2048), 0n, 0n, L_MIN, NV);
  expectAll(Op.FCVT_L_D, d(2 ** 62 + 1024), 0n, 0n, 0x4000000000000400n, 0);
  expectAll(Op.FCVT_L_D, d(-123456789012345), 0n, 0n, u(-123456789012345), 0);
  expectAll(Op.FCVT_L_D, NAN_D, 0n, 0n, L_MAX, NV);
  expectAll(Op.FCVT_L_D, NINF_D, 0n, 0n, L_MIN, NV);
  expectModes(Op.FCVT_L_D, d(-0.5), 0n, 0n, [
    [0n, NX],
    [0n, NX],
    [ALL_ONES, NX],
    [0n, NX],
    [ALL_ONES, NX],
  ]);
  expectAll(Op.FCVT_LU_D, d(2 ** 64 - 2048), 0n, 0n, 0xfffffffffffff800n, 0);
  expectAll(Op.FCVT_LU_D, d(2 ** 64), 0n, 0n, ALL_ONES, NV);
  expectAll(Op.FCVT_LU_D, d(-1), 0n, 0n, 0n, NV);
  expectAll(Op.FCVT_LU_D, NAN_D, 0n, 0n, ALL_ONES, NV);
  expectModes(Op.FCVT_LU_D, d(1.5), 0n, 0n, [
    [2n, NX],
    [1n, NX],
    [1n, NX],
    [2n, NX],
    [2n, NX],
  ]);
});

test('fcvt.*.s read NaN-boxed singles', () => {
  expectModes(Op.FCVT_W_S, s(-1.5), 0n, 0n, [
    [u(-2), NX],
    [u(-1), NX],
    [u(-2), NX],
    [u(-1), NX],
    [u(-2), NX],
  ]);
  expectAll(Op.FCVT_W_S, 0x000000003f800000n, 0n, 0n, W_MAX, NV); // unboxed: NaN
  expectAll(Op.FCVT_LU_S, sb(0x5f800000), 0n, 0n, ALL_ONES, NV); // 2^64
  expectAll(Op.FCVT_LU_S, sb(0x5f7fffff), 0n, 0n, 0xffffff0000000000n, 0);
  expectAll(Op.FCVT_L_S, sb(0xdf000000), 0n, 0n, L_MIN, 0); // -2^63
  expectAll(Op.FCVT_WU_S, s(4294967040), 0n, 0n, 0xffffffffffffff00n, 0);
});

test('fcvt.s.w/wu/l/lu round wide integers in every mode', () => {
  // 2^24 + 1: a tie between 2^24 and 2^24 + 2.
  const a = sb(0x4b800000);
  expectModes(Op.FCVT_S_W, 16777217n, 0n, 0n, [
    [a, NX],
    [a, NX],
    [a, NX],
    [a + 1n, NX],
    [a + 1n, NX],
  ]);
  expectAll(Op.FCVT_S_W, u(-2147483648), 0n, 0n, sb(0xcf000000), 0);
  expectAll(Op.FCVT_S_W, 0x1234567800000000n, 0n, 0n, sb(0), 0); // upper half ignored
  const t32 = sb(0x4f800000);
  expectModes(Op.FCVT_S_WU, ALL_ONES, 0n, 0n, [
    [t32, NX],
    [t32 - 1n, NX],
    [t32 - 1n, NX],
    [t32, NX],
    [t32, NX],
  ]);
  const t63 = sb(0x5f000000);
  expectModes(Op.FCVT_S_L, L_MAX, 0n, 0n, [
    [t63, NX],
    [t63 - 1n, NX],
    [t63 - 1n, NX],
    [t63, NX],
    [t63, NX],
  ]);
  expectAll(Op.FCVT_S_L, L_MIN, 0n, 0n, sb(0xdf000000), 0);
  // 2^63 + 2^39 + 1: just above a tie of binary32. Rounding to double first
  // drops the +1 and would leave an exact tie, rounded to even (down).
  expectModes(Op.FCVT_S_LU, 0x8000008000000001n, 0n, 0n, [
    [t63 + 1n, NX],
    [t63, NX],
    [t63, NX],
    [t63 + 1n, NX],
    [t63 + 1n, NX],
  ]);
  expectModes(Op.FCVT_S_LU, 0x8000008000000000n, 0n, 0n, [
    [t63, NX],
    [t63, NX],
    [t63, NX],
    [t63 + 1n, NX],
    [t63 + 1n, NX],
  ]);
  expectAll(Op.FCVT_S_L, 0n, 0n, 0n, sb(0), 0);
});

test('fcvt.d.w/wu/l/lu', () => {
  expectAll(Op.FCVT_D_W, 0x00000000ffffffffn, 0n, 0n, d(-1), 0);
  expectAll(Op.FCVT_D_WU, 0xffffffffffffffffn, 0n, 0n, d(4294967295), 0);
  const p53 = d(2 ** 53);
  expectModes(Op.FCVT_D_L, 2n ** 53n + 1n, 0n, 0n, [
    [p53, NX],
    [p53, NX],
    [p53, NX],
    [p53 + 1n, NX],
    [p53 + 1n, NX],
  ]);
  const n53 = d(-(2 ** 53));
  expectModes(Op.FCVT_D_L, u(-(2n ** 53n) - 1n), 0n, 0n, [
    [n53, NX],
    [n53, NX],
    [n53 + 1n, NX],
    [n53, NX],
    [n53 + 1n, NX],
  ]);
  const t64 = d(2 ** 64);
  expectModes(Op.FCVT_D_LU, ALL_ONES, 0n, 0n, [
    [t64, NX],
    [t64 - 1n, NX],
    [t64 - 1n, NX],
    [t64, NX],
    [t64, NX],
  ]);
  expectAll(Op.FCVT_D_L, L_MIN, 0n, 0n, d(-(2 ** 63)), 0);
  expectAll(Op.FCVT_D_L, u(-5), 0n, 0n, d(-5), 0);
  expectAll(Op.FCVT_D_LU, 0n, 0n, 0n, 0n, 0);
});

test('fcvt.s.d rounds by mode, with overflow and underflow', () => {
  const one = s(1);
  const up = sb(0x3f800001);
  expectModes(Op.FCVT_S_D, d(1 + 2 ** -24), 0n, 0n, [
    [one, NX],
    [one, NX],
    [one, NX],
    [up, NX],
    [up, NX],
  ]);
  expectModes(Op.FCVT_S_D, d(1 + 2 ** -24 + 2 ** -52), 0n, 0n, [
    [up, NX],
    [one, NX],
    [one, NX],
    [up, NX],
    [up, NX],
  ]);
  const inf = sb(0x7f800000);
  const max = sb(0x7f7fffff);
  expectModes(Op.FCVT_S_D, d(2 ** 128), 0n, 0n, [
    [inf, OF | NX],
    [max, OF | NX],
    [max, OF | NX],
    [inf, OF | NX],
    [inf, OF | NX],
  ]);
  // Half an ulp above the largest single: a tie, and the largest single is odd.
  expectModes(Op.FCVT_S_D, d((2 - 2 ** -24) * 2 ** 127), 0n, 0n, [
    [inf, OF | NX],
    [max, NX],
    [max, NX],
    [inf, OF | NX],
    [inf, OF | NX],
  ]);
  expectModes(Op.FCVT_S_D, d(2 ** -150), 0n, 0n, [
    [sb(0), UF | NX],
    [sb(0), UF | NX],
    [sb(0), UF | NX],
    [sb(1), UF | NX],
    [sb(1), UF | NX],
  ]);
  const n0 = sb(0x80000000);
  expectModes(Op.FCVT_S_D, d(-(2 ** -150)), 0n, 0n, [
    [n0, UF | NX],
    [n0, UF | NX],
    [n0 + 1n, UF | NX],
    [n0, UF | NX],
    [n0 + 1n, UF | NX],
  ]);
  expectModes(Op.FCVT_S_D, 1n, 0n, 0n, [
    [sb(0), UF | NX],
    [sb(0), UF | NX],
    [sb(0), UF | NX],
    [sb(1), UF | NX],
    [sb(0), UF | NX],
  ]);
  expectAll(Op.FCVT_S_D, d(2 ** -149), 0n, 0n, sb(1), 0);
  expectAll(Op.FCVT_S_D, 0x7ff0000000000001n, 0n, 0n, CANON_S, NV);
  expectAll(Op.FCVT_S_D, 0xfff8000000000123n, 0n, 0n, CANON_S, 0);
  expectAll(Op.FCVT_S_D, NINF_D, 0n, 0n, sb(0xff800000), 0);
  expectAll(Op.FCVT_S_D, 0x8000000000000000n, 0n, 0n, n0, 0);
});

test('fcvt.d.s is exact; signalling NaN raises NV', () => {
  expectAll(Op.FCVT_D_S, sb(1), 0n, 0n, d(2 ** -149), 0);
  expectAll(Op.FCVT_D_S, s(-1.5), 0n, 0n, d(-1.5), 0);
  expectAll(Op.FCVT_D_S, sb(0x7f800001), 0n, 0n, CANON_D, NV);
  expectAll(Op.FCVT_D_S, sb(0xffc00001), 0n, 0n, CANON_D, 0);
  expectAll(Op.FCVT_D_S, 0x000000003f800000n, 0n, 0n, CANON_D, 0); // unboxed
  expectAll(Op.FCVT_D_S, sb(0xff800000), 0n, 0n, NINF_D, 0);
});
