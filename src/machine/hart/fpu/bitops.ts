// Sign injection and moves between register files. These are bit-exact: they
// go through the integer views only, so signalling NaNs and payloads survive.
// Single-precision sign injection reads its operands NaN-unboxed (an improperly
// boxed operand is the canonical NaN) and writes a boxed result; fmv.x.w takes
// the low 32 bits as they are and sign-extends them.

import { FpRegs, IntRegs } from '../regs.js';
import { bitsS } from './operands.js';

// Sign-injection kinds, in the order of the funct3 field.
export const SGNJ = 0;
export const SGNJN = 1;
export const SGNJX = 2;

function inject(mag: number, sgn: number, kind: number): number {
  const s = kind === SGNJ ? sgn : kind === SGNJN ? ~sgn : mag ^ sgn;
  return (mag & 0x7fffffff) | (s & 0x80000000);
}

/** fsgnj.s, fsgnjn.s, fsgnjx.s */
export function sgnjS(f: FpRegs, rd: number, rs1: number, rs2: number, kind: number): void {
  const v = inject(bitsS(f, rs1), bitsS(f, rs2), kind);
  f.u[2 * rd] = v;
  f.u[2 * rd + 1] = -1;
}

/** fsgnj.d, fsgnjn.d, fsgnjx.d */
export function sgnjD(f: FpRegs, rd: number, rs1: number, rs2: number, kind: number): void {
  const lo = f.u[2 * rs1];
  const hi = inject(f.u[2 * rs1 + 1], f.u[2 * rs2 + 1], kind);
  f.u[2 * rd] = lo;
  f.u[2 * rd + 1] = hi;
}

/** fmv.x.w: low 32 bits, sign-extended. */
export function mvXW(f: FpRegs, x: IntRegs, rd: number, rs1: number): void {
  const w = f.u[2 * rs1];
  x.x[2 * rd] = w;
  x.x[2 * rd + 1] = w >> 31;
}

/** fmv.w.x: low 32 bits of x rs1, NaN-boxed. */
export function mvWX(f: FpRegs, x: IntRegs, rd: number, rs1: number): void {
  f.u[2 * rd] = x.x[2 * rs1];
  f.u[2 * rd + 1] = -1;
}

/** fmv.x.d */
export function mvXD(f: FpRegs, x: IntRegs, rd: number, rs1: number): void {
  x.x[2 * rd] = f.u[2 * rs1];
  x.x[2 * rd + 1] = f.u[2 * rs1 + 1];
}

/** fmv.d.x */
export function mvDX(f: FpRegs, x: IntRegs, rd: number, rs1: number): void {
  f.u[2 * rd] = x.x[2 * rs1];
  f.u[2 * rd + 1] = x.x[2 * rs1 + 1];
}
