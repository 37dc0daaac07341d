// The wasm emission under the block translator (translate.ts): the block
// function's locals, guest registers cached in locals (loaded at first use,
// or all at the start in a block that loops; written back at every exit),
// exits, and the integer arithmetic of RV64IM.
// BitmanipEmitter (bitmanipEmitter.ts) extends it with Zba/Zbb/Zbc/Zbs,
// CsrEmitter (csrEmitter.ts) with CSR accesses, FpBitsEmitter, FpInexactEmitter
// and FpEmitter (fpBitsEmitter.ts, fpInexact.ts, fpEmitter.ts) with the F and D
// instructions, and
// BlockTranslator extends that with the instruction walk, memory accesses and
// control flow.

import { AREA_PC_LO } from '../areaLayout.js';
import { Op } from '../ops.js';
import { ByteWriter, T_I64, T_VOID, W } from './wasmWriter.js';

// Locals: parameters, then scratch, then one i64 per guest register.
export const L_AREA = 0;
export const L_PCLO = 1;
export const L_PCHI = 2;
export const L_BUDGET = 3;
export const L_PC = 4;
export const L_ADDR = 5;
export const L_T = 6;
export const L_T2 = 7;
/** Limbs of the high multiplies. */
export const L_M0 = 8;
export const L_M1 = 9;
export const L_M2 = 10;
export const L_M3 = 11;
export const L_DTAG = 12;
export const L_LO = 13;
export const L_IDX = 14;
/** Instructions completed in earlier iterations of the block's loop. */
export const L_N = 15;
export const L_X0 = 16;
/** After the registers: the segment a jump backward inside the block goes to (translate.ts). */
export const L_ENTRY = L_X0 + 32;
/** The SUM bit of the data TLB tag (L_DTAG & DTAG_SUM, mmu.ts dataHit). */
export const L_DSUM = L_X0 + 33;

/**
 * Added to a block's (and the dispatcher's) count of instructions done when the block ends on an
 * instruction after which the hart must look for an interrupt (csrEmitter.ts: sstatus.SIE set).
 * Counts stay below it: the hart never gives the dispatcher a larger budget (MAX_DISPATCH).
 */
export const BLOCK_STOP = 1 << 30;
/** The most instructions the hart asks of one call of the dispatcher. */
export const MAX_DISPATCH = BLOCK_STOP - 1;

/** Signed LEB128 of -2^63 (i64.const of the most negative value). */
const I64_MIN_LEB = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f];

export class BlockEmitter {
  protected readonly w = new ByteWriter();
  /** Bit r: x r is in its local. */
  protected loaded = 0;
  /** Bit r: x r's local is newer than the area. */
  protected dirty = 0;
  /**
   * What the segment's code so far has established about mstatus.FS (fpEmitter.ts): 1 on, 2
   * also Dirty; 0 at every segment's start and after a write to sstatus.
   */
  protected fsKnown = 0;

  protected op(b: number): void {
    this.w.byte(b);
  }
  protected local(op: W.LocalGet | W.LocalSet | W.LocalTee, i: number): void {
    this.w.byte(op);
    this.w.u32(i);
  }
  protected i32(v: number): void {
    this.w.byte(W.I32Const);
    this.w.s32(v);
  }
  protected i64(v: number): void {
    this.w.byte(W.I64Const);
    this.w.s32(v);
  }
  protected mem(op: number, align: number, offset: number): void {
    this.w.byte(op);
    this.w.u32(align);
    this.w.u32(offset);
  }

  /** Pushes x r (i64). */
  protected get(r: number): void {
    if (r === 0) {
      this.i64(0);
    } else if ((this.loaded >>> r) & 1) {
      this.local(W.LocalGet, L_X0 + r);
    } else {
      this.local(W.LocalGet, L_AREA);
      this.mem(W.I64Load, 3, r * 8);
      this.local(W.LocalTee, L_X0 + r);
      this.loaded |= 1 << r;
    }
  }

  /**
   * The block keeps its registers in locals from its start to every exit (translate.ts
   * loadAll); then it may write only those of `writable`.
   */
  protected inLocals = false;
  protected writable = 0;

  /** Pops an i64 into x r (r is never 0 or the discard slot). */
  protected set(r: number): void {
    if (this.inLocals && ((this.writable >>> r) & 1) === 0) {
      throw new Error(`block translation: x${r} is written but was not loaded`);
    }
    this.local(W.LocalSet, L_X0 + r);
    this.loaded |= 1 << r;
    this.dirty |= 1 << r;
  }

  /** Pushes the virtual address of the instruction at offset o plus `add`. */
  protected pcPlus(add: number): void {
    this.local(W.LocalGet, L_PC);
    if (add !== 0) {
      this.i64(add);
      this.op(W.I64Add);
    }
  }

  /** Writes back dirty registers, stores the i64 on the stack... (see exitWith). */
  protected flush(): void {
    for (let r = 1; r < 32; r++) {
      if ((this.dirty >>> r) & 1) {
        this.local(W.LocalGet, L_AREA);
        this.local(W.LocalGet, L_X0 + r);
        this.mem(W.I64Store, 3, r * 8);
      }
    }
  }

  /** Leaves the block with `k` instructions done and pc = block pc + o. */
  protected exit(k: number, o: number): void {
    this.flush();
    this.local(W.LocalGet, L_AREA);
    this.pcPlus(o);
    this.mem(W.I64Store, 3, AREA_PC_LO);
    this.ret(k);
  }

  /** Leaves the block before instruction k (offset o) if the i32 on the stack is not 0 (`negate`: is 0). */
  protected exitIf(k: number, o: number, negate = false): void {
    if (negate) this.op(W.I32Eqz);
    this.op(W.If);
    this.op(T_VOID);
    this.exit(k, o);
    this.op(W.End);
  }

  /**
   * Leaves the block with `k` instructions done and pc = block pc + o, flagged BLOCK_STOP: the
   * dispatcher returns at once and the hart's run loop checks for interrupts before going on.
   */
  protected exitStop(k: number, o: number): void {
    this.exit(k + BLOCK_STOP, o);
  }

  /** Returns the instructions done: earlier iterations plus `k`. */
  protected ret(k: number): void {
    this.local(W.LocalGet, L_N);
    this.i32(k);
    this.op(W.I32Add);
    this.op(W.Return);
  }

  /** Stores pc = block pc + o (after a taken or untaken branch). */
  protected storePc(o: number): void {
    this.local(W.LocalGet, L_AREA);
    this.pcPlus(o);
    this.mem(W.I64Store, 3, AREA_PC_LO);
  }

  /** rd = op(rs1, rs2) on i64. */
  protected binary(d: number, r1: number, r2: number, op: number): void {
    this.get(r1);
    this.get(r2);
    this.op(op);
    this.set(d);
  }
  /** rd = op(rs1, imm) on i64. */
  protected binaryImm(d: number, r1: number, imm: number, op: number): void {
    this.get(r1);
    this.i64(imm);
    this.op(op);
    this.set(d);
  }
  /** rd = sext(op(rs1[31:0], rs2[31:0] or imm)) on i32. */
  protected word(
    d: number,
    r1: number,
    r2: number,
    imm: number,
    useImm: boolean,
    op: number,
  ): void {
    this.get(r1);
    this.op(W.I32WrapI64);
    if (useImm) this.i32(imm);
    else {
      this.get(r2);
      this.op(W.I32WrapI64);
    }
    this.op(op);
    this.op(W.I64ExtendI32S);
    this.set(d);
  }
  /** rd = compare(rs1, rs2 or imm) ? 1 : 0. */
  protected compare(
    d: number,
    r1: number,
    r2: number,
    imm: number,
    useImm: boolean,
    op: number,
  ): void {
    this.get(r1);
    if (useImm) this.i64(imm);
    else this.get(r2);
    this.op(op);
    this.op(W.I64ExtendI32U);
    this.set(d);
  }

  /** Division and remainder with RISC-V's results for a zero divisor and overflow. */
  protected divide(
    d: number,
    r1: number,
    r2: number,
    signed: boolean,
    rem: boolean,
    wide: boolean,
  ): void {
    // t = a, t2 = b (as i64; the word forms sign- or zero-extend their 32-bit operands first).
    const ext = (r: number): void => {
      this.get(r);
      if (!wide) {
        this.op(W.I32WrapI64);
        this.op(signed ? W.I64ExtendI32S : W.I64ExtendI32U);
      }
    };
    ext(r1);
    this.local(W.LocalSet, L_T);
    ext(r2);
    this.local(W.LocalTee, L_T2);
    this.op(W.I64Eqz);
    this.op(W.If);
    this.op(T_I64);
    if (rem) this.local(W.LocalGet, L_T);
    else this.i64(-1);
    this.op(W.Else);
    if (signed && !rem) {
      // Overflow (most negative / -1) gives the dividend; on 64-bit operands only the
      // 64-bit form can overflow, the word form computes in 64 bits where it cannot.
      if (wide) {
        this.local(W.LocalGet, L_T2);
        this.i64(-1);
        this.op(W.I64Eq);
        this.local(W.LocalGet, L_T);
        this.w.byte(W.I64Const);
        this.w.bytes(I64_MIN_LEB);
        this.op(W.I64Eq);
        this.op(W.I32And);
        this.op(W.If);
        this.op(T_I64);
        this.local(W.LocalGet, L_T);
        this.op(W.Else);
        this.local(W.LocalGet, L_T);
        this.local(W.LocalGet, L_T2);
        this.op(W.I64DivS);
        this.op(W.End);
      } else {
        this.local(W.LocalGet, L_T);
        this.local(W.LocalGet, L_T2);
        this.op(W.I64DivS);
      }
    } else {
      this.local(W.LocalGet, L_T);
      this.local(W.LocalGet, L_T2);
      this.op(signed ? (rem ? W.I64RemS : W.I64DivS) : rem ? W.I64RemU : W.I64DivU);
    }
    this.op(W.End);
    if (!wide) {
      this.op(W.I32WrapI64);
      this.op(W.I64ExtendI32S);
    }
    this.set(d);
  }

  /**
   * The high 64 bits of the 128-bit product (MULHU from 32-bit limbs; MULH and
   * MULHSU correct it for negative operands: minus b when a < 0, minus a when b < 0).
   */
  protected mulHigh(op: number, d: number, r1: number, r2: number): void {
    const get = (i: number): void => this.local(W.LocalGet, i);
    const set = (i: number): void => this.local(W.LocalSet, i);
    const low32 = (): void => {
      this.i32(-1);
      this.op(W.I64ExtendI32U);
      this.op(W.I64And);
    };
    const high32 = (): void => {
      this.i64(32);
      this.op(W.I64ShrU);
    };
    const product = (a: number, b: number): void => {
      get(a);
      get(b);
      this.op(W.I64Mul);
    };
    this.get(r1);
    this.local(W.LocalTee, L_T);
    low32();
    set(L_M0);
    get(L_T);
    high32();
    set(L_M1);
    this.get(r2);
    this.local(W.LocalTee, L_T2);
    low32();
    set(L_M2);
    get(L_T2);
    high32();
    set(L_M3);
    // mid = (aL*bL >> 32) + low32(aL*bH) + low32(aH*bL)
    product(L_M0, L_M2);
    high32();
    product(L_M0, L_M3);
    low32();
    this.op(W.I64Add);
    product(L_M1, L_M2);
    low32();
    this.op(W.I64Add);
    set(L_ADDR);
    // hi = aH*bH + (aL*bH >> 32) + (aH*bL >> 32) + (mid >> 32)
    product(L_M1, L_M3);
    product(L_M0, L_M3);
    high32();
    this.op(W.I64Add);
    product(L_M1, L_M2);
    high32();
    this.op(W.I64Add);
    get(L_ADDR);
    high32();
    this.op(W.I64Add);
    if (op !== Op.MULHU) {
      get(L_T);
      this.i64(63);
      this.op(W.I64ShrS);
      get(L_T2);
      this.op(W.I64And);
      this.op(W.I64Sub);
    }
    if (op === Op.MULH) {
      get(L_T2);
      this.i64(63);
      this.op(W.I64ShrS);
      get(L_T);
      this.op(W.I64And);
      this.op(W.I64Sub);
    }
    this.set(d);
  }

  protected storePcExpr(value: () => void): void {
    this.local(W.LocalGet, L_AREA);
    value();
    this.mem(W.I64Store, 3, AREA_PC_LO);
  }

  /** Register-to-register and immediate arithmetic (rd is a real register). */
  protected alu(op: number, d: number, r1: number, r2: number, imm: number): void {
    switch (op) {
      case Op.ADDI:
        return this.binaryImm(d, r1, imm, W.I64Add);
      case Op.SLTI:
        return this.compare(d, r1, r2, imm, true, W.I64LtS);
      case Op.SLTIU:
        return this.compare(d, r1, r2, imm, true, W.I64LtU);
      case Op.XORI:
        return this.binaryImm(d, r1, imm, W.I64Xor);
      case Op.ORI:
        return this.binaryImm(d, r1, imm, W.I64Or);
      case Op.ANDI:
        return this.binaryImm(d, r1, imm, W.I64And);
      case Op.SLLI:
        return this.binaryImm(d, r1, imm, W.I64Shl);
      case Op.SRLI:
        return this.binaryImm(d, r1, imm, W.I64ShrU);
      case Op.SRAI:
        return this.binaryImm(d, r1, imm, W.I64ShrS);
      case Op.ADD:
        return this.binary(d, r1, r2, W.I64Add);
      case Op.SUB:
        return this.binary(d, r1, r2, W.I64Sub);
      case Op.SLL:
        return this.binary(d, r1, r2, W.I64Shl);
      case Op.SLT:
        return this.compare(d, r1, r2, 0, false, W.I64LtS);
      case Op.SLTU:
        return this.compare(d, r1, r2, 0, false, W.I64LtU);
      case Op.XOR:
        return this.binary(d, r1, r2, W.I64Xor);
      case Op.SRL:
        return this.binary(d, r1, r2, W.I64ShrU);
      case Op.SRA:
        return this.binary(d, r1, r2, W.I64ShrS);
      case Op.OR:
        return this.binary(d, r1, r2, W.I64Or);
      case Op.AND:
        return this.binary(d, r1, r2, W.I64And);
      case Op.ADDIW:
        return this.word(d, r1, r2, imm, true, W.I32Add);
      case Op.SLLIW:
        return this.word(d, r1, r2, imm, true, W.I32Shl);
      case Op.SRLIW:
        return this.word(d, r1, r2, imm, true, W.I32ShrU);
      case Op.SRAIW:
        return this.word(d, r1, r2, imm, true, W.I32ShrS);
      case Op.ADDW:
        return this.word(d, r1, r2, imm, false, W.I32Add);
      case Op.SUBW:
        return this.word(d, r1, r2, imm, false, W.I32Sub);
      case Op.SLLW:
        return this.word(d, r1, r2, imm, false, W.I32Shl);
      case Op.SRLW:
        return this.word(d, r1, r2, imm, false, W.I32ShrU);
      case Op.SRAW:
        return this.word(d, r1, r2, imm, false, W.I32ShrS);
      case Op.MUL:
        return this.binary(d, r1, r2, W.I64Mul);
      case Op.MULW:
        return this.word(d, r1, r2, imm, false, W.I32Mul);
      case Op.DIV:
        return this.divide(d, r1, r2, true, false, true);
      case Op.DIVU:
        return this.divide(d, r1, r2, false, false, true);
      case Op.REM:
        return this.divide(d, r1, r2, true, true, true);
      case Op.REMU:
        return this.divide(d, r1, r2, false, true, true);
      case Op.DIVW:
        return this.divide(d, r1, r2, true, false, false);
      case Op.DIVUW:
        return this.divide(d, r1, r2, false, false, false);
      case Op.REMW:
        return this.divide(d, r1, r2, true, true, false);
      case Op.REMUW:
        return this.divide(d, r1, r2, false, true, false);
    }
    throw new Error(`translate: no case for op ${op}`);
  }
}
