// The bit-manipulation extensions Zba, Zbb, Zbc and Zbs on the interpreter's
// register halves (regs.ts: x[2r] low, x[2r + 1] high 32 bits). No BigInts:
// every operation works on the int32 halves. d, r1 and r2 are half indexes
// (2 * register); imm is the decoded shift amount or bit index.
// The block translator's versions are in jit/bitmanipEmitter.ts.

import { Op } from './ops.js';

/** Scratch for the 128-bit carry-less product, four 32-bit words, low first. */
const P = new Int32Array(4);

/** Number of set bits of an int32. */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

/** Trailing zeros of an int32 (32 for 0). */
export function ctz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}

/** The four bytes of an int32 in reverse order. */
function bswap32(v: number): number {
  return (v << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/** Each byte of an int32: 0xff when it is not zero. */
function orcb32(v: number): number {
  const t = (((v & 0x7f7f7f7f) + 0x7f7f7f7f) | v) & 0x80808080;
  return (t >>> 7) * 0xff;
}

/** XORs the 64-bit carry-less product of two uint32 values into P[o], P[o + 1]. */
function clmul32(a: number, b: number, o: number): void {
  let lo = 0;
  let hi = 0;
  for (let i = 0; b !== 0; i++, b >>>= 1) {
    if ((b & 1) !== 0) {
      lo ^= a << i;
      if (i !== 0) hi ^= a >>> (32 - i);
    }
  }
  P[o] ^= lo;
  P[o + 1] ^= hi;
}

/** P = the 128-bit carry-less product of (aLo, aHi) and (bLo, bHi). */
function clmul64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  P.fill(0);
  clmul32(aLo, bLo, 0);
  clmul32(aLo, bHi, 1);
  clmul32(aHi, bLo, 1);
  clmul32(aHi, bHi, 2);
}

/** x[d..d+1] = ((lo, hi) << sh) + x[r2], sh in 0..3. */
function shAdd(x: Int32Array, d: number, lo: number, hi: number, sh: number, r2: number): void {
  const sLo = lo << sh;
  const sHi = sh === 0 ? hi : (hi << sh) | (lo >>> (32 - sh));
  const bLo = x[r2];
  const sum = (sLo >>> 0) + (bLo >>> 0);
  x[d + 1] = (sHi + x[r2 + 1] + (sum > 0xffffffff ? 1 : 0)) | 0;
  x[d] = sum | 0;
}

/** x[d..d+1] = (lo, hi) rotated right by sh (0..63). */
function rotr(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  if (sh >= 32) {
    const t = lo;
    lo = hi;
    hi = t;
    sh -= 32;
  }
  if (sh === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else {
    x[d] = (lo >>> sh) | (hi << (32 - sh));
    x[d + 1] = (hi >>> sh) | (lo << (32 - sh));
  }
}

function put32(x: Int32Array, d: number, v: number): void {
  x[d] = v;
  x[d + 1] = v >> 31;
}

/** Runs the bit-manipulation instruction `op` (FIRST_ZB_OP..LAST_ZB_OP). */
export function executeBitmanip(
  op: number,
  x: Int32Array,
  d: number,
  r1: number,
  r2: number,
  imm: number,
): void {
  const a = x[r1];
  const ah = x[r1 + 1];
  switch (op) {
    case Op.ADD_UW:
      return shAdd(x, d, a, 0, 0, r2);
    case Op.SH1ADD:
    case Op.SH2ADD:
    case Op.SH3ADD:
      return shAdd(x, d, a, ah, op - Op.SH1ADD + 1, r2);
    case Op.SH1ADD_UW:
    case Op.SH2ADD_UW:
    case Op.SH3ADD_UW:
      return shAdd(x, d, a, 0, op - Op.SH1ADD_UW + 1, r2);
    case Op.SLLI_UW:
      if (imm === 0) {
        x[d] = a;
        x[d + 1] = 0;
      } else if (imm < 32) {
        x[d + 1] = a >>> (32 - imm);
        x[d] = a << imm;
      } else {
        x[d + 1] = a << (imm - 32);
        x[d] = 0;
      }
      return;
    case Op.ANDN:
      x[d] = a & ~x[r2];
      x[d + 1] = ah & ~x[r2 + 1];
      return;
    case Op.ORN:
      x[d] = a | ~x[r2];
      x[d + 1] = ah | ~x[r2 + 1];
      return;
    case Op.XNOR:
      x[d] = ~(a ^ x[r2]);
      x[d + 1] = ~(ah ^ x[r2 + 1]);
      return;
    case Op.CLZ:
      x[d] = ah !== 0 ? Math.clz32(ah) : 32 + Math.clz32(a);
      x[d + 1] = 0;
      return;
    case Op.CTZ:
      x[d] = a !== 0 ? ctz32(a) : 32 + ctz32(ah);
      x[d + 1] = 0;
      return;
    case Op.CPOP:
      x[d] = popcount32(a) + popcount32(ah);
      x[d + 1] = 0;
      return;
    case Op.CLZW:
      x[d] = Math.clz32(a);
      x[d + 1] = 0;
      return;
    case Op.CTZW:
      x[d] = ctz32(a);
      x[d + 1] = 0;
      return;
    case Op.CPOPW:
      x[d] = popcount32(a);
      x[d + 1] = 0;
      return;
    case Op.MAX:
    case Op.MAXU:
    case Op.MIN:
    case Op.MINU: {
      const bh = x[r2 + 1];
      const unsigned = op === Op.MAXU || op === Op.MINU;
      const hiLt = unsigned ? ah >>> 0 < bh >>> 0 : ah < bh;
      const lt = hiLt || (ah === bh && a >>> 0 < x[r2] >>> 0);
      // Take rs2 when it is the larger (MAX*) or the smaller (MIN*).
      const takeB = op === Op.MAX || op === Op.MAXU ? lt : !lt && !(ah === bh && a === x[r2]);
      if (takeB) {
        x[d] = x[r2];
        x[d + 1] = bh;
      } else {
        x[d] = a;
        x[d + 1] = ah;
      }
      return;
    }
    case Op.SEXT_B:
      return put32(x, d, (a << 24) >> 24);
    case Op.SEXT_H:
      return put32(x, d, (a << 16) >> 16);
    case Op.ZEXT_H:
      x[d] = a & 0xffff;
      x[d + 1] = 0;
      return;
    case Op.ROL:
      return rotr(x, d, a, ah, (64 - (x[r2] & 63)) & 63);
    case Op.ROR:
      return rotr(x, d, a, ah, x[r2] & 63);
    case Op.RORI:
      return rotr(x, d, a, ah, imm);
    case Op.ROLW: {
      const s = x[r2] & 31;
      return put32(x, d, s === 0 ? a : (a << s) | (a >>> (32 - s)));
    }
    case Op.RORW:
    case Op.RORIW: {
      const s = op === Op.RORW ? x[r2] & 31 : imm;
      return put32(x, d, s === 0 ? a : (a >>> s) | (a << (32 - s)));
    }
    case Op.ORC_B:
      x[d] = orcb32(a);
      x[d + 1] = orcb32(ah);
      return;
    case Op.REV8:
      x[d] = bswap32(ah);
      x[d + 1] = bswap32(a);
      return;
    case Op.CLMUL:
    case Op.CLMULH:
    case Op.CLMULR:
      clmul64(a, ah, x[r2], x[r2 + 1]);
      if (op === Op.CLMUL) {
        x[d] = P[0];
        x[d + 1] = P[1];
      } else if (op === Op.CLMULH) {
        x[d] = P[2];
        x[d + 1] = P[3];
      } else {
        // Bits 126..63 of the product.
        x[d] = (P[1] >>> 31) | (P[2] << 1);
        x[d + 1] = (P[2] >>> 31) | (P[3] << 1);
      }
      return;
    case Op.BCLR:
    case Op.BCLRI:
    case Op.BINV:
    case Op.BINVI:
    case Op.BSET:
    case Op.BSETI: {
      const i = op === Op.BCLR || op === Op.BINV || op === Op.BSET ? x[r2] & 63 : imm;
      const mLo = i < 32 ? 1 << i : 0;
      const mHi = i < 32 ? 0 : 1 << (i - 32);
      if (op === Op.BCLR || op === Op.BCLRI) {
        x[d] = a & ~mLo;
        x[d + 1] = ah & ~mHi;
      } else if (op === Op.BINV || op === Op.BINVI) {
        x[d] = a ^ mLo;
        x[d + 1] = ah ^ mHi;
      } else {
        x[d] = a | mLo;
        x[d + 1] = ah | mHi;
      }
      return;
    }
    case Op.BEXT:
    case Op.BEXTI: {
      const i = op === Op.BEXT ? x[r2] & 63 : imm;
      x[d] = i < 32 ? (a >>> i) & 1 : (ah >>> (i - 32)) & 1;
      x[d + 1] = 0;
      return;
    }
  }
  throw new Error(`bitmanip: no case for op ${op}`);
}
