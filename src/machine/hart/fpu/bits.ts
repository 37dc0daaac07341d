// Bit-level helpers for binary64 values held in JS numbers: exponents, steps of
// one ulp, exact powers of two and the error-free transformations (TwoSum,
// Dekker's product) that tell how far a round-to-nearest JS result is from the
// exact one. Module-level scratch arrays keep every call allocation-free.

const F = new Float64Array(1);
/** W[0] low 32 bits, W[1] high 32 bits of F[0] (little-endian, as in regs.ts). */
const W = new Int32Array(F.buffer);

export const TWO32 = 4294967296;
const TWO64 = 18446744073709551616;

/** 2^e for e in [-1074, 1023] at index e + 1074, built from bit patterns. */
const POW2 = new Float64Array(2098);
for (let e = -1074; e <= 1023; e++) {
  if (e >= -1022) {
    W[1] = (e + 1023) << 20;
    W[0] = 0;
  } else {
    const bit = e + 1074; // position of the single mantissa bit of a subnormal
    W[1] = bit >= 32 ? 1 << (bit - 32) : 0;
    W[0] = bit < 32 ? 1 << bit : 0;
  }
  POW2[e + 1074] = F[0];
}

/** 2^e exactly, for e in [-1074, 1023]. */
export function pow2(e: number): number {
  return POW2[e + 1074];
}

/** x * 2^e for any integer e; exact whenever the result is a normal number. */
export function mulPow2(x: number, e: number): number {
  while (e > 1023) {
    x *= POW2[1023 + 1074];
    e -= 1023;
  }
  while (e < -1022) {
    x *= POW2[-1022 + 1074];
    e += 1022;
  }
  return x * POW2[e + 1074];
}

/** floor(log2 |x|) for finite nonzero x, subnormals included. */
export function exponentOf(x: number): number {
  F[0] = x;
  const b = (W[1] >>> 20) & 0x7ff;
  if (b !== 0) return b - 1023;
  F[0] = x * TWO64;
  return ((W[1] >>> 20) & 0x7ff) - 1087;
}

/** True when the significand field of x is zero (x a normal power of two, or zero/inf). */
export function isPow2(x: number): boolean {
  F[0] = x;
  return W[0] === 0 && (W[1] & 0xfffff) === 0;
}

/** The neighbour of finite nonzero x one ulp further from zero. */
export function nextAway(x: number): number {
  F[0] = x;
  const lo = W[0];
  W[0] = (lo + 1) | 0;
  if (lo === -1) W[1] = (W[1] + 1) | 0;
  return F[0];
}

/** The neighbour of finite nonzero x one ulp closer to zero. */
export function nextToward0(x: number): number {
  F[0] = x;
  const lo = W[0];
  W[0] = (lo - 1) | 0;
  if (lo === 0) W[1] = (W[1] - 1) | 0;
  return F[0];
}

/** TwoSum: the exact error a + b - s of s = a + b (any finite a, b without overflow). */
export function twoSumErr(a: number, b: number, s: number): number {
  const bb = s - a;
  return a - (s - bb) + (b - bb);
}

const SPLIT = 134217729; // 2^27 + 1 (Veltkamp)

/**
 * Dekker's product: the exact error a * b - p of p = a * b. Exact when
 * |a|, |b| < 2^995 and the exponents of a and b sum to at least -970.
 */
export function twoProductErr(a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/**
 * Sign of a / b - q where q = RN(a / b) is finite and nonzero and the
 * operands are in twoProductErr's range: -1, 0 (q exact) or 1.
 */
export function divDir(a: number, b: number, q: number): number {
  const p = q * b;
  const e = twoProductErr(q, b, p);
  const d = a - p; // exact (Sterbenz: p is within a factor 2 of a)
  const r = d > e ? 1 : d < e ? -1 : 0; // sign of a - q * b
  return b < 0 ? -r : r;
}

/** Sign of sqrt(a) - r where r = RN(sqrt(a)) and a is in [2^-960, 2^1000]. */
export function sqrtDir(a: number, r: number): number {
  const p = r * r;
  const e = twoProductErr(r, r, p);
  const d = a - p;
  return d > e ? 1 : d < e ? -1 : 0;
}

/** True for -0 (and for negative numbers); false for +0. */
export function signBit(x: number): boolean {
  return x < 0 || (x === 0 && 1 / x < 0);
}
