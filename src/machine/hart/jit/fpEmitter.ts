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
//   RNE, fflags.NX is already set, and the result is normal (above the smallest normal in
//   magnitude: tininess is detected after rounding) or an exact zero; then no flag but NX can
//   arise. The square root of a non-NaN, or a NaN-free FMIN/FMAX/FEQ/FLT/FLE, raises none.
// - Conversions: FCVT.D.S and FCVT.D.W(U) are exact; from a 64-bit integer, or to single, when
//   the integer is small enough to convert exactly; to an integer, when the rounded value is in
//   range and either exact or (NX already set) rounded by a static RNE, RTZ, RDN or RUP.
// Anything else leaves the block just before the instruction, and the interpreter runs it. The
// fused multiply-adds end blocks (wasm has no fused multiply-add).

import { HART_AREAS_BYTES } from '../../ram.js';
import { AREA_F, AREA_FFLAGS, AREA_FRM, AREA_MSTATUS } from '../areaLayout.js';
import { MSTATUS_FS, MSTATUS_FS_DIRTY } from '../csr.js';
import { Op } from '../ops.js';
import { CsrEmitter } from './csrEmitter.js';
import { L_AREA, L_IDX, L_LO, L_T, L_X0 } from './blockEmitter.js';
import { T_VOID, W } from './wasmWriter.js';

/** Float locals, after the block's integer ones (translate.ts declares them). */
export const L_FA = L_X0 + 34;
export const L_FB = L_X0 + 35;
export const L_FR = L_X0 + 36;
export const L_FT = L_X0 + 37;
export const L_SA = L_X0 + 38;
export const L_SB = L_X0 + 39;
export const L_SR = L_X0 + 40;
export const L_ST = L_X0 + 41;
/** How many of each: f64 (FA, FB, FR, FT), then f32 (SA, SB, SR, ST). */
export const FLOAT_LOCALS = 4;

/** fsKnown bits (BlockEmitter): mstatus.FS seen on / made Dirty earlier in the segment. */
const FS_ON = 1;
const FS_DIRTY = 2;

const RM_RNE = 0;
const RM_RMM = 4;
const RM_DYN = 7;

/** Which rounding modes (bit rm) an op is translated with; absent ops are not translated. */
const RM_OK = new Map<number, number>();
{
  const any = 0xff;
  const valid = 0x9f; // 0..4 and DYN: 5 and 6 are illegal
  const rne = (1 << RM_RNE) | (1 << RM_DYN);
  for (const op of [Op.FLW, Op.FSW, Op.FLD, Op.FSD]) RM_OK.set(op, any);
  for (const op of [
    Op.FSGNJ_S,
    Op.FSGNJN_S,
    Op.FSGNJX_S,
    Op.FSGNJ_D,
    Op.FSGNJN_D,
    Op.FSGNJX_D,
    Op.FMV_X_W,
    Op.FMV_W_X,
    Op.FMV_X_D,
    Op.FMV_D_X,
    Op.FMIN_S,
    Op.FMAX_S,
    Op.FMIN_D,
    Op.FMAX_D,
    Op.FEQ_S,
    Op.FLT_S,
    Op.FLE_S,
    Op.FEQ_D,
    Op.FLT_D,
    Op.FLE_D,
    Op.FCLASS_S,
    Op.FCLASS_D,
  ])
    RM_OK.set(op, any);
  for (const op of [
    Op.FADD_S,
    Op.FSUB_S,
    Op.FMUL_S,
    Op.FDIV_S,
    Op.FSQRT_S,
    Op.FADD_D,
    Op.FSUB_D,
    Op.FMUL_D,
    Op.FDIV_D,
    Op.FSQRT_D,
    Op.FCVT_S_D,
  ])
    RM_OK.set(op, rne);
  for (const op of [
    Op.FCVT_D_S,
    Op.FCVT_D_W,
    Op.FCVT_D_WU,
    Op.FCVT_D_L,
    Op.FCVT_D_LU,
    Op.FCVT_S_W,
    Op.FCVT_S_WU,
    Op.FCVT_S_L,
    Op.FCVT_S_LU,
    Op.FCVT_W_S,
    Op.FCVT_WU_S,
    Op.FCVT_L_S,
    Op.FCVT_LU_S,
    Op.FCVT_W_D,
    Op.FCVT_WU_D,
    Op.FCVT_L_D,
    Op.FCVT_LU_D,
  ])
    RM_OK.set(op, valid);
}

/** Whether blocks translate FP instruction `op` with rounding-mode field `rm`. */
export function fpInBlocks(op: number, rm: number): boolean {
  return (((RM_OK.get(op) ?? 0) >>> rm) & 1) === 1;
}

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

export abstract class FpEmitter extends CsrEmitter {
  /** The memory access check of translate.ts: leaves the block or pushes the RAM offset (i32). */
  protected abstract access(
    write: boolean,
    rs1: number,
    imm: number,
    size: number,
    k: number,
    o: number,
  ): void;

  /** Emits FP instruction `op` (fpInBlocks) as instruction k at block offset o. */
  protected fp(
    op: number,
    d: number,
    r1: number,
    r2: number,
    rm: number,
    imm: number,
    k: number,
    o: number,
  ): void {
    this.fsOn(k, o);
    switch (op) {
      case Op.FLW:
      case Op.FLD: {
        // area, then the RAM offset (the access may leave the block), then the value.
        const dbl = op === Op.FLD;
        this.local(W.LocalGet, L_AREA);
        this.access(false, r1, imm, dbl ? 8 : 4, k, o);
        this.mem(dbl ? W.I64Load : W.I32Load, dbl ? 3 : 2, HART_AREAS_BYTES);
        this.mem(dbl ? W.I64Store : W.I32Store, dbl ? 3 : 2, AREA_F + 8 * d);
        if (!dbl) this.box(d);
        break;
      }
      case Op.FSW:
      case Op.FSD: {
        const dbl = op === Op.FSD;
        this.access(true, r1, imm, dbl ? 8 : 4, k, o);
        this.local(W.LocalGet, L_AREA);
        this.mem(dbl ? W.I64Load : W.I32Load, dbl ? 3 : 2, AREA_F + 8 * r2);
        this.mem(dbl ? W.I64Store : W.I32Store, dbl ? 3 : 2, HART_AREAS_BYTES);
        return; // stores leave FS as it is
      }
      case Op.FMV_X_D:
      case Op.FMV_X_W:
        if (d !== 32) {
          this.local(W.LocalGet, L_AREA);
          this.mem(
            op === Op.FMV_X_D ? W.I64Load : W.I64Load32S,
            op === Op.FMV_X_D ? 3 : 2,
            AREA_F + 8 * r1,
          );
          this.set(d);
        }
        break;
      case Op.FMV_D_X:
        this.local(W.LocalGet, L_AREA);
        this.get(r1);
        this.mem(W.I64Store, 3, AREA_F + 8 * d);
        break;
      case Op.FMV_W_X:
        this.local(W.LocalGet, L_AREA);
        this.get(r1);
        this.mem(W.I64Store32, 2, AREA_F + 8 * d);
        this.box(d);
        break;
      case Op.FSGNJ_D:
      case Op.FSGNJN_D:
      case Op.FSGNJX_D:
        this.signInjectD(op - Op.FSGNJ_D, d, r1, r2);
        break;
      case Op.FSGNJ_S:
      case Op.FSGNJN_S:
      case Op.FSGNJX_S:
        this.signInjectS(op - Op.FSGNJ_S, d, r1, r2);
        break;
      default:
        this.compute(op, d, r1, r2, rm, k, o);
    }
    this.fsDirty();
  }

  /** The float operations (after the FS check; FS is made Dirty after them). */
  private compute(
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
        this.mode(rm, true, true, k, o);
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
    this.mode(rm, true, true, k, o);
    const [la, lb, lr] = dbl ? [L_FA, L_FB, L_FR] : [L_SA, L_SB, L_SR];
    const load = (r: number): void => (dbl ? this.loadD(r) : this.loadS(r));
    load(r1);
    if (which === 4) {
      // sqrt: exact but for NX, unless NaN (negative operand, NaN operand).
      this.op(dbl ? W.F64Sqrt : W.F32Sqrt);
      this.local(W.LocalTee, lr);
      this.local(W.LocalGet, lr);
      this.op(dbl ? W.F64Ne : W.F32Ne);
      this.exitIf(k, o);
      return this.storeResult(dbl, d);
    }
    this.local(W.LocalTee, la);
    load(r2);
    this.local(W.LocalTee, lb);
    this.op((dbl ? ARITH_D : ARITH_S)[which]);
    this.local(W.LocalSet, lr);
    const zero = (l: number): void => {
      this.local(W.LocalGet, l);
      this.fconst(dbl, 0);
      this.op(dbl ? W.F64Eq : W.F32Eq);
    };
    // A zero result is exact: from a sum always (a sum that is not zero is at least the smallest
    // subnormal), from a product when an operand is zero, from a quotient when the dividend is.
    this.normalOrZero(dbl, () => {
      if (which === 2) {
        zero(la);
        zero(lb);
        this.op(W.I32Or);
      } else if (which === 3) zero(la);
      else this.i32(1);
    });
    this.exitIf(k, o, true);
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
    const rounds = rm < RM_RMM; // statically RNE, RTZ, RDN or RUP: inexact is fine with NX set
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
    this.local(W.LocalGet, L_FR);
    this.local(W.LocalGet, L_FA);
    this.op(W.F64Eq);
    if (rounds) {
      this.local(W.LocalGet, L_AREA);
      this.mem(W.I32Load, 2, AREA_FFLAGS);
      this.i32(1);
      this.op(W.I32And);
      this.op(W.I32Or);
    }
    this.op(W.I32And);
    this.exitIf(k, o, true);
    if (d === 32) return;
    this.local(W.LocalGet, L_FR);
    this.op(kind === 3 ? W.I64TruncF64U : W.I64TruncF64S);
    if (kind < 2) {
      this.op(W.I32WrapI64);
      this.op(W.I64ExtendI32S);
    }
    this.set(d);
  }

  /** FCLASS: x rd = 1 << the class of f rs1 (for a single, unboxed: the canonical NaN). */
  private classify(dbl: boolean, d: number, r1: number): void {
    if (d === 32) return;
    // lo = the sign word (D: the high half), idx = fraction not zero (i32 0 or 1).
    if (dbl) {
      this.local(W.LocalGet, L_AREA);
      this.mem(W.I32Load, 2, AREA_F + 8 * r1 + 4);
      this.local(W.LocalTee, L_LO);
      this.i32(0xfffff);
      this.op(W.I32And);
      this.local(W.LocalGet, L_AREA);
      this.mem(W.I32Load, 2, AREA_F + 8 * r1);
      this.op(W.I32Or);
    } else {
      this.bitsS(r1);
      this.local(W.LocalTee, L_LO);
      this.i32(0x7fffff);
      this.op(W.I32And);
    }
    this.i32(0);
    this.op(W.I32Ne);
    this.local(W.LocalSet, L_IDX);
    const shift = dbl ? 20 : 23;
    const emax = dbl ? 0x7ff : 0xff;
    const neg = (): void => {
      this.local(W.LocalGet, L_LO);
      this.i32(0);
      this.op(W.I32LtS);
    };
    const exp = (): void => {
      this.local(W.LocalGet, L_LO);
      this.i32(shift);
      this.op(W.I32ShrU);
      this.i32(emax);
      this.op(W.I32And);
    };
    const byNeg = (ifNeg: number, ifPos: number): void => {
      this.i32(ifNeg);
      this.i32(ifPos);
      neg();
      this.op(W.Select);
    };
    const byFrac = (ifFrac: () => void, ifNot: () => void): void => {
      ifFrac();
      ifNot();
      this.local(W.LocalGet, L_IDX);
      this.op(W.Select);
    };
    // 1 << (exponent all ones ? (fraction ? NaN: 8 + quiet : infinity)
    //       : exponent zero ? (fraction ? subnormal : zero) : normal)
    this.i32(1);
    byFrac(
      () => {
        this.local(W.LocalGet, L_LO);
        this.i32(shift - 1);
        this.op(W.I32ShrU);
        this.i32(1);
        this.op(W.I32And);
        this.i32(8);
        this.op(W.I32Add);
      },
      () => byNeg(0, 7),
    );
    byFrac(
      () => byNeg(2, 5),
      () => byNeg(3, 4),
    );
    byNeg(1, 6);
    exp();
    this.op(W.I32Eqz);
    this.op(W.Select);
    exp();
    this.i32(emax);
    this.op(W.I32Eq);
    this.op(W.Select);
    this.op(W.I32Shl);
    this.op(W.I64ExtendI32U);
    this.set(d);
  }

  /** Leaves the block before instruction k (offset o) if the i32 on the stack is not 0 (`negate`: is 0). */
  private exitIf(k: number, o: number, negate = false): void {
    if (negate) this.op(W.I32Eqz);
    this.op(W.If);
    this.op(T_VOID);
    this.exit(k, o);
    this.op(W.End);
  }

  /** Leaves the block before instruction k unless mstatus.FS is on (known on: nothing). */
  private fsOn(k: number, o: number): void {
    if ((this.fsKnown & FS_ON) !== 0) return;
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, AREA_MSTATUS);
    this.i32(MSTATUS_FS);
    this.op(W.I32And);
    this.exitIf(k, o, true);
    this.fsKnown |= FS_ON;
  }

  /** Makes mstatus.FS Dirty (as hart.ts after every FP instruction but the stores). */
  private fsDirty(): void {
    if ((this.fsKnown & FS_DIRTY) !== 0) return;
    this.local(W.LocalGet, L_AREA);
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, AREA_MSTATUS);
    this.i32(MSTATUS_FS_DIRTY);
    this.op(W.I32Or);
    this.mem(W.I32Store, 2, AREA_MSTATUS);
    this.fsKnown |= FS_ON | FS_DIRTY;
  }

  /**
   * Leaves the block before instruction k unless the rounding mode `rm` resolves (DYN: frm) to
   * a valid one, RNE if `rne`, and, if `nx`, fflags.NX is set. A static rm is valid (fpInBlocks).
   */
  private mode(rm: number, rne: boolean, nx: boolean, k: number, o: number): void {
    if (rne && rm !== RM_RNE && rm !== RM_DYN) throw new Error(`fpEmitter: rm ${rm} is not RNE`);
    const dyn = rm === RM_DYN;
    if (dyn) {
      this.local(W.LocalGet, L_AREA);
      this.mem(W.I32Load, 2, AREA_FRM);
      if (!rne) {
        this.i32(RM_RMM);
        this.op(W.I32GtU);
      }
    }
    if (nx) {
      this.local(W.LocalGet, L_AREA);
      this.mem(W.I32Load, 2, AREA_FFLAGS);
      this.i32(1);
      this.op(W.I32And);
      this.op(W.I32Eqz);
      if (dyn) this.op(W.I32Or);
    }
    if (dyn || nx) this.exitIf(k, o);
  }

  /** Sets f r's high half to all ones (NaN-boxes the single in its low half). */
  private box(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.i32(-1);
    this.mem(W.I32Store, 2, AREA_F + 8 * r + 4);
  }

  /** Pushes f r as a double. */
  private loadD(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.F64Load, 3, AREA_F + 8 * r);
  }

  /** Pushes f r as a single: NaN when it is not NaN-boxed. */
  private loadS(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.F32Load, 2, AREA_F + 8 * r);
    this.fconst(false, NaN);
    this.boxed(r);
    this.op(W.Select);
  }

  /** Pushes the bits of f r as a single (i32): the canonical NaN when it is not NaN-boxed. */
  private bitsS(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, AREA_F + 8 * r);
    this.i32(0x7fc00000);
    this.boxed(r);
    this.op(W.Select);
  }

  /** Pushes whether f r is NaN-boxed (i32). */
  private boxed(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, AREA_F + 8 * r + 4);
    this.i32(-1);
    this.op(W.I32Eq);
  }

  /** FA, FB (SA, SB) = f r1, f r2; leaves the block before instruction k if either is NaN. */
  private operands(dbl: boolean, r1: number, r2: number, k: number, o: number): void {
    const [la, lb] = dbl ? [L_FA, L_FB] : [L_SA, L_SB];
    const ne = dbl ? W.F64Ne : W.F32Ne;
    if (dbl) this.loadD(r1);
    else this.loadS(r1);
    this.local(W.LocalTee, la);
    this.local(W.LocalGet, la);
    this.op(ne);
    if (dbl) this.loadD(r2);
    else this.loadS(r2);
    this.local(W.LocalTee, lb);
    this.local(W.LocalGet, lb);
    this.op(ne);
    this.op(W.I32Or);
    this.exitIf(k, o);
  }

  /** f rd = FR (a double), or SR NaN-boxed. */
  private storeResult(dbl: boolean, d: number): void {
    this.local(W.LocalGet, L_AREA);
    this.local(W.LocalGet, dbl ? L_FR : L_SR);
    this.mem(dbl ? W.F64Store : W.F32Store, dbl ? 3 : 2, AREA_F + 8 * d);
    if (!dbl) this.box(d);
  }

  /** Pushes a float constant (f64 or f32). */
  private fconst(dbl: boolean, v: number): void {
    const b = new DataView(new ArrayBuffer(8));
    if (dbl) b.setFloat64(0, v, true);
    else b.setFloat32(0, v, true);
    this.op(dbl ? W.F64Const : W.F32Const);
    for (let i = 0; i < (dbl ? 8 : 4); i++) this.op(b.getUint8(i));
  }

  /** Pushes an i64 constant (an integer of at most 2^63 in magnitude, exact as a number). */
  private int64(v: number): void {
    this.op(W.I64Const);
    this.w.s64((v % 2 ** 32) | 0, Math.floor(v / 2 ** 32) | 0);
  }

  /** fsgnj.d, fsgnjn.d, fsgnjx.d (kind 0, 1, 2) on the bits. */
  private signInjectD(kind: number, d: number, r1: number, r2: number): void {
    const sign = (): void => {
      this.op(W.I64Const);
      this.w.s64(0, 0x80000000);
    };
    this.local(W.LocalGet, L_AREA);
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I64Load, 3, AREA_F + 8 * r1);
    if (kind !== 2) {
      this.op(W.I64Const);
      this.w.s64(-1, 0x7fffffff);
      this.op(W.I64And);
    }
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I64Load, 3, AREA_F + 8 * r2);
    if (kind === 1) {
      this.i64(-1);
      this.op(W.I64Xor);
    }
    sign();
    this.op(W.I64And);
    this.op(kind === 2 ? W.I64Xor : W.I64Or);
    this.mem(W.I64Store, 3, AREA_F + 8 * d);
  }

  /** fsgnj.s, fsgnjn.s, fsgnjx.s (kind 0, 1, 2): operands unboxed as bitsS, the result boxed. */
  private signInjectS(kind: number, d: number, r1: number, r2: number): void {
    this.local(W.LocalGet, L_AREA);
    this.bitsS(r1);
    if (kind !== 2) {
      this.i32(0x7fffffff);
      this.op(W.I32And);
    }
    this.bitsS(r2);
    if (kind === 1) {
      this.i32(-1);
      this.op(W.I32Xor);
    }
    this.i32(0x80000000 | 0);
    this.op(W.I32And);
    this.op(kind === 2 ? W.I32Xor : W.I32Or);
    this.mem(W.I32Store, 2, AREA_F + 8 * d);
    this.box(d);
  }
}
