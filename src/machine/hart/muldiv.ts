// 64-bit MULH*, DIV* and REM* on int32 halves without making BigInts in the
// common case. High products come from four 32 x 32 -> 64 products that V8
// computes as machine multiplies on BigUint64Array elements; divisions whose
// operands fit in 52 bits are exact in doubles; the rest fall back to BigInt.
// (MUL itself stays a BigInt64Array multiply, which V8 compiles to one
// machine instruction.)

const S32 = new Uint32Array(16);
const S64 = new BigUint64Array(S32.buffer);
const TWO32 = 4294967296;
/** Operands below 2^52 in magnitude divide exactly in doubles. */
const EXACT = 2 ** 52;

/** High 64 bits of unsigned a * b into out[o], out[o + 1]. */
export function mulhu(
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
  out: Int32Array,
  o: number,
): void {
  S32[0] = aLo;
  S32[2] = aHi;
  S32[4] = bLo;
  S32[6] = bHi;
  S64[4] = S64[0] * S64[2];
  S64[5] = S64[0] * S64[3];
  S64[6] = S64[1] * S64[2];
  S64[7] = S64[1] * S64[3];
  const mid = S32[9] + S32[10] + S32[12];
  const w2 = S32[11] + S32[13] + S32[14] + Math.floor(mid / TWO32);
  out[o] = w2 | 0;
  out[o + 1] = (S32[15] + Math.floor(w2 / TWO32)) | 0;
}

function subFromHigh(out: Int32Array, o: number, lo: number, hi: number): void {
  const d = (out[o] >>> 0) - (lo >>> 0);
  out[o] = d | 0;
  out[o + 1] = (out[o + 1] - hi - (d < 0 ? 1 : 0)) | 0;
}

/** High 64 bits of signed a * signed b. */
export function mulh(
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
  out: Int32Array,
  o: number,
): void {
  mulhu(aLo, aHi, bLo, bHi, out, o);
  if (aHi < 0) subFromHigh(out, o, bLo, bHi);
  if (bHi < 0) subFromHigh(out, o, aLo, aHi);
}

/** High 64 bits of signed a * unsigned b. */
export function mulhsu(
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
  out: Int32Array,
  o: number,
): void {
  mulhu(aLo, aHi, bLo, bHi, out, o);
  if (aHi < 0) subFromHigh(out, o, bLo, bHi);
}

function put(out: Int32Array, o: number, v: number): void {
  out[o] = v | 0;
  out[o + 1] = Math.floor(v / TWO32) | 0;
}

/** Quotient and remainder of non-negative integers below 2^52, exact. */
function divmod(a: number, b: number, wantRem: boolean): number {
  let q = Math.floor(a / b);
  let r = a - q * b;
  if (r < 0) {
    q -= 1;
    r += b;
  } else if (r >= b) {
    q += 1;
    r -= b;
  }
  return wantRem ? r : q;
}

/**
 * DIV, DIVU, REM, REMU with the RISC-V results for division by zero and
 * overflow. `signed` selects DIV/REM; `rem` selects the remainder.
 */
export function divide(
  x: Int32Array,
  x64: BigInt64Array,
  d: number,
  r1: number,
  r2: number,
  signed: boolean,
  rem: boolean,
): void {
  const aLo = x[r1];
  const aHi = x[r1 + 1];
  const bLo = x[r2];
  const bHi = x[r2 + 1];
  const a = signed ? aHi * TWO32 + (aLo >>> 0) : (aHi >>> 0) * TWO32 + (aLo >>> 0);
  const b = signed ? bHi * TWO32 + (bLo >>> 0) : (bHi >>> 0) * TWO32 + (bLo >>> 0);
  if (b === 0) {
    // Division by zero: quotient all ones, remainder the dividend.
    if (rem) {
      x[d] = aLo;
      x[d + 1] = aHi;
    } else {
      x[d] = -1;
      x[d + 1] = -1;
    }
    return;
  }
  if (Math.abs(a) < EXACT && Math.abs(b) < EXACT) {
    const r = divmod(Math.abs(a), Math.abs(b), rem);
    // Quotient sign: negative when the signs differ; remainder takes the dividend's sign.
    const neg = rem ? a < 0 : a < 0 !== b < 0;
    put(x, d, neg ? -r : r);
    return;
  }
  const i = d >> 1;
  const sa = x64[r1 >> 1];
  const sb = x64[r2 >> 1];
  if (signed)
    x64[i] = rem ? sa % sb : sa / sb; // MIN / -1 wraps to MIN and MIN % -1 is 0, as RISC-V says
  else {
    const ua = BigInt.asUintN(64, sa);
    const ub = BigInt.asUintN(64, sb);
    x64[i] = rem ? ua % ub : ua / ub;
  }
}
