// Results of the add/mul/div/fma families when an operand is NaN, infinite or
// zero (shared by both precisions). Each returns the IEEE result as a JS number
// — NaN standing for "write the canonical NaN" — and accrues NV/DZ. The caller
// passes sn: whether any operand is a signalling NaN.

import { FpRegs, FFLAG_DZ, FFLAG_NV, RM_RDN } from '../regs.js';
import { signBit } from './bits.js';

/** a + b where the exact sum is zero: IEEE sign rules for every rounding mode. */
export function zeroSum(a: number, b: number, rm: number): number {
  if (rm !== RM_RDN) return a + b; // JS gives -0 only for (-0) + (-0)
  return a === 0 && b === 0 && !signBit(a) && !signBit(b) ? 0 : -0;
}

/** a + b when an operand is NaN or infinite. */
export function addSpecial(f: FpRegs, a: number, b: number, sn: boolean): number {
  const r = a + b;
  if (r !== r && (sn || (a === a && b === b))) f.flags |= FFLAG_NV;
  return r;
}

/** a * b when an operand is NaN, infinite or zero. */
export function mulSpecial(f: FpRegs, a: number, b: number, sn: boolean): number {
  const r = a * b;
  if (r !== r && (sn || (a === a && b === b))) f.flags |= FFLAG_NV;
  return r;
}

/** a / b when an operand is NaN, infinite or zero. */
export function divSpecial(f: FpRegs, a: number, b: number, sn: boolean): number {
  const r = a / b;
  if (r !== r) {
    if (sn || (a === a && b === b)) f.flags |= FFLAG_NV;
  } else if (b === 0 && a - a === 0) {
    f.flags |= FFLAG_DZ; // finite nonzero / zero
  }
  return r;
}

/** sqrt(a) when a is NaN, negative, zero or infinite. */
export function sqrtSpecial(f: FpRegs, a: number, sn: boolean): number {
  if (sn || a < 0) f.flags |= FFLAG_NV;
  return a < 0 ? NaN : a; // NaN stays NaN; ±0 and +inf are their own roots
}

/** a * b + c when an operand is NaN or infinite (signs already applied). */
export function fmaSpecial(f: FpRegs, a: number, b: number, c: number, sn: boolean): number {
  const aInf = a === Infinity || a === -Infinity;
  const bInf = b === Infinity || b === -Infinity;
  const invalidProduct = (aInf && b === 0) || (bInf && a === 0);
  if (sn || invalidProduct) f.flags |= FFLAG_NV;
  if (a !== a || b !== b || c !== c || invalidProduct) return NaN;
  if (!aInf && !bInf) return c; // finite product, infinite addend
  const r = a * b + c; // infinite product: ±inf, or NaN for inf - inf
  if (r !== r) f.flags |= FFLAG_NV;
  return r;
}
