// Whether a float result of a translated block (fpEmitter.ts) is inexact, for fflags.NX: while
// NX is clear, a block that computed a normal result (or an exact zero) under RNE finds out and
// sets NX itself, as the interpreter would, instead of leaving the block. A double sum's error
// comes from TwoSum, a double product's (quotient times divisor, root squared) from Dekker's
// product with Veltkamp's split, each in the range where it is exact (else the block leaves
// before the instruction); single-precision results are checked in double precision, where
// products of singles are exact.

import { AREA_FFLAGS } from '../areaLayout.js';
import { FFLAG_NX } from '../regs.js';
import { L_AREA } from './blockEmitter.js';
import {
  FpBitsEmitter,
  L_F4,
  L_F5,
  L_F6,
  L_F7,
  L_FA,
  L_FB,
  L_FR,
  L_FT,
  L_SA,
  L_SB,
  L_SR,
} from './fpBitsEmitter.js';
import { T_VOID, W } from './wasmWriter.js';

export abstract class FpInexactEmitter extends FpBitsEmitter {
  /**
   * If fflags.NX is clear: sets it when `inexact()` (an i32 expression, which may leave the
   * block where it cannot tell) holds. The result is then known to raise no other flag.
   */
  protected setNxIfInexact(inexact: () => void): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, AREA_FFLAGS);
    this.i32(FFLAG_NX);
    this.op(W.I32And);
    this.op(W.I32Eqz);
    this.op(W.If);
    this.op(T_VOID);
    inexact();
    this.op(W.If);
    this.op(T_VOID);
    this.setAreaBits(AREA_FFLAGS, FFLAG_NX);
    this.op(W.End);
    this.op(W.End);
  }

  /**
   * Pushes whether the single-precision operation `which` (add, sub, mul, div, sqrt) on SA, SB
   * gave an inexact SR, found in double precision, where products of singles are exact.
   */
  protected inexactS(which: number): void {
    const promote = (from: number, to: number, neg = false): void => {
      this.local(W.LocalGet, from);
      this.op(W.F64PromoteF32);
      if (neg) this.op(W.F64Neg);
      this.local(W.LocalSet, to);
    };
    promote(L_SA, L_FA);
    if (which !== 4) promote(L_SB, L_FB, which === 1);
    promote(L_SR, L_FR);
    const get = (l: number): void => this.local(W.LocalGet, l);
    if (which <= 1) {
      // The double sum and its error (TwoSum): exact only if both are (error 0, sum = result).
      get(L_FA);
      get(L_FB);
      this.op(W.F64Add);
      this.local(W.LocalSet, L_FT);
      this.twoSumErr();
      this.fconst(true, 0);
      this.op(W.F64Ne);
      get(L_FT);
      get(L_FR);
      this.op(W.F64Ne);
      this.op(W.I32Or);
      return;
    }
    // a * b = r, r * b = a, r * r = a: exact in double.
    get(which === 2 ? L_FA : L_FR);
    get(which === 2 ? L_FB : which === 3 ? L_FB : L_FR);
    this.op(W.F64Mul);
    get(which === 2 ? L_FR : L_FA);
    this.op(W.F64Ne);
    if (which === 3) {
      // A zero quotient (of a zero dividend) is exact, by an infinite divisor too.
      get(L_FR);
      this.fconst(true, 0);
      this.op(W.F64Ne);
      this.op(W.I32And);
    }
  }

  /**
   * Pushes whether the double operation `which` (add, sub, mul, div, sqrt) on FA, FB gave an
   * inexact FR: the sum's error by TwoSum, or the product r * b (r * r) against a by Dekker's
   * product, in the ranges where these are exact; out of them the block leaves before
   * instruction k.
   */
  protected inexactD(which: number, k: number, o: number): void {
    const get = (l: number): void => this.local(W.LocalGet, l);
    const absBelow = (l: number, v: number): void => {
      get(l);
      this.op(W.F64Abs);
      this.fconst(true, v);
      this.op(W.F64Lt);
    };
    if (which <= 1) {
      absBelow(L_FA, 2 ** 1023);
      absBelow(L_FB, 2 ** 1023);
      this.op(W.I32And);
      this.exitIf(k, o, true);
      if (which === 1) {
        get(L_FB);
        this.op(W.F64Neg);
        this.local(W.LocalSet, L_FB);
      }
      this.local(W.LocalGet, L_FR);
      this.local(W.LocalSet, L_FT);
      this.twoSumErr();
      this.fconst(true, 0);
      this.op(W.F64Ne);
      return;
    }
    // x * y against p: mul a * b = r; div r * b = a; sqrt r * r = a.
    const [x, y, p] = which === 2 ? [L_FA, L_FB, L_FR] : [L_FR, which === 3 ? L_FB : L_FR, L_FA];
    // Operands below 2^900 (no overflow in the split), the product zero or above 2^-900 (its
    // error term then is a double).
    absBelow(x, 2 ** 900);
    absBelow(y, 2 ** 900);
    this.op(W.I32And);
    get(p);
    this.op(W.F64Abs);
    this.fconst(true, 2 ** -900);
    this.op(W.F64Gt);
    get(p);
    this.fconst(true, 0);
    this.op(W.F64Eq);
    this.op(W.I32Or);
    this.op(W.I32And);
    this.exitIf(k, o, true);
    get(x);
    get(y);
    this.op(W.F64Mul);
    if (which === 2) this.local(W.LocalSet, L_FT);
    else {
      this.local(W.LocalTee, L_FT);
      get(p);
      this.op(W.F64Ne);
    }
    this.twoProductErr(x, y);
    this.fconst(true, 0);
    this.op(W.F64Ne);
    if (which !== 2) this.op(W.I32Or);
  }

  /** Pushes the error of the sum FT = FA + FB (Knuth's TwoSum; uses F4, F5). */
  private twoSumErr(): void {
    const get = (l: number): void => this.local(W.LocalGet, l);
    get(L_FT);
    get(L_FA);
    this.op(W.F64Sub);
    this.local(W.LocalSet, L_F4); // the part of b in the sum
    get(L_FT);
    get(L_F4);
    this.op(W.F64Sub);
    this.local(W.LocalSet, L_F5); // the part of a
    get(L_FA);
    get(L_F5);
    this.op(W.F64Sub);
    get(L_FB);
    get(L_F4);
    this.op(W.F64Sub);
    this.op(W.F64Add);
  }

  /**
   * Pushes the error of the product FT = x * y (Dekker's product with Veltkamp's split, as
   * fpu/bits.ts twoProductErr; uses F4..F7).
   */
  private twoProductErr(x: number, y: number): void {
    const get = (l: number): void => this.local(W.LocalGet, l);
    const split = (v: number, hi: number, lo: number): void => {
      get(v);
      this.fconst(true, 134217729); // 2^27 + 1
      this.op(W.F64Mul);
      this.local(W.LocalTee, hi);
      get(hi);
      get(v);
      this.op(W.F64Sub);
      this.op(W.F64Sub);
      this.local(W.LocalTee, hi);
      get(v);
      this.op(W.F64Sub);
      this.op(W.F64Neg);
      this.local(W.LocalSet, lo);
    };
    split(x, L_F4, L_F5);
    split(y, L_F6, L_F7);
    const mul = (a: number, b: number): void => {
      get(a);
      get(b);
      this.op(W.F64Mul);
    };
    mul(L_F4, L_F6);
    get(L_FT);
    this.op(W.F64Sub);
    mul(L_F4, L_F7);
    this.op(W.F64Add);
    mul(L_F5, L_F6);
    this.op(W.F64Add);
    mul(L_F5, L_F7);
    this.op(W.F64Add);
  }
}
