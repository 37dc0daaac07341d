// Seeded random numbers and the operand pools of the differential tests:
// integer corner cases, and binary32/binary64 corner cases (signed zeros,
// infinities, quiet and signalling NaNs, subnormals, rounding ties, values
// around the integer conversion limits) mixed with random bit patterns.

/** sfc32: a small, fast, seedable generator; every case gets its own stream. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: number) {
    this.a = seed | 0;
    this.b = Math.imul(stream | 0, 0x9e3779b1) ^ 0x243f6a88;
    this.c = (stream / 4294967296) | 0;
    this.d = 1;
    for (let i = 0; i < 16; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  bool(p = 0.5): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  /** Random 64-bit value with only a few bits set (or clear). */
  sparse64(): bigint {
    let v = 0n;
    const n = this.range(1, 4);
    for (let i = 0; i < n; i++) v |= 1n << BigInt(this.int(64));
    return this.bool() ? v : BigInt.asUintN(64, ~v);
  }
}

const M64 = (1n << 64n) - 1n;
export const u64 = (v: bigint): bigint => v & M64;
export const sx32 = (v: bigint): bigint => u64(BigInt.asIntN(32, v));

/** Integer values that break arithmetic: limits of 8/16/32/64 bits, signed and unsigned. */
export const INT_SPECIAL: readonly bigint[] = [
  0n,
  1n,
  2n,
  3n,
  7n,
  u64(-1n),
  u64(-2n),
  0x7fn,
  0x80n,
  0xffn,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0xffffffff80000000n,
  0xffffffff7fffffffn,
  0x000000017fffffffn,
  0x0000000180000000n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0x8000000000000001n,
  0xfffffffffffffffen,
  31n,
  32n,
  33n,
  63n,
  64n,
  0x5555555555555555n,
  0xaaaaaaaaaaaaaaaan,
  0x00000000deadbeefn,
  0xffffffffdeadbeefn,
  0x123456789abcdef0n,
];

/** A value from INT_SPECIAL, a small number, or a random pattern. */
export function randInt(r: Rng): bigint {
  switch (r.int(8)) {
    case 0:
    case 1:
    case 2:
      return r.pick(INT_SPECIAL);
    case 3:
      return u64(BigInt(r.range(-40, 40)));
    case 4:
      return sx32(BigInt(r.u32()));
    case 5:
      return BigInt(r.u32());
    case 6:
      return r.sparse64();
    default:
      return r.u64();
  }
}

// ---- floating point bit patterns -------------------------------------------

const dv = new DataView(new ArrayBuffer(8));

export function f64bits(x: number): bigint {
  dv.setFloat64(0, x, true);
  return dv.getBigUint64(0, true);
}

export function f32bits(x: number): number {
  dv.setFloat32(0, x, true);
  return dv.getUint32(0, true);
}

export function bitsF64(b: bigint): number {
  dv.setBigUint64(0, b, true);
  return dv.getFloat64(0, true);
}

export function bitsF32(b: number): number {
  dv.setUint32(0, b >>> 0, true);
  return dv.getFloat32(0, true);
}

/** A binary32 value NaN-boxed in a 64-bit register. */
export function box(s: number): bigint {
  return 0xffffffff00000000n | BigInt(s >>> 0);
}

/** The neighbours of each value: one and two ulps either way (same sign). */
function withNeighbours64(xs: number[]): bigint[] {
  const out: bigint[] = [];
  for (const x of xs) {
    const b = f64bits(x);
    out.push(b, b + 1n, b - 1n, b + 2n, b - 2n);
  }
  return out;
}

function withNeighbours32(xs: number[]): number[] {
  const out: number[] = [];
  for (const x of xs) {
    const b = f32bits(x);
    out.push(b, b + 1, b - 1, b + 2, b - 2);
  }
  return out.map((v) => v >>> 0);
}

/** Values around the integer conversion limits, positive and negative. */
const LIMITS = [2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, -(2 ** 31), -(2 ** 32), -(2 ** 63), -(2 ** 64)];
const HALVES = [
  0.5,
  1.5,
  2.5,
  3.5,
  -0.5,
  -1.5,
  -2.5,
  0.25,
  0.75,
  -0.75,
  2 ** 31 - 0.5,
  2 ** 32 - 0.5,
  -(2 ** 31) - 0.5,
];

export const F64_SPECIAL: readonly bigint[] = [
  0n,
  0x8000000000000000n,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0xfff8000000000000n,
  0x7ff8000000000001n,
  0x7fffffffffffffffn,
  0x7ff0000000000001n,
  0x7ff4000000000000n,
  0xfff0000000000001n,
  0x7ff7ffffffffffffn,
  1n,
  2n,
  0x000fffffffffffffn,
  0x8000000000000001n,
  0x800fffffffffffffn,
  0x0008000000000000n,
  0x0010000000000000n,
  0x8010000000000000n,
  0x0010000000000001n,
  0x7fefffffffffffffn,
  0xffefffffffffffffn,
  0x7fe0000000000000n,
  ...[
    1,
    -1,
    2,
    3,
    0.1,
    1 / 3,
    10,
    2 ** -1022 * 1.5,
    2 ** 1000,
    2 ** -1000,
    2 ** 512,
    2 ** -540,
    2 ** 53,
    2 ** 24,
    2 ** -53,
    2 ** -24,
    2 ** -25,
    3 * 2 ** -54,
    1 + 2 ** -24,
    1 + 3 * 2 ** -25,
    3.4028234663852886e38,
    1.1754943508222875e-38,
    1.401298464324817e-45,
    7.006492321624085e-46,
  ].map(f64bits),
  ...withNeighbours64(LIMITS),
  ...HALVES.map(f64bits),
  // Rounding to binary32 at its edges: the overflow threshold, the subnormal range and the
  // midpoint between the largest subnormal and the smallest normal (tininess after rounding).
  ...withNeighbours64([
    2 ** 128 - 2 ** 103,
    2 ** 128 - 2 ** 104,
    2 ** -150,
    3 * 2 ** -150,
    2 ** -126 * (1 - 2 ** -24),
    2 ** -126 * (1 - 2 ** -23),
    2 ** -126,
  ]),
];

export const F32_SPECIAL: readonly number[] = [
  0,
  0x80000000,
  0x7f800000,
  0xff800000,
  0x7fc00000,
  0xffc00000,
  0x7fc00001,
  0x7fffffff,
  0x7f800001,
  0x7fa00000,
  0xff800001,
  0x7fbfffff,
  1,
  2,
  0x007fffff,
  0x80000001,
  0x807fffff,
  0x00400000,
  0x00800000,
  0x80800000,
  0x00800001,
  0x7f7fffff,
  0xff7fffff,
  0x7f000000,
  ...[
    1,
    -1,
    2,
    3,
    0.1,
    1 / 3,
    10,
    2 ** 100,
    2 ** -100,
    2 ** 64,
    2 ** -70,
    2 ** 24,
    2 ** -24,
    2 ** -12,
    3 * 2 ** -25,
    1 + 2 ** -12,
  ].map(f32bits),
  ...withNeighbours32(LIMITS),
  ...HALVES.map(f32bits),
].map((v) => v >>> 0);

/** Conversion-focused values: limits, ties, small integers. */
export const F64_CONVERT: readonly bigint[] = [
  ...withNeighbours64(LIMITS),
  ...HALVES.map(f64bits),
  ...[
    0,
    -0,
    1,
    -1,
    0.999999,
    -0.999999,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 62,
    -(2 ** 62),
    2 ** 31 - 1,
    2 ** 32 - 1,
    4294967295.5,
    2147483647.5,
    -2147483648.5,
    -2147483647.5,
    1e19,
    -1e19,
    1e30,
  ].map(f64bits),
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0xfff8000000000000n,
  0x7ff0000000000001n,
  1n,
];

export const F32_CONVERT: readonly number[] = [
  ...withNeighbours32(LIMITS),
  ...HALVES.map(f32bits),
  ...[
    0,
    -0,
    1,
    -1,
    0.999999,
    -0.999999,
    2 ** 24,
    2 ** 24 + 2,
    2 ** 62,
    -(2 ** 62),
    2 ** 30 * 1.5,
    1e19,
    -1e19,
    1e30,
  ].map(f32bits),
  0x7f800000,
  0xff800000,
  0x7fc00000,
  0xffc00000,
  0x7f800001,
  1,
].map((v) => v >>> 0);

/** Integers for fcvt.s/d.{w,wu,l,lu}: values that round, ties, limits, garbage in the upper half. */
export const INT_CONVERT: readonly bigint[] = [
  0n,
  1n,
  u64(-1n),
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0xffffffff80000000n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  u64(-1n),
  0x1000001n,
  0x1000003n,
  0x1000002n,
  0x7ffffffn,
  0xffffff1n,
  0x20000000000001n,
  0x20000000000003n,
  0x20000000000002n,
  0x8000000000000401n,
  0x8000000000000400n,
  0x8000000000000c00n,
  0xfffffffffffff800n,
  0x7ffffffffffffc00n,
  0x7ffffffffffffdffn,
  0x7ffffe00n,
  0x7fffff80n,
  0xffffff80n,
  0xdeadbeef01000001n,
  0x12345678ffffffffn,
  0x00000001fffffe80n,
];

/** A binary64 pattern: a corner case, a random value of some magnitude, or random bits. */
export function randF64(r: Rng): bigint {
  const sign = r.bool() ? 1n << 63n : 0n;
  const mant = r.u64() & 0xfffffffffffffn;
  switch (r.int(10)) {
    case 0:
    case 1:
    case 2:
      return r.pick(F64_SPECIAL);
    case 9: // around the binary32 limits: fcvt.s.d underflows, overflows, rounds to subnormals
      return sign | (BigInt(r.bool() ? r.range(870, 898) : r.range(1148, 1152)) << 52n) | mant;
    case 3:
      return r.u64();
    case 4: // ordinary magnitudes
      return sign | (BigInt(1023 + r.range(-40, 40)) << 52n) | mant;
    case 5: // subnormal and tiny
      return sign | (BigInt(r.range(0, 3)) << 52n) | (r.bool() ? mant : mant >> BigInt(r.int(52)));
    case 6: // huge
      return sign | (BigInt(r.range(0x7fa, 0x7fe)) << 52n) | mant;
    case 7: // short mantissa: exact results and ties are likely
      return (
        sign |
        (BigInt(1023 + r.range(-4, 60)) << 52n) |
        (mant & (0xfffffffffffffn << BigInt(r.range(30, 52))) & 0xfffffffffffffn)
      );
    default:
      return r.pick(F64_CONVERT);
  }
}

/** A binary32 pattern (32 bits). */
export function randF32(r: Rng): number {
  const sign = r.bool() ? 0x80000000 : 0;
  const mant = r.u32() & 0x7fffff;
  let v: number;
  switch (r.int(9)) {
    case 0:
    case 1:
    case 2:
      return r.pick(F32_SPECIAL);
    case 3:
      return r.u32();
    case 4:
      v = sign | ((127 + r.range(-20, 20)) << 23) | mant;
      break;
    case 5:
      v = sign | (r.range(0, 3) << 23) | (r.bool() ? mant : mant >>> r.int(23));
      break;
    case 6:
      v = sign | (r.range(0xfa, 0xfe) << 23) | mant;
      break;
    case 7:
      v =
        sign |
        ((127 + r.range(-4, 40)) << 23) |
        (mant & ((0x7fffff << r.range(10, 23)) & 0x7fffff));
      break;
    default:
      return r.pick(F32_CONVERT);
  }
  return v >>> 0;
}

/** A binary32 in a 64-bit register: usually NaN-boxed, sometimes improperly boxed. */
export function randBoxed(r: Rng, improper = 0.12): bigint {
  const s = BigInt(randF32(r));
  if (!r.bool(improper)) return 0xffffffff00000000n | s;
  const hi = r.pick([0n, 0x7ff80000n, 0xfffffffen, 0x7fffffffn, BigInt(r.u32()), 0xffff0000n]);
  return (hi << 32n) | s;
}

/** An FP register value for mixed single/double use. */
export function randFreg(r: Rng): bigint {
  return r.bool() ? randF64(r) : randBoxed(r);
}

export function hex64(v: bigint): string {
  return '0x' + u64(v).toString(16).padStart(16, '0');
}
