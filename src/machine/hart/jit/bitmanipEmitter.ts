// The wasm emission of the bit-manipulation extensions Zba, Zbb, Zbc and Zbs
// for the block translator (translate.ts): most map onto one or two wasm i64
// or i32 operations (clz, ctz, popcnt, rotl, rotr, extend8_s, select); orc.b
// and rev8 are mask-and-shift sequences; the carry-less multiplies are a
// small wasm loop over the set bits of rs2. The interpreter's versions are in
// ../bitmanip.ts; the differential suite (test/diff, group zb) holds both to QEMU.

import { Op } from '../ops.js';
import { BlockEmitter, L_M0, L_M1, L_M2, L_T, L_T2 } from './blockEmitter.js';
import { T_VOID, W } from './wasmWriter.js';

export class BitmanipEmitter extends BlockEmitter {
  /** Pushes an i64 constant given as int32 halves. */
  private c64(lo: number, hi: number): void {
    this.w.byte(W.I64Const);
    this.w.s64(lo, hi);
  }

  /** Pushes x r zero-extended from its low 32 bits. */
  private zext32(r: number): void {
    this.get(r);
    this.op(W.I32WrapI64);
    this.op(W.I64ExtendI32U);
  }

  /** rd = the bit-manipulation instruction `op` (FIRST_ZB_OP..LAST_ZB_OP); rd is a real register. */
  protected bitmanip(op: number, d: number, r1: number, r2: number, imm: number): void {
    switch (op) {
      case Op.ADD_UW:
        this.zext32(r1);
        this.get(r2);
        this.op(W.I64Add);
        break;
      case Op.SH1ADD:
      case Op.SH2ADD:
      case Op.SH3ADD:
      case Op.SH1ADD_UW:
      case Op.SH2ADD_UW:
      case Op.SH3ADD_UW: {
        const uw = op >= Op.SH1ADD_UW;
        if (uw) this.zext32(r1);
        else this.get(r1);
        this.i64(op - (uw ? Op.SH1ADD_UW : Op.SH1ADD) + 1);
        this.op(W.I64Shl);
        this.get(r2);
        this.op(W.I64Add);
        break;
      }
      case Op.SLLI_UW:
        this.zext32(r1);
        this.i64(imm);
        this.op(W.I64Shl);
        break;
      case Op.ANDN:
      case Op.ORN:
        this.get(r1);
        this.get(r2);
        this.i64(-1);
        this.op(W.I64Xor);
        this.op(op === Op.ANDN ? W.I64And : W.I64Or);
        break;
      case Op.XNOR:
        this.get(r1);
        this.get(r2);
        this.op(W.I64Xor);
        this.i64(-1);
        this.op(W.I64Xor);
        break;
      case Op.CLZ:
      case Op.CTZ:
      case Op.CPOP:
        this.get(r1);
        this.op(op === Op.CLZ ? W.I64Clz : op === Op.CTZ ? W.I64Ctz : W.I64Popcnt);
        break;
      case Op.CLZW:
      case Op.CTZW:
      case Op.CPOPW:
        this.get(r1);
        this.op(W.I32WrapI64);
        this.op(op === Op.CLZW ? W.I32Clz : op === Op.CTZW ? W.I32Ctz : W.I32Popcnt);
        this.op(W.I64ExtendI32U);
        break;
      case Op.MAX:
      case Op.MAXU:
      case Op.MIN:
      case Op.MINU: {
        // select(v1, v2, c) is v1 when c: max = a < b ? b : a, min = a < b ? a : b.
        const max = op === Op.MAX || op === Op.MAXU;
        this.get(max ? r2 : r1);
        this.get(max ? r1 : r2);
        this.get(r1);
        this.get(r2);
        this.op(op === Op.MAX || op === Op.MIN ? W.I64LtS : W.I64LtU);
        this.op(W.Select);
        break;
      }
      case Op.SEXT_B:
      case Op.SEXT_H:
        this.get(r1);
        this.op(op === Op.SEXT_B ? W.I64Extend8S : W.I64Extend16S);
        break;
      case Op.ZEXT_H:
        this.get(r1);
        this.i64(0xffff);
        this.op(W.I64And);
        break;
      case Op.ROL:
      case Op.ROR:
        this.get(r1);
        this.get(r2);
        this.op(op === Op.ROL ? W.I64Rotl : W.I64Rotr);
        break;
      case Op.RORI:
        this.get(r1);
        this.i64(imm);
        this.op(W.I64Rotr);
        break;
      case Op.ROLW:
        return this.word(d, r1, r2, 0, false, W.I32Rotl);
      case Op.RORW:
        return this.word(d, r1, r2, 0, false, W.I32Rotr);
      case Op.RORIW:
        return this.word(d, r1, r2, imm, true, W.I32Rotr);
      case Op.ORC_B:
        this.orcB(r1);
        break;
      case Op.REV8:
        this.rev8(r1);
        break;
      case Op.CLMUL:
      case Op.CLMULH:
      case Op.CLMULR:
        this.clmul(op, r1, r2);
        break;
      case Op.BCLR:
      case Op.BINV:
      case Op.BSET:
      case Op.BCLRI:
      case Op.BINVI:
      case Op.BSETI: {
        const reg = op === Op.BCLR || op === Op.BINV || op === Op.BSET;
        this.get(r1);
        this.i64(1);
        if (reg) this.get(r2);
        else this.i64(imm);
        this.op(W.I64Shl); // wasm takes the shift amount mod 64, as Zbs does
        if (op === Op.BCLR || op === Op.BCLRI) {
          this.i64(-1);
          this.op(W.I64Xor);
          this.op(W.I64And);
        } else this.op(op === Op.BINV || op === Op.BINVI ? W.I64Xor : W.I64Or);
        break;
      }
      case Op.BEXT:
      case Op.BEXTI:
        this.get(r1);
        if (op === Op.BEXT) this.get(r2);
        else this.i64(imm);
        this.op(W.I64ShrU);
        this.i64(1);
        this.op(W.I64And);
        break;
      default:
        throw new Error(`translate: no bit-manipulation case for op ${op}`);
    }
    this.set(d);
  }

  /** Each byte of rs1: 0xff unless it is zero. High bit of ((v & 0x7f..) + 0x7f..) | v says "not zero". */
  private orcB(r1: number): void {
    this.get(r1);
    this.local(W.LocalTee, L_T);
    this.c64(0x7f7f7f7f, 0x7f7f7f7f);
    this.op(W.I64And);
    this.c64(0x7f7f7f7f, 0x7f7f7f7f);
    this.op(W.I64Add);
    this.local(W.LocalGet, L_T);
    this.op(W.I64Or);
    this.c64(0x80808080, 0x80808080);
    this.op(W.I64And);
    this.i64(7);
    this.op(W.I64ShrU);
    this.i64(0xff);
    this.op(W.I64Mul);
  }

  /** Byte reversal: swap bytes within halfwords, halfwords within words, then the words. */
  private rev8(r1: number): void {
    this.get(r1);
    for (const [sh, m] of [
      [8, 0x00ff00ff],
      [16, 0x0000ffff],
    ]) {
      this.local(W.LocalTee, L_T);
      this.i64(sh);
      this.op(W.I64ShrU);
      this.c64(m, m);
      this.op(W.I64And);
      this.local(W.LocalGet, L_T);
      this.c64(m, m);
      this.op(W.I64And);
      this.i64(sh);
      this.op(W.I64Shl);
      this.op(W.I64Or);
    }
    this.i64(32);
    this.op(W.I64Rotl);
  }

  /**
   * The 128-bit carry-less product of rs1 and rs2 into m0 (low) and m1 (high):
   * for each set bit i of rs2, m0 ^= rs1 << i and m1 ^= rs1 >> (64 - i); then
   * pushes the half (or, for clmulr, bits 126..63) the instruction wants.
   */
  private clmul(op: number, r1: number, r2: number): void {
    const get = (i: number): void => this.local(W.LocalGet, i);
    const set = (i: number): void => this.local(W.LocalSet, i);
    this.get(r1);
    set(L_T);
    this.get(r2);
    set(L_T2);
    this.i64(0);
    set(L_M0);
    this.i64(0);
    set(L_M1);
    this.i64(0);
    set(L_M2);
    this.op(W.Block);
    this.op(T_VOID);
    this.op(W.Loop);
    this.op(T_VOID);
    get(L_T2);
    this.op(W.I64Eqz);
    this.op(W.BrIf);
    this.w.u32(1);
    get(L_T2);
    this.i64(1);
    this.op(W.I64And);
    this.op(W.I32WrapI64);
    this.op(W.If);
    this.op(T_VOID);
    get(L_M0);
    get(L_T);
    get(L_M2);
    this.op(W.I64Shl);
    this.op(W.I64Xor);
    set(L_M0);
    // (rs1 >> 1) >> (63 - i): rs1 >> (64 - i), and 0 for i = 0 (wasm shifts are mod 64).
    get(L_M1);
    get(L_T);
    this.i64(1);
    this.op(W.I64ShrU);
    this.i64(63);
    get(L_M2);
    this.op(W.I64Sub);
    this.op(W.I64ShrU);
    this.op(W.I64Xor);
    set(L_M1);
    this.op(W.End);
    get(L_T2);
    this.i64(1);
    this.op(W.I64ShrU);
    set(L_T2);
    get(L_M2);
    this.i64(1);
    this.op(W.I64Add);
    set(L_M2);
    this.op(W.Br);
    this.w.u32(0);
    this.op(W.End);
    this.op(W.End);
    if (op === Op.CLMUL) get(L_M0);
    else if (op === Op.CLMULH) get(L_M1);
    else {
      get(L_M1);
      this.i64(1);
      this.op(W.I64Shl);
      get(L_M0);
      this.i64(63);
      this.op(W.I64ShrU);
      this.op(W.I64Or);
    }
  }
}
