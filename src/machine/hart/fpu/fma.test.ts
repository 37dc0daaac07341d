// Fused multiply-add: one rounding (cases where rounding the product or a
// double first gives a different answer), ties decided by bits far below the
// last place, the NV rules for inf * 0, signed zeros, the negated variants.

import { test } from 'node:test';
import { Op } from '../ops.js';
import { CANON_D, CANON_S, NV, NX, OF, UF, d, expectAll, expectModes, s, sb } from './testkit.js';

const ONE = d(1);
const U1 = 0x3ff0000000000001n;
const INF = 0x7ff0000000000000n;
const NINF = 0xfff0000000000000n;
const NEG0 = 0x8000000000000000n;
const MAX = 0x7fefffffffffffffn;

test('fmadd.d rounds once where product-then-sum rounding differs', () => {
  // (1 + 2^-27) * (1 - 2^-27) 2^-53 + (1 + 2^-52) = 1 + 2^-52 + 2^-53 - 2^-107:
  // just below a tie. Rounding the product first would land on the tie and
  // round to even (1 + 2^-51).
  const a = d(1 + 2 ** -27);
  const b = d((1 - 2 ** -27) * 2 ** -53);
  expectModes(Op.FMADD_D, a, b, U1, [
    [U1, NX],
    [U1, NX],
    [U1, NX],
    [U1 + 1n, NX],
    [U1, NX],
  ]);
});

test('fmadd.d: a tie in the product broken by a tiny addend', () => {
  // (1 + 2^-27)(1 + 2^-26) = lo + 2^-53 exactly, a tie between lo and hi.
  const a = d(1 + 2 ** -27);
  const b = d(1 + 2 ** -26);
  const lo = 0x3ff0000006000000n;
  const hi = lo + 1n;
  expectModes(Op.FMADD_D, a, b, 0n, [
    [lo, NX],
    [lo, NX],
    [lo, NX],
    [hi, NX],
    [hi, NX],
  ]);
  expectModes(Op.FMADD_D, a, b, d(2 ** -80), [
    [hi, NX],
    [lo, NX],
    [lo, NX],
    [hi, NX],
    [hi, NX],
  ]);
  expectModes(Op.FMADD_D, a, b, d(-(2 ** -80)), [
    [lo, NX],
    [lo, NX],
    [lo, NX],
    [hi, NX],
    [lo, NX],
  ]);
  expectModes(Op.FMADD_D, ONE, ONE, d(2 ** -53), [
    [ONE, NX],
    [ONE, NX],
    [ONE, NX],
    [U1, NX],
    [U1, NX],
  ]);
});

test('fmadd.d: a tie in product + addend broken by the product error', () => {
  // a * b = 2^-53 - 2^-113: its double 2^-53 makes 1 + 2^-53 a tie, which the
  // error term -2^-113 breaks (downwards).
  const a = d(1 + 2 ** -30);
  const b = d(2 ** -53 * (1 - 2 ** -30));
  const U2 = U1 + 1n;
  expectModes(Op.FMADD_D, a, b, ONE, [
    [ONE, NX],
    [ONE, NX],
    [ONE, NX],
    [U1, NX],
    [ONE, NX],
  ]);
  // Same with 1 + 2^-52: the double sum is a tie rounded up to even (1 + 2^-51);
  // the exact sum is below it.
  expectModes(Op.FMADD_D, a, b, U1, [
    [U1, NX],
    [U1, NX],
    [U1, NX],
    [U2, NX],
    [U1, NX],
  ]);
});

test('fmadd.d delivers the exact error of a product', () => {
  const a = d(1 + 2 ** -30);
  expectAll(Op.FMADD_D, a, a, d(-(1 + 2 ** -29)), d(2 ** -60), 0);
  expectAll(Op.FMSUB_D, a, a, d(1 + 2 ** -29), d(2 ** -60), 0);
  // Cancellation down to a subnormal, exact.
  expectAll(Op.FMADD_D, 0x0010000000000000n, d(1.5), 0x8010000000000000n, 0x0008000000000000n, 0);
});

test('fmadd.d with far apart magnitudes, underflow and overflow', () => {
  const t = d(2 ** -600);
  expectModes(Op.FMADD_D, t, t, 0n, [
    [0n, UF | NX],
    [0n, UF | NX],
    [0n, UF | NX],
    [1n, UF | NX],
    [0n, UF | NX],
  ]);
  const below1 = 0x3fefffffffffffffn;
  expectModes(Op.FMADD_D, t, d(-(2 ** -600)), ONE, [
    [ONE, NX],
    [below1, NX],
    [below1, NX],
    [ONE, NX],
    [ONE, NX],
  ]);
  const big = d(2 ** 1000);
  expectModes(Op.FMADD_D, d(2 ** -1000), d(2 ** -70), big, [
    [big, NX],
    [big, NX],
    [big, NX],
    [big + 1n, NX],
    [big, NX],
  ]);
  expectModes(Op.FMADD_D, d(2 ** 1000), d(2 ** 100), ONE, [
    [INF, OF | NX],
    [MAX, OF | NX],
    [MAX, OF | NX],
    [INF, OF | NX],
    [INF, OF | NX],
  ]);
});

test('fmadd.d invalid cases: inf * 0 raises NV even with a quiet NaN addend', () => {
  const qnan = 0x7ff8000000000000n;
  expectAll(Op.FMADD_D, INF, 0n, qnan, CANON_D, NV);
  expectAll(Op.FMADD_D, 0n, NINF, qnan, CANON_D, NV);
  expectAll(Op.FMADD_D, INF, 0n, ONE, CANON_D, NV);
  expectAll(Op.FMADD_D, qnan, 0n, INF, CANON_D, 0);
  expectAll(Op.FMADD_D, ONE, ONE, 0x7ff0000000000001n, CANON_D, NV);
  expectAll(Op.FMADD_D, INF, ONE, NINF, CANON_D, NV);
  expectAll(Op.FMSUB_D, INF, ONE, INF, CANON_D, NV);
  expectAll(Op.FMADD_D, INF, d(2), ONE, INF, 0);
  // A finite product that would overflow a double is no threat to -inf.
  expectAll(Op.FMADD_D, d(2 ** 600), d(2 ** 600), NINF, NINF, 0);
  expectAll(Op.FNMADD_D, INF, ONE, ONE, NINF, 0);
});

test('fma signed zeros and the negated forms', () => {
  expectModes(Op.FMADD_D, 0n, ONE, NEG0, [
    [0n, 0],
    [0n, 0],
    [NEG0, 0],
    [0n, 0],
    [0n, 0],
  ]);
  expectAll(Op.FNMADD_D, 0n, ONE, 0n, NEG0, 0);
  expectModes(Op.FMSUB_D, ONE, ONE, ONE, [
    [0n, 0],
    [0n, 0],
    [NEG0, 0],
    [0n, 0],
    [0n, 0],
  ]);
  expectModes(Op.FNMSUB_D, ONE, ONE, ONE, [
    [0n, 0],
    [0n, 0],
    [NEG0, 0],
    [0n, 0],
    [0n, 0],
  ]);
  expectAll(Op.FMADD_D, d(2), d(3), ONE, d(7), 0);
  expectAll(Op.FMSUB_D, d(2), d(3), ONE, d(5), 0);
  expectAll(Op.FNMSUB_D, d(2), d(3), ONE, d(-5), 0);
  expectAll(Op.FNMADD_D, d(2), d(3), ONE, d(-7), 0);
  expectAll(Op.FMADD_S, s(2), s(3), s(1), s(7), 0);
  expectAll(Op.FMSUB_S, s(2), s(3), s(1), s(5), 0);
  expectAll(Op.FNMSUB_S, s(2), s(3), s(1), s(-5), 0);
  expectAll(Op.FNMADD_S, s(2), s(3), s(1), s(-7), 0);
  expectModes(Op.FMSUB_S, s(1), s(1), s(1), [
    [sb(0), 0],
    [sb(0), 0],
    [sb(0x80000000), 0],
    [sb(0), 0],
    [sb(0), 0],
  ]);
});

test('fmadd.s rounds once where rounding to double first would not', () => {
  // 13325 * 80581 = 2^30 + 1, so a * b = 2^-24 + 2^-54 and the sum is
  // 1 + 2^-24 + 2^-54: above the tie, but a double holds only 1 + 2^-24.
  const a = s(13325 * 2 ** -27);
  const b = s(80581 * 2 ** -27);
  const one = s(1);
  const up = sb(0x3f800001);
  expectModes(Op.FMADD_S, a, b, one, [
    [up, NX],
    [one, NX],
    [one, NX],
    [up, NX],
    [up, NX],
  ]);
});

test('fmadd.s special cases and boxing', () => {
  expectAll(Op.FMADD_S, sb(0x7f800000), sb(0), CANON_S, CANON_S, NV);
  expectAll(Op.FMADD_S, s(1), s(1), sb(0x7f800001), CANON_S, NV);
  expectAll(Op.FMADD_S, 0x3f800000n, s(1), s(1), CANON_S, 0); // unboxed operand
  expectModes(Op.FMADD_S, s(2 ** 127), s(2), sb(0), [
    [sb(0x7f800000), OF | NX],
    [sb(0x7f7fffff), OF | NX],
    [sb(0x7f7fffff), OF | NX],
    [sb(0x7f800000), OF | NX],
    [sb(0x7f800000), OF | NX],
  ]);
  expectModes(Op.FMADD_S, s(2 ** -100), s(2 ** -50), sb(0), [
    [sb(0), UF | NX],
    [sb(0), UF | NX],
    [sb(0), UF | NX],
    [sb(1), UF | NX],
    [sb(1), UF | NX], // 2^-150 is half the smallest subnormal: a tie
  ]);
});
