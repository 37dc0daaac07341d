// The part of the F and D translation (fpEmitter.ts) that works on bits: FP loads and stores,
// moves between register files, sign injection and FCLASS, and the helpers of the float
// operations: the mstatus.FS check and Dirty update, the rounding-mode and fflags.NX checks,
// operands read from the hart's area (AREA_F; a single not NaN-boxed reads as NaN) and results
// written back NaN-boxed.

import { HART_AREAS_BYTES } from '../../ram.js';
import { AREA_F, AREA_FFLAGS, AREA_FRM, AREA_MSTATUS } from '../areaLayout.js';
import { MSTATUS_FS, MSTATUS_FS_DIRTY } from '../csr.js';
import { Op } from '../ops.js';
import { CsrEmitter } from './csrEmitter.js';
import { L_AREA, L_IDX, L_LO, L_X0 } from './blockEmitter.js';
import { RM_DYN, RM_RMM, RM_RNE } from '../regs.js';
import { W } from './wasmWriter.js';

/** Float locals, after the block's integer ones (translate.ts declares them): f64, then f32. */
export const L_FA = L_X0 + 34;
export const L_FB = L_X0 + 35;
export const L_FR = L_X0 + 36;
export const L_FT = L_X0 + 37;
export const L_F4 = L_X0 + 38;
export const L_F5 = L_X0 + 39;
export const L_F6 = L_X0 + 40;
export const L_F7 = L_X0 + 41;
export const F64_LOCALS = 8;
export const L_SA = L_X0 + 42;
export const L_SB = L_X0 + 43;
export const L_SR = L_X0 + 44;
export const L_ST = L_X0 + 45;
export const F32_LOCALS = 4;

/** fsKnown bits (BlockEmitter): mstatus.FS seen on / made Dirty earlier in the segment. */
const FS_ON = 1;
const FS_DIRTY = 2;

export abstract class FpBitsEmitter extends CsrEmitter {
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

  /** The float operations (fpEmitter.ts), after the FS check; FS is made Dirty after them. */
  protected abstract compute(
    op: number,
    d: number,
    r1: number,
    r2: number,
    rm: number,
    k: number,
    o: number,
  ): void;

  /** FCLASS: x rd = 1 << the class of f rs1 (for a single, unboxed: the canonical NaN). */
  protected classify(dbl: boolean, d: number, r1: number): void {
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

  /** Leaves the block before instruction k unless mstatus.FS is on (known on: nothing). */
  protected fsOn(k: number, o: number): void {
    if ((this.fsKnown & FS_ON) !== 0) return;
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, AREA_MSTATUS);
    this.i32(MSTATUS_FS);
    this.op(W.I32And);
    this.exitIf(k, o, true);
    this.fsKnown |= FS_ON;
  }

  /** Makes mstatus.FS Dirty (as hart.ts after every FP instruction but the stores). */
  protected fsDirty(): void {
    if ((this.fsKnown & FS_DIRTY) !== 0) return;
    this.setAreaBits(AREA_MSTATUS, MSTATUS_FS_DIRTY);
    this.fsKnown |= FS_ON | FS_DIRTY;
  }

  /**
   * Leaves the block before instruction k unless the rounding mode `rm` resolves (DYN: frm) to
   * a valid one, RNE if `rne`, and, if `nx`, fflags.NX is set. A static rm is valid (fpInBlocks).
   */
  protected mode(rm: number, rne: boolean, nx: boolean, k: number, o: number): void {
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
  protected box(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.i32(-1);
    this.mem(W.I32Store, 2, AREA_F + 8 * r + 4);
  }

  /** Pushes f r as a double. */
  protected loadD(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.F64Load, 3, AREA_F + 8 * r);
  }

  /** Pushes f r as a single: NaN when it is not NaN-boxed. */
  protected loadS(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.F32Load, 2, AREA_F + 8 * r);
    this.fconst(false, NaN);
    this.boxed(r);
    this.op(W.Select);
  }

  /** Pushes the bits of f r as a single (i32): the canonical NaN when it is not NaN-boxed. */
  protected bitsS(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, AREA_F + 8 * r);
    this.i32(0x7fc00000);
    this.boxed(r);
    this.op(W.Select);
  }

  /** Pushes whether f r is NaN-boxed (i32). */
  protected boxed(r: number): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, AREA_F + 8 * r + 4);
    this.i32(-1);
    this.op(W.I32Eq);
  }

  /** FA, FB (SA, SB) = f r1, f r2; leaves the block before instruction k if either is NaN. */
  protected operands(dbl: boolean, r1: number, r2: number, k: number, o: number): void {
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
  protected storeResult(dbl: boolean, d: number): void {
    this.local(W.LocalGet, L_AREA);
    this.local(W.LocalGet, dbl ? L_FR : L_SR);
    this.mem(dbl ? W.F64Store : W.F32Store, dbl ? 3 : 2, AREA_F + 8 * d);
    if (!dbl) this.box(d);
  }

  /** Pushes a float constant (f64 or f32). */
  protected fconst(dbl: boolean, v: number): void {
    const b = new DataView(new ArrayBuffer(8));
    if (dbl) b.setFloat64(0, v, true);
    else b.setFloat32(0, v, true);
    this.op(dbl ? W.F64Const : W.F32Const);
    for (let i = 0; i < (dbl ? 8 : 4); i++) this.op(b.getUint8(i));
  }

  /** Pushes an i64 constant (an integer of at most 2^63 in magnitude, exact as a number). */
  protected int64(v: number): void {
    this.op(W.I64Const);
    this.w.s64((v % 2 ** 32) | 0, Math.floor(v / 2 ** 32) | 0);
  }

  /** fsgnj.d, fsgnjn.d, fsgnjx.d (kind 0, 1, 2) on the bits. */
  protected signInjectD(kind: number, d: number, r1: number, r2: number): void {
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
  protected signInjectS(kind: number, d: number, r1: number, r2: number): void {
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
