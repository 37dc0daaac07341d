// Comparisons, fmin/fmax, fclass, sign injection and moves: NaN flag rules,
// signed zeros, bit-exact copies, NaN boxing, sign extension, and the
// behaviour of the dispatcher (flags accrue, rd = 32 is writable).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Op } from '../ops.js';
import { FpRegs, IntRegs } from '../regs.js';
import { executeFp } from './execute.js';
import { CANON_D, CANON_S, NV, NX, d, expectAll, s, sb } from './testkit.js';

const QNAN = 0x7ff8000000000000n;
const SNAN = 0x7ff4000000000abcn;
const NEG0 = 0x8000000000000000n;
const ONE = d(1);

test('feq raises NV only for signalling NaNs; flt/fle for any NaN', () => {
  expectAll(Op.FEQ_D, QNAN, ONE, 0n, 0n, 0);
  expectAll(Op.FEQ_D, ONE, SNAN, 0n, 0n, NV);
  expectAll(Op.FLT_D, QNAN, ONE, 0n, 0n, NV);
  expectAll(Op.FLE_D, ONE, QNAN, 0n, 0n, NV);
  expectAll(Op.FEQ_D, NEG0, 0n, 0n, 1n, 0);
  expectAll(Op.FLT_D, NEG0, 0n, 0n, 0n, 0);
  expectAll(Op.FLE_D, NEG0, 0n, 0n, 1n, 0);
  expectAll(Op.FLT_D, d(-1), ONE, 0n, 1n, 0);
  expectAll(Op.FLE_D, d(2), ONE, 0n, 0n, 0);
  expectAll(Op.FEQ_S, s(1), s(1), 0n, 1n, 0);
  expectAll(Op.FEQ_S, 0x3f800000n, 0x3f800000n, 0n, 0n, 0); // unboxed: quiet NaNs
  expectAll(Op.FLT_S, 0x3f800000n, s(2), 0n, 0n, NV);
  expectAll(Op.FEQ_S, sb(0x7f800001), s(2), 0n, 0n, NV);
  expectAll(Op.FLE_S, s(-0), s(0), 0n, 1n, 0);
});

test('fmin/fmax: one NaN gives the other operand, -0 < +0, NV only for sNaN', () => {
  expectAll(Op.FMIN_D, NEG0, 0n, 0n, NEG0, 0);
  expectAll(Op.FMIN_D, 0n, NEG0, 0n, NEG0, 0);
  expectAll(Op.FMAX_D, NEG0, 0n, 0n, 0n, 0);
  expectAll(Op.FMAX_D, 0n, NEG0, 0n, 0n, 0);
  expectAll(Op.FMIN_D, QNAN, ONE, 0n, ONE, 0);
  expectAll(Op.FMAX_D, d(-Infinity), QNAN, 0n, d(-Infinity), 0);
  expectAll(Op.FMIN_D, SNAN, ONE, 0n, ONE, NV);
  expectAll(Op.FMIN_D, 0xfff8000000000001n, QNAN, 0n, CANON_D, 0);
  expectAll(Op.FMAX_D, SNAN, SNAN, 0n, CANON_D, NV);
  expectAll(Op.FMIN_D, d(3), d(-2), 0n, d(-2), 0);
  expectAll(Op.FMAX_D, d(3), d(-2), 0n, d(3), 0);
  expectAll(Op.FMIN_S, s(-0), s(0), 0n, s(-0), 0);
  expectAll(Op.FMAX_S, s(-0), s(0), 0n, s(0), 0);
  expectAll(Op.FMIN_S, 0x3f800000n, s(5), 0n, s(5), 0); // unboxed operand is a NaN
  expectAll(Op.FMAX_S, sb(0x7f800001), s(5), 0n, s(5), NV);
  expectAll(Op.FMAX_S, sb(0x7fc00001), sb(0xffc00000), 0n, CANON_S, 0);
});

test('fclass sets exactly one of the ten class bits', () => {
  const cases: [bigint, number][] = [
    [d(-Infinity), 0],
    [d(-1), 1],
    [0x800fffffffffffffn, 2],
    [NEG0, 3],
    [0n, 4],
    [1n, 5],
    [ONE, 6],
    [d(Infinity), 7],
    [SNAN, 8],
    [QNAN, 9],
  ];
  for (const [v, bit] of cases) expectAll(Op.FCLASS_D, v, 0n, 0n, 1n << BigInt(bit), 0);
  const single: [bigint, number][] = [
    [sb(0xff800000), 0],
    [s(-1), 1],
    [sb(0x80000001), 2],
    [sb(0x80000000), 3],
    [sb(0), 4],
    [sb(0x007fffff), 5],
    [s(1), 6],
    [sb(0x7f800000), 7],
    [sb(0x7fbfffff), 8],
    [sb(0x7fc00000), 9],
    [0x000000003f800000n, 9], // unboxed: the canonical NaN
  ];
  for (const [v, bit] of single) expectAll(Op.FCLASS_S, v, 0n, 0n, 1n << BigInt(bit), 0);
});

test('sign injection is bit-exact and follows NaN boxing for singles', () => {
  expectAll(Op.FSGNJ_D, SNAN, d(-1), 0n, SNAN | NEG0, 0);
  expectAll(Op.FSGNJN_D, SNAN, SNAN, 0n, SNAN | NEG0, 0);
  expectAll(Op.FSGNJX_D, d(-2), d(-1), 0n, d(2), 0);
  expectAll(Op.FSGNJN_D, ONE, ONE, 0n, d(-1), 0);
  expectAll(Op.FSGNJ_S, sb(0x7f800001), s(-1), 0n, sb(0xff800001), 0);
  expectAll(Op.FSGNJ_S, 0x000000003f800000n, s(-1), 0n, sb(0xffc00000), 0);
  expectAll(Op.FSGNJ_S, s(-3), 0x00000000bf800000n, 0n, s(3), 0); // unboxed sign source: +
  expectAll(Op.FSGNJX_S, s(-3), s(-1), 0n, s(3), 0);
  expectAll(Op.FSGNJN_S, s(3), s(3), 0n, s(-3), 0);
});

test('moves copy bits; fmv.x.w sign-extends the low word, fmv.w.x boxes', () => {
  expectAll(Op.FMV_X_W, 0x1234567880000001n, 0n, 0n, 0xffffffff80000001n, 0);
  expectAll(Op.FMV_X_W, 0x000000007f800001n, 0n, 0n, 0x7f800001n, 0);
  expectAll(Op.FMV_W_X, 0x12345678ff800001n, 0n, 0n, sb(0xff800001), 0);
  expectAll(Op.FMV_X_D, SNAN, 0n, 0n, SNAN, 0);
  expectAll(Op.FMV_D_X, 0xfff0000000000001n, 0n, 0n, 0xfff0000000000001n, 0);
});

test('flags accrue; x0 destinations go to the discard slot; rd may alias a source', () => {
  const x = new IntRegs();
  const f = new FpRegs();
  f.flags = NV;
  f.f64[1] = 1;
  f.f64[2] = 3;
  executeFp(Op.FDIV_D, 1, 1, 2, 0, 0, x, f); // f1 = f1 / f2
  assert.equal(f.flags, NV | NX);
  assert.equal(f.f64[1], 1 / 3);
  executeFp(Op.FLT_D, 32, 2, 1, 0, 0, x, f); // rd = x0
  assert.equal(x.x64[0], 0n);
  assert.equal(x.x64[32], 0n);
  executeFp(Op.FCVT_D_L, 3, 0, 0, 0, 0, x, f); // x0 is zero
  assert.equal(f.u64[3], 0n);
  executeFp(Op.FMIN_D, 2, 1, 2, 0, 0, x, f);
  assert.equal(f.f64[2], 1 / 3);
});
