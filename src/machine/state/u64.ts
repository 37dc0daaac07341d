// The one codec for 64-bit values in saved state: 16 lowercase hex digits, most
// significant first ("00000000deadbeef"). JSON keeps it exactly, it sorts and
// compares as text, and every part writes its registers, addresses, feature words
// and times this one way. Signed values are stored as their 64-bit two's
// complement.

/** A 64-bit value in saved state: exactly 16 lowercase hex digits. */
export type U64 = string;

const TWO32 = 4294967296;
const RE = /^[0-9a-f]{16}$/;

/** True when `v` is a well-formed U64. */
export function isU64(v: unknown): v is U64 {
  return typeof v === 'string' && RE.test(v);
}

/** The value whose low and high 32-bit halves are `lo` and `hi` (either signedness). */
export function u64FromHalves(lo: number, hi: number): U64 {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** The halves of `v` as signed 32-bit integers: [low, high]. */
export function u64Halves(v: U64): [number, number] {
  return [parseInt(v.slice(8), 16) | 0, parseInt(v.slice(0, 8), 16) | 0];
}

/**
 * An integer-valued Number: from 0 to below 2^64 (as it is, even beyond 2^53),
 * or a negative safe integer (as two's complement).
 */
export function u64FromNumber(n: number): U64 {
  if (Number.isInteger(n) && n >= 0 && n < 2 ** 64) {
    return u64FromHalves(n % TWO32, Math.floor(n / TWO32));
  }
  if (!Number.isSafeInteger(n)) throw new RangeError(`${n} is not a 64-bit integer`);
  return u64FromBigInt(BigInt(n));
}

/** `v` as an unsigned Number (exact only up to 2^53; checkers bound it first). */
export function u64ToNumber(v: U64): number {
  const [lo, hi] = u64Halves(v);
  return (hi >>> 0) * TWO32 + (lo >>> 0);
}

/** `v` read as a signed 64-bit value, as a Number (exact within the safe range). */
export function i64ToNumber(v: U64): number {
  const [lo, hi] = u64Halves(v);
  return hi * TWO32 + (lo >>> 0);
}

/** Any bigint, reduced modulo 2^64. */
export function u64FromBigInt(b: bigint): U64 {
  return BigInt.asUintN(64, b).toString(16).padStart(16, '0');
}

export function u64ToBigInt(v: U64): bigint {
  return BigInt('0x' + v);
}

/** `v` read as a signed 64-bit value. */
export function i64ToBigInt(v: U64): bigint {
  return BigInt.asIntN(64, BigInt('0x' + v));
}
