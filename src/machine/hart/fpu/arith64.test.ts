// Double-precision add/sub/mul/div/sqrt against values worked out from the
// spec: every rounding mode on ties and near-ties, overflow by mode, underflow
// with tininess detected after rounding, subnormals, NaN rules.

import { test } from 'node:test';
import { Op } from '../ops.js';
import { CANON_D, DZ, NV, NX, OF, UF, d, expectAll, expectModes } from './testkit.js';

const ONE = d(1);
const MAX = 0x7fefffffffffffffn;
const INF = 0x7ff0000000000000n;
const NINF = 0xfff0000000000000n;
const MINNORM = 0x0010000000000000n;
const MAXSUB = 0x000fffffffffffffn;
const NEG0 = 0x8000000000000000n;
const SNAN = 0x7ff0000000000001n;
const QNAN_PAYLOAD = 0xfff8000000000123n;
const U1 = 0x3ff0000000000001n; // 1 + 2^-52
const U2 = 0x3ff0000000000002n; // 1 + 2^-51
const BELOW1 = 0x3fefffffffffffffn; // 1 - 2^-53

test('fadd.d rounds ties and near-ties in every mode', () => {
  // 1 + 2^-53: exactly halfway, even neighbour is 1.
  expectModes(Op.FADD_D, ONE, d(2 ** -53), 0n, [
    [ONE, NX],
    [ONE, NX],
    [ONE, NX],
    [U1, NX],
    [U1, NX],
  ]);
  // -(1 + 2^-53)
  const N1 = d(-1);
  const NU1 = d(-(1 + 2 ** -52));
  expectModes(Op.FADD_D, N1, d(-(2 ** -53)), 0n, [
    [N1, NX],
    [N1, NX],
    [NU1, NX],
    [N1, NX],
    [NU1, NX],
  ]);
  // (1 + 2^-52) + 2^-53: halfway, even neighbour is above.
  expectModes(Op.FADD_D, U1, d(2 ** -53), 0n, [
    [U2, NX],
    [U1, NX],
    [U1, NX],
    [U2, NX],
    [U2, NX],
  ]);
  // 1 + 3 * 2^-54: above halfway.
  expectModes(Op.FADD_D, ONE, d(3 * 2 ** -54), 0n, [
    [U1, NX],
    [ONE, NX],
    [ONE, NX],
    [U1, NX],
    [U1, NX],
  ]);
  // 1 - 2^-54: halfway across the binade boundary below 1.
  expectModes(Op.FSUB_D, ONE, d(2 ** -54), 0n, [
    [ONE, NX],
    [BELOW1, NX],
    [BELOW1, NX],
    [ONE, NX],
    [ONE, NX],
  ]);
  // 1 - 2^-55: a quarter of the gap below 1.
  expectModes(Op.FSUB_D, ONE, d(2 ** -55), 0n, [
    [ONE, NX],
    [BELOW1, NX],
    [BELOW1, NX],
    [ONE, NX],
    [ONE, NX],
  ]);
  // An addend far below the last place still decides directed rounding.
  expectModes(Op.FADD_D, ONE, 1n, 0n, [
    [ONE, NX],
    [ONE, NX],
    [ONE, NX],
    [U1, NX],
    [ONE, NX],
  ]);
});

test('fadd.d/fsub.d give exact zeros the IEEE sign in each mode', () => {
  const x = d(1.5);
  const mx = d(-1.5);
  expectModes(Op.FADD_D, x, mx, 0n, [
    [0n, 0],
    [0n, 0],
    [NEG0, 0],
    [0n, 0],
    [0n, 0],
  ]);
  expectModes(Op.FSUB_D, x, x, 0n, [
    [0n, 0],
    [0n, 0],
    [NEG0, 0],
    [0n, 0],
    [0n, 0],
  ]);
  expectAll(Op.FADD_D, NEG0, NEG0, 0n, NEG0, 0);
  expectAll(Op.FADD_D, 0n, 0n, 0n, 0n, 0);
  expectModes(Op.FADD_D, 0n, NEG0, 0n, [
    [0n, 0],
    [0n, 0],
    [NEG0, 0],
    [0n, 0],
    [0n, 0],
  ]);
  expectModes(Op.FSUB_D, MAX, MAX, 0n, [
    [0n, 0],
    [0n, 0],
    [NEG0, 0],
    [0n, 0],
    [0n, 0],
  ]);
});

test('fadd.d overflows to infinity or the largest finite number by mode', () => {
  const NMAX = MAX | NEG0;
  expectModes(Op.FADD_D, MAX, MAX, 0n, [
    [INF, OF | NX],
    [MAX, OF | NX],
    [MAX, OF | NX],
    [INF, OF | NX],
    [INF, OF | NX],
  ]);
  expectModes(Op.FSUB_D, NMAX, MAX, 0n, [
    [NINF, OF | NX],
    [NMAX, OF | NX],
    [NINF, OF | NX],
    [NMAX, OF | NX],
    [NINF, OF | NX],
  ]);
  // max + half an ulp (2^970): a tie; max is odd, so nearest-even overflows.
  expectModes(Op.FADD_D, MAX, d(2 ** 970), 0n, [
    [INF, OF | NX],
    [MAX, NX],
    [MAX, NX],
    [INF, OF | NX],
    [INF, OF | NX],
  ]);
  // max + a quarter ulp.
  expectModes(Op.FADD_D, MAX, d(2 ** 969), 0n, [
    [MAX, NX],
    [MAX, NX],
    [MAX, NX],
    [INF, OF | NX],
    [MAX, NX],
  ]);
  expectAll(Op.FADD_D, INF, ONE, 0n, INF, 0);
});

test('fadd.d is exact on subnormals and raises no underflow', () => {
  expectAll(Op.FADD_D, 1n, 1n, 0n, 2n, 0);
  expectAll(Op.FSUB_D, MINNORM, 1n, 0n, MAXSUB, 0);
});

test('fadd.d NaNs: canonical result, NV only for signalling NaN or inf - inf', () => {
  expectAll(Op.FADD_D, INF, NINF, 0n, CANON_D, NV);
  expectAll(Op.FSUB_D, INF, INF, 0n, CANON_D, NV);
  expectAll(Op.FADD_D, SNAN, ONE, 0n, CANON_D, NV);
  expectAll(Op.FADD_D, ONE, SNAN, 0n, CANON_D, NV);
  expectAll(Op.FADD_D, QNAN_PAYLOAD, ONE, 0n, CANON_D, 0);
  expectAll(Op.FSUB_D, QNAN_PAYLOAD, INF, 0n, CANON_D, 0);
});

test('fmul.d rounds ties in every mode', () => {
  // (1 + 2^-27)(1 + 2^-26) = 1 + 2^-26 + 2^-27 + 2^-53: a tie, the lower neighbour even.
  const lo = 0x3ff0000006000000n;
  const hi = 0x3ff0000006000001n;
  expectModes(Op.FMUL_D, d(1 + 2 ** -27), d(1 + 2 ** -26), 0n, [
    [lo, NX],
    [lo, NX],
    [lo, NX],
    [hi, NX],
    [hi, NX],
  ]);
  // (1 + 2^-52) * 1.5 = 1.5 + 2^-52 + 2^-53: a tie, the upper neighbour even.
  const a = 0x3ff8000000000001n;
  const b = 0x3ff8000000000002n;
  expectModes(Op.FMUL_D, U1, d(1.5), 0n, [
    [b, NX],
    [a, NX],
    [a, NX],
    [b, NX],
    [b, NX],
  ]);
  expectAll(Op.FMUL_D, d(-0), d(5), 0n, NEG0, 0);
});

test('fmul.d detects tininess after rounding', () => {
  // (1 + 2^-52)(2^-1022 - 2^-1074) = 2^-1022 - 2^-1126: rounds to 2^-1022 with an
  // unbounded exponent in RNE/RUP/RMM (not tiny), below it in RTZ/RDN (tiny).
  expectModes(Op.FMUL_D, U1, MAXSUB, 0n, [
    [MINNORM, NX],
    [MAXSUB, UF | NX],
    [MAXSUB, UF | NX],
    [MINNORM, NX],
    [MINNORM, NX],
  ]);
  // (1 - 2^-53) * 2^-1022 is a 53-bit number below 2^-1022: tiny in every mode.
  expectModes(Op.FMUL_D, BELOW1, MINNORM, 0n, [
    [MINNORM, UF | NX],
    [MAXSUB, UF | NX],
    [MAXSUB, UF | NX],
    [MINNORM, UF | NX],
    [MINNORM, UF | NX],
  ]);
});

test('fmul.d subnormal results and underflow to zero', () => {
  expectAll(Op.FMUL_D, d(2 ** -1000), d(2 ** -70), 0n, 0x10n, 0);
  expectModes(Op.FMUL_D, d(2 ** -1000), d(2 ** -100), 0n, [
    [0n, UF | NX],
    [0n, UF | NX],
    [0n, UF | NX],
    [1n, UF | NX],
    [0n, UF | NX],
  ]);
  expectModes(Op.FMUL_D, d(2 ** -1000), d(-(2 ** -100)), 0n, [
    [NEG0, UF | NX],
    [NEG0, UF | NX],
    [NEG0 | 1n, UF | NX],
    [NEG0, UF | NX],
    [NEG0, UF | NX],
  ]);
  // Half the smallest subnormal: a tie between 0 and it.
  expectModes(Op.FMUL_D, 1n, d(0.5), 0n, [
    [0n, UF | NX],
    [0n, UF | NX],
    [0n, UF | NX],
    [1n, UF | NX],
    [1n, UF | NX],
  ]);
  // 1.5 times the smallest subnormal: a tie between 1 and 2 units.
  expectModes(Op.FMUL_D, 3n, d(0.5), 0n, [
    [2n, UF | NX],
    [1n, UF | NX],
    [1n, UF | NX],
    [2n, UF | NX],
    [2n, UF | NX],
  ]);
});

test('fmul.d overflow and invalid', () => {
  expectModes(Op.FMUL_D, d(2 ** 1000), d(2 ** 100), 0n, [
    [INF, OF | NX],
    [MAX, OF | NX],
    [MAX, OF | NX],
    [INF, OF | NX],
    [INF, OF | NX],
  ]);
  expectAll(Op.FMUL_D, 0n, INF, 0n, CANON_D, NV);
  expectAll(Op.FMUL_D, NINF, NEG0, 0n, CANON_D, NV);
  expectAll(Op.FMUL_D, NINF, d(-2), 0n, INF, 0);
  expectAll(Op.FMUL_D, SNAN, 0n, 0n, CANON_D, NV);
});

test('fdiv.d rounds by the sign of the remainder', () => {
  const t = 0x3fd5555555555555n; // RN(1/3), below 1/3
  expectModes(Op.FDIV_D, ONE, d(3), 0n, [
    [t, NX],
    [t, NX],
    [t, NX],
    [t + 1n, NX],
    [t, NX],
  ]);
  const nt = t | NEG0;
  expectModes(Op.FDIV_D, d(-1), d(3), 0n, [
    [nt, NX],
    [nt, NX],
    [nt + 1n, NX],
    [nt, NX],
    [nt, NX],
  ]);
  expectAll(Op.FDIV_D, d(6), d(3), 0n, d(2), 0);
});

test('fdiv.d special cases: DZ, NV, infinities and zeros', () => {
  expectAll(Op.FDIV_D, ONE, 0n, 0n, INF, DZ);
  expectAll(Op.FDIV_D, d(-1), 0n, 0n, NINF, DZ);
  expectAll(Op.FDIV_D, ONE, NEG0, 0n, NINF, DZ);
  expectAll(Op.FDIV_D, 0n, 0n, 0n, CANON_D, NV);
  expectAll(Op.FDIV_D, INF, INF, 0n, CANON_D, NV);
  expectAll(Op.FDIV_D, INF, 0n, 0n, INF, 0);
  expectAll(Op.FDIV_D, ONE, NINF, 0n, NEG0, 0);
  expectAll(Op.FDIV_D, QNAN_PAYLOAD, 0n, 0n, CANON_D, 0);
  expectAll(Op.FDIV_D, SNAN, ONE, 0n, CANON_D, NV);
});

test('fdiv.d subnormal ties and overflow', () => {
  expectModes(Op.FDIV_D, 3n, d(2), 0n, [
    [2n, UF | NX],
    [1n, UF | NX],
    [1n, UF | NX],
    [2n, UF | NX],
    [2n, UF | NX],
  ]);
  expectAll(Op.FDIV_D, MINNORM, d(2), 0n, 0x0008000000000000n, 0);
  expectModes(Op.FDIV_D, ONE, 1n, 0n, [
    [INF, OF | NX],
    [MAX, OF | NX],
    [MAX, OF | NX],
    [INF, OF | NX],
    [INF, OF | NX],
  ]);
  expectAll(Op.FDIV_D, 1n, MINNORM, 0n, d(2 ** -52), 0);
});

test('fsqrt.d in every mode, special operands, subnormals', () => {
  // sqrt(2) = 1.41421356237309504880...; RN is 0x3ff6a09e667f3bcd, above it.
  const r = 0x3ff6a09e667f3bcdn;
  expectModes(Op.FSQRT_D, d(2), 0n, 0n, [
    [r, NX],
    [r - 1n, NX],
    [r - 1n, NX],
    [r, NX],
    [r, NX],
  ]);
  expectAll(Op.FSQRT_D, d(4), 0n, 0n, d(2), 0);
  expectAll(Op.FSQRT_D, NEG0, 0n, 0n, NEG0, 0);
  expectAll(Op.FSQRT_D, 0n, 0n, 0n, 0n, 0);
  expectAll(Op.FSQRT_D, d(-1), 0n, 0n, CANON_D, NV);
  expectAll(Op.FSQRT_D, NINF, 0n, 0n, CANON_D, NV);
  expectAll(Op.FSQRT_D, INF, 0n, 0n, INF, 0);
  expectAll(Op.FSQRT_D, SNAN, 0n, 0n, CANON_D, NV);
  expectAll(Op.FSQRT_D, QNAN_PAYLOAD, 0n, 0n, CANON_D, 0);
  expectAll(Op.FSQRT_D, 1n, 0n, 0n, d(2 ** -537), 0);
  // sqrt(2^-1073) = 2^-537 * sqrt(2)
  const rs = 0x1e66a09e667f3bcdn;
  expectModes(Op.FSQRT_D, 2n, 0n, 0n, [
    [rs, NX],
    [rs - 1n, NX],
    [rs - 1n, NX],
    [rs, NX],
    [rs, NX],
  ]);
  // sqrt(max) = 2^512 (1 - 2^-54 - 2^-109 ...): just more than half an ulp below 2^512.
  const below = 0x5fefffffffffffffn;
  expectModes(Op.FSQRT_D, MAX, 0n, 0n, [
    [below, NX],
    [below, NX],
    [below, NX],
    [d(2 ** 512), NX],
    [below, NX],
  ]);
});
