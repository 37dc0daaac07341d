// The F and D instructions in translated blocks (translate.ts), run exactly as the interpreter
// runs them (hart.ts fp(), fpu/): the FP registers are in the hart's area (AREA_F), read and
// written there by both engines. Every FP instruction needs mstatus.FS on (else the block leaves
// before it and the interpreter raises illegal instruction); all but FSW and FSD make FS Dirty.
//
// Loads and stores go through the TLB fast path of integer ones (FLW boxes its result: high half
// all ones); moves, sign injection (a single operand not NaN-boxed is the canonical NaN) and
// FCLASS are integer operations on the bits. The rest uses wasm's float operations, which round
// to nearest-even and raise no flags, and so only where the interpreter would give the same
// result and flags:
// - FADD, FSUB, FMUL, FDIV, FSQRT (S and D) and FCVT.S.D: when the rounding mode in effect is
//   RNE and the result is normal (above the smallest normal in magnitude: tininess is detected
//   after rounding) or an exact zero; then no flag but NX can arise (the square root of a
//   non-NaN raises none other either). While fflags.NX is clear, the block finds whether the
//   result is inexact and sets it (fpInexact.ts).
// - FMIN/FMAX/FEQ/FLT/FLE without NaN operands raise nothing.
// - Conversions: FCVT.D.S and FCVT.D.W(U) are exact; from a 64-bit integer, or to single, when
//   the integer is small enough to convert exactly; to an integer, when the rounded value is in
//   range and either exact or rounded by a static RNE, RTZ, RDN or RUP (NX when inexact).
// Anything else leaves the block just before the instruction, and the interpreter runs it. The
// fused multiply-adds end blocks (wasm has no fused multiply-add).

import { Op } from '../ops.js';
import { RM_RMM } from '../regs.js';
import { L_T } from './blockEmitter.js';
import { L_FA, L_FB, L_FR, L_FT, L_SA, L_SB, L_SR, L_ST } from './fpBitsEmitter.js';
import { FpInexactEmitter } from './fpInexact.js';
import { W } from './wasmWriter.js';

const TWO31 = 2 ** 31;
const TWO32 = 2 ** 32;
const TWO63 = 2 ** 63;
const TWO64 = 2 ** 64;
/** The smallest normal magnitudes. */
const MIN_NORMAL_D = 2 ** -1022;
const MIN_NORMAL_S = 2 ** -126;
/** Rounding of a float to an integer by static rm (RNE, RTZ, RDN, RUP; RMM: exact only). */
const ROUND_OP = [W.F64Nearest, W.F64Trunc, W.F64Floor, W.F64Ceil, W.F64Trunc];
/** By op - FADD_D (or _S): add, sub, mul, div. */
const ARITH_D = [W.F64Add, W.F64Sub, W.F64Mul, W.F64Div];
const ARITH_S = [W.F32Add, W.F32Sub, W.F32Mul, W.F32Div];

export abstract class FpEmitter extends FpInexactEmitter {
  /** The float operations (after the FS check; FS is made Dirty after them). */
  protected compute(
    op: number,
    d: number,
    r1: number,
    r2: number,
    rm: number,
    k: number,
    o: number,
  ): void {
    switch (op) {
      case Op.FADD_D:
      case Op.FSUB_D:
      case Op.FMUL_D:
      case Op.FDIV_D:
      case Op.FSQRT_D:
      case Op.FADD_S:
      case Op.FSUB_S:
      case Op.FMUL_S:
      case Op.FDIV_S:
      case Op.FSQRT_S:
        return this.arith(op, d, r1, r2, rm, k, o);
      case Op.FMIN_D:
      case Op.FMAX_D:
      case Op.FMIN_S:
      case Op.FMAX_S: {
        const dbl = op === Op.FMIN_D || op === Op.FMAX_D;
        this.operands(dbl, r1, r2, k, o);
        this.local(W.LocalGet, dbl ? L_FA : L_SA);
        this.local(W.LocalGet, dbl ? L_FB : L_SB);
        const max = op === Op.FMAX_D || op === Op.FMAX_S;
        this.op(dbl ? (max ? W.F64Max : W.F64Min) : max ? W.F32Max : W.F32Min);
        this.local(W.LocalSet, dbl ? L_FR : L_SR);
        return this.storeResult(dbl, d);
      }
      case Op.FEQ_D:
      case Op.FLT_D:
      case Op.FLE_D:
      case Op.FEQ_S:
      case Op.FLT_S:
      case Op.FLE_S: {
        const dbl = op >= Op.FEQ_D;
        const which = op - (dbl ? Op.FEQ_D : Op.FEQ_S);
        this.operands(dbl, r1, r2, k, o);
        if (d === 32) return;
        this.local(W.LocalGet, dbl ? L_FA : L_SA);
        this.local(W.LocalGet, dbl ? L_FB : L_SB);
        this.op((dbl ? [W.F64Eq, W.F64Lt, W.F64Le] : [W.F32Eq, W.F32Lt, W.F32Le])[which]);
        this.op(W.I64ExtendI32U);
        this.set(d);
        return;
      }
      case Op.FCLASS_D:
      case Op.FCLASS_S:
        return this.classify(op === Op.FCLASS_D, d, r1);
      case Op.FCVT_D_S:
        this.mode(rm, false, false, k, o);
        this.loadS(r1);
        this.op(W.F64PromoteF32);
        this.local(W.LocalTee, L_FR);
        this.local(W.LocalGet, L_FR);
        this.op(W.F64Ne); // NaN: the interpreter (canonical NaN, NV for a signalling one)
        this.exitIf(k, o);
        return this.storeResult(true, d);
      case Op.FCVT_S_D:
        this.mode(rm, true, false, k, o);
        this.loadD(r1);
        this.local(W.LocalTee, L_FA);
        this.op(W.F32DemoteF64);
        this.local(W.LocalSet, L_SR);
        this.normalOrZero(false, () => {
          this.local(W.LocalGet, L_FA);
          this.fconst(true, 0);
          this.op(W.F64Eq);
        });
        this.exitIf(k, o, true);
        this.setNxIfInexact(() => {
          this.local(W.LocalGet, L_SR);
          this.op(W.F64PromoteF32);
          this.local(W.LocalGet, L_FA);
          this.op(W.F64Ne);
        });
        return this.storeResult(false, d);
      case Op.FCVT_D_W:
      case Op.FCVT_D_WU:
      case Op.FCVT_D_L:
      case Op.FCVT_D_LU:
      case Op.FCVT_S_W:
      case Op.FCVT_S_WU:
      case Op.FCVT_S_L:
      case Op.FCVT_S_LU:
        return this.fromInt(op, d, r1, rm, k, o);
    }
    if (op >= Op.FCVT_W_S && op <= Op.FCVT_LU_S)
      return this.toInt(false, op - Op.FCVT_W_S, d, r1, rm, k, o);
    if (op >= Op.FCVT_W_D && op <= Op.FCVT_LU_D)
      return this.toInt(true, op - Op.FCVT_W_D, d, r1, rm, k, o);
    throw new Error(`op ${op} is not an FP op blocks translate (fpInBlocks)`);
  }

  /** FADD, FSUB, FMUL, FDIV and FSQRT, S and D (see the file's comment). */
  private arith(
    op: number,
    d: number,
    r1: number,
    r2: number,
    rm: number,
    k: number,
    o: number,
  ): void {
    const dbl = op >= Op.FADD_D;
    const which = op - (dbl ? Op.FADD_D : Op.FADD_S);
    this.mode(rm, true, false, k, o);
    const [la, lb, lr] = dbl ? [L_FA, L_FB, L_FR] : [L_SA, L_SB, L_SR];
    const load = (r: number): void => (dbl ? this.loadD(r) : this.loadS(r));
    load(r1);
    this.local(W.LocalTee, la);
    if (which === 4) {
      // sqrt: no flag but NX, unless NaN (negative operand, NaN operand).
      this.op(dbl ? W.F64Sqrt : W.F32Sqrt);
      this.local(W.LocalTee, lr);
      this.local(W.LocalGet, lr);
      this.op(dbl ? W.F64Ne : W.F32Ne);
      this.exitIf(k, o);
    } else {
      load(r2);
      this.local(W.LocalTee, lb);
      this.op((dbl ? ARITH_D : ARITH_S)[which]);
      this.local(W.LocalSet, lr);
      const zero = (l: number): void => {
        this.local(W.LocalGet, l);
        this.fconst(dbl, 0);
        this.op(dbl ? W.F64Eq : W.F32Eq);
      };
      // A zero result is exact: from a sum always (a sum that is not zero is at least the
      // smallest subnormal), from a product when an operand is zero, from a quotient when the
      // dividend is.
      this.normalOrZero(dbl, () => {
        if (which === 2) {
          zero(la);
          zero(lb);
          this.op(W.I32Or);
        } else if (which === 3) zero(la);
        else this.i32(1);
      });
      this.exitIf(k, o, true);
    }
    this.setNxIfInexact(() => (dbl ? this.inexactD(which, k, o) : this.inexactS(which)));
    this.storeResult(dbl, d);
  }

  /**
   * Pushes whether the result in FR (SR) is normal and finite, or zero and `zeroExact()` (an i32
   * expression) holds.
   */
  private normalOrZero(dbl: boolean, zeroExact: () => void): void {
    const lr = dbl ? L_FR : L_SR;
    this.local(W.LocalGet, lr);
    this.op(dbl ? W.F64Abs : W.F32Abs);
    this.local(W.LocalTee, dbl ? L_FT : L_ST);
    this.fconst(dbl, dbl ? MIN_NORMAL_D : MIN_NORMAL_S);
    this.op(dbl ? W.F64Gt : W.F32Gt);
    this.local(W.LocalGet, dbl ? L_FT : L_ST);
    this.fconst(dbl, Infinity);
    this.op(dbl ? W.F64Lt : W.F32Lt);
    this.op(W.I32And);
    this.local(W.LocalGet, lr);
    this.fconst(dbl, 0);
    this.op(dbl ? W.F64Eq : W.F32Eq);
    zeroExact();
    this.op(W.I32And);
    this.op(W.I32Or);
  }

  /** Integer to float: exact (from a word to double), else only for a small enough integer. */
  private fromInt(op: number, d: number, r1: number, rm: number, k: number, o: number): void {
    this.mode(rm, false, false, k, o);
    const dbl = op >= Op.FCVT_D_W;
    const kind = op - (dbl ? Op.FCVT_D_W : Op.FCVT_S_W); // W, WU, L, LU
    if (dbl && kind < 2) {
      this.get(r1);
      this.op(W.I32WrapI64);
      this.op(kind === 0 ? W.F64ConvertI32S : W.F64ConvertI32U);
      this.local(W.LocalSet, L_FR);
      this.storeResult(true, d);
      return;
    }
    // |v| <= 2^53 (2^24 to single) converts exactly: no flag, whatever the rounding mode.
    const lim = dbl ? 2 ** 53 : 2 ** 24;
    this.get(r1);
    if (kind < 2) {
      this.op(W.I32WrapI64);
      this.op(kind === 0 ? W.I64ExtendI32S : W.I64ExtendI32U);
    }
    this.local(W.LocalTee, L_T);
    if (kind !== 3) {
      this.int64(lim);
      this.op(W.I64Add);
    }
    this.int64(kind !== 3 ? 2 * lim : lim);
    this.op(W.I64GtU);
    this.exitIf(k, o);
    this.local(W.LocalGet, L_T);
    this.op(dbl ? W.F64ConvertI64S : W.F32ConvertI64S);
    this.local(W.LocalSet, dbl ? L_FR : L_SR);
    this.storeResult(dbl, d);
  }

  /** Float to integer, kind W, WU, L, LU (see the file's comment). */
  private toInt(
    dbl: boolean,
    kind: number,
    d: number,
    r1: number,
    rm: number,
    k: number,
    o: number,
  ): void {
    this.mode(rm, false, false, k, o);
    if (dbl) this.loadD(r1);
    else {
      this.loadS(r1);
      this.op(W.F64PromoteF32);
    }
    this.local(W.LocalTee, L_FA);
    const rounds = rm < RM_RMM; // statically RNE, RTZ, RDN or RUP
    this.op(ROUND_OP[rounds ? rm : RM_RMM]);
    this.local(W.LocalTee, L_FR);
    // In range: NaN is not, nor an infinity; a negative that rounds to -0 is.
    const lower = [-TWO31, -1, -TWO63, -1][kind];
    this.fconst(true, lower);
    this.op(kind === 1 || kind === 3 ? W.F64Gt : W.F64Ge);
    this.local(W.LocalGet, L_FR);
    this.fconst(true, [TWO31 - 1, TWO32 - 1, TWO63, TWO64][kind]);
    this.op(kind < 2 ? W.F64Le : W.F64Lt);
    this.op(W.I32And);
    // Inexact: NX (the rounding known), or the interpreter (RMM, or DYN's mode unknown here).
    if (!rounds) {
      this.local(W.LocalGet, L_FR);
      this.local(W.LocalGet, L_FA);
      this.op(W.F64Eq);
      this.op(W.I32And);
    }
    this.exitIf(k, o, true);
    if (rounds)
      this.setNxIfInexact(() => {
        this.local(W.LocalGet, L_FR);
        this.local(W.LocalGet, L_FA);
        this.op(W.F64Ne);
      });
    if (d === 32) return;
    this.local(W.LocalGet, L_FR);
    this.op(kind === 3 ? W.I64TruncF64U : W.I64TruncF64S);
    if (kind < 2) {
      this.op(W.I32WrapI64);
      this.op(W.I64ExtendI32S);
    }
    this.set(d);
  }
}
