// Single-precision add/sub/mul/div/sqrt: rounding modes, underflow and overflow
// thresholds of binary32, NaN boxing of operands and results.

import { test } from 'node:test';
import { Op } from '../ops.js';
import { CANON_S, DZ, NV, NX, OF, UF, expectAll, expectModes, s, sb } from './testkit.js';

const ONE = s(1);
const MAX = sb(0x7f7fffff);
const INF = sb(0x7f800000);
const MINNORM = sb(0x00800000);
const MAXSUB = sb(0x007fffff);
const NEG0 = sb(0x80000000);
const SNAN = sb(0x7f800001);

test('fadd.s rounds ties in every mode and boxes the result', () => {
  const u1 = sb(0x3f800001);
  const u2 = sb(0x3f800002);
  expectModes(Op.FADD_S, ONE, s(2 ** -24), 0n, [
    [ONE, NX],
    [ONE, NX],
    [ONE, NX],
    [u1, NX],
    [u1, NX],
  ]);
  expectModes(Op.FADD_S, u1, s(2 ** -24), 0n, [
    [u2, NX],
    [u1, NX],
    [u1, NX],
    [u2, NX],
    [u2, NX],
  ]);
  expectAll(Op.FADD_S, ONE, ONE, 0n, 0xffffffff40000000n, 0);
  // The exact sum needs far more than 53 bits; directed modes still see it.
  const big = s(2 ** 100);
  expectModes(Op.FADD_S, big, s(2 ** -100), 0n, [
    [big, NX],
    [big, NX],
    [big, NX],
    [sb(0x71800001), NX],
    [big, NX],
  ]);
  expectModes(Op.FSUB_S, ONE, ONE, 0n, [
    [sb(0), 0],
    [sb(0), 0],
    [NEG0, 0],
    [sb(0), 0],
    [sb(0), 0],
  ]);
});

test('fadd.s overflow by mode', () => {
  const NMAX = sb(0xff7fffff);
  const NINF = sb(0xff800000);
  expectModes(Op.FADD_S, MAX, MAX, 0n, [
    [INF, OF | NX],
    [MAX, OF | NX],
    [MAX, OF | NX],
    [INF, OF | NX],
    [INF, OF | NX],
  ]);
  expectModes(Op.FSUB_S, NMAX, MAX, 0n, [
    [NINF, OF | NX],
    [NMAX, OF | NX],
    [NINF, OF | NX],
    [NMAX, OF | NX],
    [NINF, OF | NX],
  ]);
});

test('fmul.s detects tininess after rounding at the binary32 threshold', () => {
  // (1 + 2^-23)(2^-126 - 2^-149) = 2^-126 (1 - 2^-46)
  expectModes(Op.FMUL_S, sb(0x3f800001), MAXSUB, 0n, [
    [MINNORM, NX],
    [MAXSUB, UF | NX],
    [MAXSUB, UF | NX],
    [MINNORM, NX],
    [MINNORM, NX],
  ]);
  // (1 - 2^-24) * 2^-126: a 24-bit number below 2^-126, tiny in every mode.
  expectModes(Op.FMUL_S, sb(0x3f7fffff), MINNORM, 0n, [
    [MINNORM, UF | NX],
    [MAXSUB, UF | NX],
    [MAXSUB, UF | NX],
    [MINNORM, UF | NX],
    [MINNORM, UF | NX],
  ]);
  // Half the smallest subnormal.
  expectModes(Op.FMUL_S, sb(1), s(0.5), 0n, [
    [sb(0), UF | NX],
    [sb(0), UF | NX],
    [sb(0), UF | NX],
    [sb(1), UF | NX],
    [sb(1), UF | NX],
  ]);
  expectAll(Op.FMUL_S, sb(2), s(0.5), 0n, sb(1), 0);
  expectModes(Op.FMUL_S, s(2 ** 127), s(2), 0n, [
    [INF, OF | NX],
    [MAX, OF | NX],
    [MAX, OF | NX],
    [INF, OF | NX],
    [INF, OF | NX],
  ]);
  expectAll(Op.FMUL_S, INF, sb(0), 0n, CANON_S, NV);
});

test('fdiv.s and fsqrt.s in every mode', () => {
  const t = sb(0x3eaaaaab); // RN(1/3), above 1/3
  expectModes(Op.FDIV_S, ONE, s(3), 0n, [
    [t, NX],
    [t - 1n, NX],
    [t - 1n, NX],
    [t, NX],
    [t, NX],
  ]);
  expectModes(Op.FDIV_S, sb(0x3f7fffff), s(2 ** 126), 0n, [
    [MINNORM, UF | NX],
    [MAXSUB, UF | NX],
    [MAXSUB, UF | NX],
    [MINNORM, UF | NX],
    [MINNORM, UF | NX],
  ]);
  expectAll(Op.FDIV_S, ONE, sb(0), 0n, INF, DZ);
  expectAll(Op.FDIV_S, sb(0), sb(0), 0n, CANON_S, NV);
  const r = sb(0x3fb504f3); // RN(sqrt 2), below sqrt 2
  expectModes(Op.FSQRT_S, s(2), 0n, 0n, [
    [r, NX],
    [r, NX],
    [r, NX],
    [r + 1n, NX],
    [r, NX],
  ]);
  const rs = sb(0x1a3504f3); // sqrt(2^-149) = 2^-75 sqrt 2
  expectModes(Op.FSQRT_S, sb(1), 0n, 0n, [
    [rs, NX],
    [rs, NX],
    [rs, NX],
    [rs + 1n, NX],
    [rs, NX],
  ]);
  expectAll(Op.FSQRT_S, NEG0, 0n, 0n, NEG0, 0);
  expectAll(Op.FSQRT_S, s(-4), 0n, 0n, CANON_S, NV);
});

test('single operands must be NaN-boxed; NaN results are canonical', () => {
  // High half not all ones: the operand is the canonical (quiet) NaN.
  expectAll(Op.FADD_S, 0x000000003f800000n, ONE, 0n, CANON_S, 0);
  expectAll(Op.FMUL_S, ONE, 0xfffffffe3f800000n, 0n, CANON_S, 0);
  // An unboxed pattern of a signalling NaN is just the canonical NaN: no NV.
  expectAll(Op.FADD_S, 0x000000007f800001n, ONE, 0n, CANON_S, 0);
  expectAll(Op.FADD_S, SNAN, ONE, 0n, CANON_S, NV);
  expectAll(Op.FADD_S, sb(0xffc01234), ONE, 0n, CANON_S, 0);
  expectAll(Op.FSQRT_S, SNAN, 0n, 0n, CANON_S, NV);
  expectAll(Op.FDIV_S, SNAN, ONE, 0n, CANON_S, NV);
});
