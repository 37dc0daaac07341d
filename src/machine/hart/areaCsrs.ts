// The CSR state that a hart keeps in its area (areaLayout.ts) rather than in JavaScript fields,
// so that translated blocks (jit/) read and write the same copy as the interpreter: the LR/SC
// reservation, mstatus, the FP registers, fflags and frm (through FpRegs), and sscratch, sepc,
// scause, stval.
// Hart extends this; each value is a getter and setter over one Int32Array.

import {
  AREA_CSR_END,
  AREA_F,
  AREA_FFLAGS,
  AREA_MSTATUS,
  AREA_RESV,
  AREA_RESV_VAL,
  AREA_SCAUSE,
  AREA_SEPC,
  AREA_SSCRATCH,
  AREA_STVAL,
} from './areaLayout.js';
import { FpRegs } from './regs.js';

/** Indexes in AreaCsrs.shared (words from AREA_RESV). */
const S_MSTATUS = (AREA_MSTATUS - AREA_RESV) >> 2;
const S_FFLAGS = (AREA_FFLAGS - AREA_RESV) >> 2;
const S_SSCRATCH = (AREA_SSCRATCH - AREA_RESV) >> 2;
const S_SEPC = (AREA_SEPC - AREA_RESV) >> 2;
const S_SCAUSE = (AREA_SCAUSE - AREA_RESV) >> 2;
const S_STVAL = (AREA_STVAL - AREA_RESV) >> 2;
const S_RESV_VAL = (AREA_RESV_VAL - AREA_RESV) >> 2;

export class AreaCsrs {
  readonly fregs: FpRegs;
  /**
   * The words of the hart's area from AREA_RESV to AREA_CSR_END (areaLayout.ts), where
   * translated code reads and writes them too: the LR/SC reservation and some CSRs.
   */
  private readonly shared: Int32Array;
  /** LR/SC reservation: RAM offset, or -1. */
  get reservation(): number {
    return this.shared[0];
  }
  set reservation(off: number) {
    this.shared[0] = off;
  }
  /** The value the LR read, low and high words (an SC compares memory with it). */
  get reservedLo(): number {
    return this.shared[S_RESV_VAL];
  }
  set reservedLo(v: number) {
    this.shared[S_RESV_VAL] = v;
  }
  get reservedHi(): number {
    return this.shared[S_RESV_VAL + 1];
  }
  set reservedHi(v: number) {
    this.shared[S_RESV_VAL + 1] = v;
  }
  /** mstatus, low half (the high half is fixed but for SD, which is computed). */
  get mstatus(): number {
    return this.shared[S_MSTATUS];
  }
  set mstatus(v: number) {
    this.shared[S_MSTATUS] = v;
  }
  get sscratchLo(): number {
    return this.shared[S_SSCRATCH];
  }
  set sscratchLo(v: number) {
    this.shared[S_SSCRATCH] = v;
  }
  get sscratchHi(): number {
    return this.shared[S_SSCRATCH + 1];
  }
  set sscratchHi(v: number) {
    this.shared[S_SSCRATCH + 1] = v;
  }
  get sepcLo(): number {
    return this.shared[S_SEPC];
  }
  set sepcLo(v: number) {
    this.shared[S_SEPC] = v;
  }
  get sepcHi(): number {
    return this.shared[S_SEPC + 1];
  }
  set sepcHi(v: number) {
    this.shared[S_SEPC + 1] = v;
  }
  get scauseLo(): number {
    return this.shared[S_SCAUSE];
  }
  set scauseLo(v: number) {
    this.shared[S_SCAUSE] = v;
  }
  get scauseHi(): number {
    return this.shared[S_SCAUSE + 1];
  }
  set scauseHi(v: number) {
    this.shared[S_SCAUSE + 1] = v;
  }
  get stvalLo(): number {
    return this.shared[S_STVAL];
  }
  set stvalLo(v: number) {
    this.shared[S_STVAL] = v;
  }
  get stvalHi(): number {
    return this.shared[S_STVAL + 1];
  }
  set stvalHi(v: number) {
    this.shared[S_STVAL + 1] = v;
  }

  /** The state in the area at byte `area` of `buffer`, or (area < 0) in an array of its own. */
  constructor(buffer: ArrayBuffer | SharedArrayBuffer, area: number) {
    const words = (AREA_CSR_END - AREA_RESV) >> 2;
    this.shared =
      area >= 0 ? new Int32Array(buffer, area + AREA_RESV, words) : new Int32Array(words);
    this.shared.fill(0);
    this.shared[0] = -1;
    const fcsr = this.shared.subarray(S_FFLAGS, S_FFLAGS + 2);
    this.fregs = area >= 0 ? new FpRegs(fcsr, buffer, area + AREA_F) : new FpRegs(fcsr);
    this.fregs.u.fill(0);
  }
}
