// The Zicsr instructions (CSRRW, CSRRS, CSRRC and the immediate forms) in translated blocks, for
// the CSRs a block can access as csr.ts does, read and written in the hart's area (areaLayout.ts,
// AreaCsrs): fflags, frm and fcsr (legal while mstatus.FS is not Off; a write makes FS Dirty),
// sscratch, sepc, scause and stval (legal from S-mode up), and sstatus (legal from S-mode up; the
// S view of mstatus's low half, whose SUM and MXR bits the block copies into the data TLB tag it
// uses and leaves in AREA_DTAG for the hart to follow, and whose SIE bit, when a write sets it,
// may let a pending interrupt in: the block then ends after the write, flagged BLOCK_STOP, so
// that the hart's run loop looks for interrupts as after any CSR instruction it runs itself).
// When the access would be illegal the block leaves before the instruction and the interpreter
// raises the exception. Every other CSR ends the block (translate.ts).

import {
  AREA_DTAG,
  AREA_FFLAGS,
  AREA_FRM,
  AREA_FTAG,
  AREA_MSTATUS,
  AREA_SCAUSE,
  AREA_SEPC,
  AREA_SSCRATCH,
  AREA_STVAL,
} from '../areaLayout.js';
import {
  CSR_IN_BLOCKS,
  CSR_FCSR,
  CSR_FFLAGS,
  CSR_FRM,
  CSR_SCAUSE,
  CSR_SEPC,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_STVAL,
  MSTATUS_FS,
  MSTATUS_FS_DIRTY,
  MSTATUS_MXR,
  MSTATUS_SIE,
  MSTATUS_SUM,
  SSTATUS_HI,
  SSTATUS_MASK,
} from '../csr.js';
import { DTAG_MXR, DTAG_SUM } from '../mmu.js';
import { Op } from '../ops.js';
import { BitmanipEmitter } from './bitmanipEmitter.js';
import { L_AREA, L_DSUM, L_DTAG, L_IDX, L_LO, L_T, L_T2 } from './blockEmitter.js';
import { T_VOID, W } from './wasmWriter.js';

/** Area offsets of the 64-bit S-mode CSRs a block accesses, by CSR number. */
const S_CSR_AREA: Readonly<Record<number, number>> = {
  [CSR_SSCRATCH]: AREA_SSCRATCH,
  [CSR_SEPC]: AREA_SEPC,
  [CSR_SCAUSE]: AREA_SCAUSE,
  [CSR_STVAL]: AREA_STVAL,
};

/** mstatus.SUM and MXR are the data TLB tag's bits (Mmu.dataTag) shifted up by this. */
const DTAG_SHIFT = 16;
if (MSTATUS_SUM >>> DTAG_SHIFT !== DTAG_SUM || MSTATUS_MXR >>> DTAG_SHIFT !== DTAG_MXR)
  throw new Error('csrEmitter: the data TLB tag bits are not mstatus.SUM and MXR >>> 16');

export class CsrEmitter extends BitmanipEmitter {
  /**
   * Emits CSR instruction `op` (rd `d`, rs1 or the immediate `r1`, CSR number `csr`) as
   * instruction k at block offset o, or returns false (nothing emitted) when the CSR is not one
   * a block accesses.
   */
  protected csr(op: number, d: number, r1: number, csr: number, k: number, o: number): boolean {
    if (CSR_IN_BLOCKS[csr] !== 1) return false;
    const fp = csr === CSR_FFLAGS || csr === CSR_FRM || csr === CSR_FCSR;
    const status = csr === CSR_SSTATUS;
    const sOff = S_CSR_AREA[csr];
    const imm = op >= Op.CSRRWI;
    const write = op === Op.CSRRW || op === Op.CSRRWI || r1 !== 0;
    // Legal? FP CSRs need mstatus.FS on, S-mode CSRs privilege S or M (the fetch privilege,
    // in the low bits of the jump cache tag). If not, leave before the instruction.
    this.local(W.LocalGet, L_AREA);
    if (fp) {
      this.mem(W.I32Load, 2, AREA_MSTATUS);
      this.i32(MSTATUS_FS);
    } else {
      this.mem(W.I32Load, 2, AREA_FTAG);
      this.i32(3);
    }
    this.op(W.I32And);
    this.exitIf(k, o, true);
    // The source first (rd may be rs1), then the old value into t2.
    if (write) {
      if (imm) this.i64(r1);
      else this.get(r1);
      this.local(W.LocalSet, L_T);
    }
    if (fp) this.readFp(csr);
    else if (status) this.readStatus();
    else {
      this.local(W.LocalGet, L_AREA);
      this.mem(W.I64Load, 3, sOff);
    }
    this.local(W.LocalSet, L_T2);
    if (write) {
      // The new value into t: rs1, old | rs1, or old & ~rs1.
      if (op === Op.CSRRS || op === Op.CSRRSI || op === Op.CSRRC || op === Op.CSRRCI) {
        const set = op === Op.CSRRS || op === Op.CSRRSI;
        this.local(W.LocalGet, L_T);
        if (!set) {
          this.i64(-1);
          this.op(W.I64Xor);
        }
        this.local(W.LocalGet, L_T2);
        this.op(set ? W.I64Or : W.I64And);
        this.local(W.LocalSet, L_T);
      }
      if (fp) this.writeFp(csr);
      else if (status) {
        this.writeStatus();
        this.fsKnown = 0;
      } else this.writeS(csr, sOff);
    }
    if (d !== 0 && d !== 32) {
      this.local(W.LocalGet, L_T2);
      this.set(d);
    }
    // sstatus.SIE set by this write: end the block after it (CSRs are 4 bytes) for the run loop.
    if (write && status) {
      this.local(W.LocalGet, L_IDX);
      this.local(W.LocalGet, L_LO);
      this.i32(-1);
      this.op(W.I32Xor);
      this.op(W.I32And);
      this.i32(MSTATUS_SIE);
      this.op(W.I32And);
      this.op(W.If);
      this.op(T_VOID);
      this.exitStop(k + 1, o + 4);
      this.op(W.End);
    }
    return true;
  }

  /** Pushes sstatus (i64) and leaves mstatus's low half in lo. */
  private readStatus(): void {
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, AREA_MSTATUS);
    this.local(W.LocalTee, L_LO);
    this.i32(SSTATUS_MASK);
    this.op(W.I32And);
    this.op(W.I64ExtendI32U);
    this.op(W.I64Const);
    this.w.s64(0, SSTATUS_HI);
    this.op(W.I64Or);
    // SD (bit 63): FS Dirty.
    this.local(W.LocalGet, L_LO);
    this.i32(MSTATUS_FS);
    this.op(W.I32And);
    this.i32(MSTATUS_FS_DIRTY);
    this.op(W.I32Eq);
    this.op(W.I64ExtendI32U);
    this.i64(63);
    this.op(W.I64Shl);
    this.op(W.I64Or);
  }

  /**
   * Writes t's sstatus bits into mstatus (old low half in lo; the new one left in idx), and
   * re-derives the data TLB tag from its SUM and MXR, in the block's dtag (and dsum) and in
   * AREA_DTAG.
   */
  private writeStatus(): void {
    this.local(W.LocalGet, L_AREA);
    this.local(W.LocalGet, L_LO);
    this.i32(~SSTATUS_MASK);
    this.op(W.I32And);
    this.local(W.LocalGet, L_T);
    this.op(W.I32WrapI64);
    this.i32(SSTATUS_MASK);
    this.op(W.I32And);
    this.op(W.I32Or);
    this.local(W.LocalTee, L_IDX);
    this.mem(W.I32Store, 2, AREA_MSTATUS);
    this.local(W.LocalGet, L_DTAG);
    this.i64(~(DTAG_SUM | DTAG_MXR));
    this.op(W.I64And);
    this.local(W.LocalGet, L_IDX);
    this.i32(DTAG_SHIFT);
    this.op(W.I32ShrU);
    this.i32(DTAG_SUM | DTAG_MXR);
    this.op(W.I32And);
    this.op(W.I64ExtendI32U);
    this.op(W.I64Or);
    this.local(W.LocalTee, L_DTAG);
    this.i64(DTAG_SUM);
    this.op(W.I64And);
    this.local(W.LocalSet, L_DSUM);
    this.local(W.LocalGet, L_AREA);
    this.local(W.LocalGet, L_DTAG);
    this.mem(W.I64Store32, 2, AREA_DTAG);
  }

  /** Pushes fflags, frm or fcsr (i64) from the area. */
  private readFp(csr: number): void {
    if (csr !== CSR_FFLAGS) {
      this.local(W.LocalGet, L_AREA);
      this.mem(W.I64Load32U, 2, AREA_FRM);
      if (csr === CSR_FRM) return;
      this.i64(5);
      this.op(W.I64Shl);
    }
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I64Load32U, 2, AREA_FFLAGS);
    if (csr === CSR_FCSR) this.op(W.I64Or);
  }

  /** Writes fflags, frm or fcsr from t's low bits and makes mstatus.FS Dirty. */
  private writeFp(csr: number): void {
    const field = (shift: number, mask: number, off: number): void => {
      this.local(W.LocalGet, L_AREA);
      this.local(W.LocalGet, L_T);
      this.op(W.I32WrapI64);
      if (shift !== 0) {
        this.i32(shift);
        this.op(W.I32ShrU);
      }
      this.i32(mask);
      this.op(W.I32And);
      this.mem(W.I32Store, 2, off);
    };
    if (csr === CSR_FRM) field(0, 7, AREA_FRM);
    else field(0, 0x1f, AREA_FFLAGS);
    if (csr === CSR_FCSR) field(5, 7, AREA_FRM);
    this.setAreaBits(AREA_MSTATUS, MSTATUS_FS_DIRTY);
  }

  /** Sets `bits` in the word at area offset `off` (mstatus.FS Dirty, fflags.NX). */
  protected setAreaBits(off: number, bits: number): void {
    this.local(W.LocalGet, L_AREA);
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I32Load, 2, off);
    this.i32(bits);
    this.op(W.I32Or);
    this.mem(W.I32Store, 2, off);
  }

  /** Writes t to the S-mode CSR at area offset `off` (sepc drops bit 0, scause keeps bit 63 of the high half). */
  private writeS(csr: number, off: number): void {
    this.local(W.LocalGet, L_AREA);
    this.local(W.LocalGet, L_T);
    if (csr === CSR_SEPC) {
      this.i64(-2);
      this.op(W.I64And);
    }
    if (csr !== CSR_SCAUSE) {
      this.mem(W.I64Store, 3, off);
      return;
    }
    this.mem(W.I64Store32, 2, off);
    this.local(W.LocalGet, L_AREA);
    this.local(W.LocalGet, L_T);
    this.i64(32);
    this.op(W.I64ShrU);
    this.op(W.I32WrapI64);
    this.i32(1 << 31);
    this.op(W.I32And);
    this.mem(W.I32Store, 2, off + 4);
  }
}
