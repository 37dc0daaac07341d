// Reading and writing floating-point registers with the RISC-V rules: a single
// is the low half of a register only when the high half is all ones (NaN
// boxing), results are boxed, and NaN results are written as the canonical NaN
// through the integer view so that no host NaN bit pattern ever leaks.

import { FpRegs } from '../regs.js';

/** The single-precision operand in f r (NaN when not NaN-boxed). */
export function readS(f: FpRegs, r: number): number {
  return f.u[2 * r + 1] === -1 ? f.f32[2 * r] : NaN;
}

/** The low-half bits of f r as a single, or the canonical NaN when not NaN-boxed. */
export function bitsS(f: FpRegs, r: number): number {
  return f.u[2 * r + 1] === -1 ? f.u[2 * r] : 0x7fc00000;
}

/** True when f r holds a NaN-boxed signalling single NaN. */
export function isSNaNS(f: FpRegs, r: number): boolean {
  if (f.u[2 * r + 1] !== -1) return false;
  const w = f.u[2 * r];
  return (w & 0x7fc00000) === 0x7f800000 && (w & 0x003fffff) !== 0;
}

/** True when f r holds a signalling double NaN. */
export function isSNaND(f: FpRegs, r: number): boolean {
  const hi = f.u[2 * r + 1];
  return (hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x7ffff) | f.u[2 * r]) !== 0;
}

/** Writes a non-NaN single (exactly representable) with its NaN box. */
export function writeS(f: FpRegs, rd: number, v: number): void {
  f.f32[2 * rd] = v;
  f.u[2 * rd + 1] = -1;
}

export function writeNaNS(f: FpRegs, rd: number): void {
  f.u[2 * rd] = 0x7fc00000;
  f.u[2 * rd + 1] = -1;
}

export function writeNaND(f: FpRegs, rd: number): void {
  f.u[2 * rd] = 0;
  f.u[2 * rd + 1] = 0x7ff80000;
}

/** Writes a single result that may be NaN (then the canonical NaN). */
export function writeSOrNaN(f: FpRegs, rd: number, v: number): void {
  if (v !== v) writeNaNS(f, rd);
  else writeS(f, rd, v);
}

/** Writes a double result that may be NaN (then the canonical NaN). */
export function writeDOrNaN(f: FpRegs, rd: number, v: number): void {
  if (v !== v) writeNaND(f, rd);
  else f.f64[rd] = v;
}
