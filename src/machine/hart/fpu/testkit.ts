// Test helpers for the FPU unit tests: registers addressed by bit pattern, and
// one call that runs an instruction and returns the result bits and the flags
// it raised. Used only by the *.test.ts files beside it.

import { Op } from '../ops.js';
import { writesIntRd } from '../decode.js';
import { FpRegs, IntRegs } from '../regs.js';
import { executeFp } from './execute.js';

export const RNE = 0;
export const RTZ = 1;
export const RDN = 2;
export const RUP = 3;
export const RMM = 4;
export const ALL_RM = [RNE, RTZ, RDN, RUP, RMM];

export const NV = 16;
export const DZ = 8;
export const OF = 4;
export const UF = 2;
export const NX = 1;

const dv = new DataView(new ArrayBuffer(8));

/** Bits of a double. */
export function d(v: number): bigint {
  dv.setFloat64(0, v);
  return dv.getBigUint64(0);
}

/** NaN-boxed bits of a single (v must be exactly representable). */
export function s(v: number): bigint {
  dv.setFloat32(0, v);
  if (dv.getFloat32(0) !== v && v === v) throw new Error(`${v} is not a single`);
  return 0xffffffff00000000n | BigInt(dv.getUint32(0));
}

/** NaN-boxed single from raw 32 bits. */
export function sb(bits: number): bigint {
  return 0xffffffff00000000n | BigInt(bits >>> 0);
}

export const CANON_D = 0x7ff8000000000000n;
export const CANON_S = 0xffffffff7fc00000n;

export interface Result {
  /** Destination bits: the FP register (64 bits) or the integer register (unsigned 64 bits). */
  r: bigint;
  flags: number;
}

/** Which ops read an integer register. */
function intSrc(op: Op): boolean {
  switch (op) {
    case Op.FCVT_S_W:
    case Op.FCVT_S_WU:
    case Op.FCVT_S_L:
    case Op.FCVT_S_LU:
    case Op.FMV_W_X:
    case Op.FCVT_D_W:
    case Op.FCVT_D_WU:
    case Op.FCVT_D_L:
    case Op.FCVT_D_LU:
    case Op.FMV_D_X:
      return true;
    default:
      return false;
  }
}

/**
 * Runs op with operands a, b, c (bit patterns: FP registers f1..f3, or x1 for
 * an integer source) in mode rm; the result goes to f4 or x5.
 */
export function run(op: Op, rm: number, a: bigint, b = 0n, c = 0n): Result {
  const x = new IntRegs();
  const f = new FpRegs();
  f.u64[1] = a;
  f.u64[2] = b;
  f.u64[3] = c;
  f.u64[4] = 0xdeadn;
  if (intSrc(op)) x.x64[1] = BigInt.asIntN(64, a);
  x.x64[5] = 0xdeadn;
  const idst = writesIntRd(op);
  executeFp(op, idst ? 5 : 4, 1, 2, 3, rm, x, f);
  return { r: idst ? BigInt.asUintN(64, x.x64[5]) : f.u64[4], flags: f.flags };
}

/**
 * Asserts the result of op on (a, b, c) in each rounding mode: want holds
 * [bits, flags] for RNE, RTZ, RDN, RUP, RMM in that order.
 */
export function expectModes(
  op: Op,
  a: bigint,
  b: bigint,
  c: bigint,
  want: readonly (readonly [bigint, number])[],
): void {
  for (let rm = 0; rm < 5; rm++) {
    const got = run(op, rm, a, b, c);
    const [r, flags] = want[rm];
    if (got.r !== r || got.flags !== flags) {
      throw new Error(
        `op ${op} rm ${rm} (0x${a.toString(16)}, 0x${b.toString(16)}, 0x${c.toString(16)}): ` +
          `want 0x${r.toString(16)} flags 0x${flags.toString(16)}, got ${show(got)}`,
      );
    }
  }
}

/** Asserts the same result in every rounding mode. */
export function expectAll(op: Op, a: bigint, b: bigint, c: bigint, r: bigint, flags: number): void {
  expectModes(op, a, b, c, [
    [r, flags],
    [r, flags],
    [r, flags],
    [r, flags],
    [r, flags],
  ]);
}

/** Formats a result for assertion messages. */
export function show(res: Result): string {
  return `0x${res.r.toString(16)} flags 0x${res.flags.toString(16)}`;
}
