// Translates a run of decoded RV64 instructions from one page of guest code
// into the body of a WebAssembly function (see blockCache.ts for how bodies
// become callable blocks). The function is
//   (area: i32, pcLo: i32, pcHi: i32, budget: i32) -> i32
// where area is the hart's area (areaLayout.ts) and pc the virtual address of
// the first instruction. It runs the instructions and returns how many it
// completed (never more than budget), with the pc of the next one stored at
// AREA_PC_LO.
//
// A block runs straight on through untaken conditional branches (a taken one
// leaves it, or, when it jumps back to the block's first instruction, goes
// round a wasm loop while the budget lasts); a jump ends it.
//
// A block never traps and never calls out. It covers integer computation,
// multiply and divide, branches and jumps, and
// loads and stores that hit the hart's read or write TLB and are aligned; any
// other access leaves the block just before the instruction (a side exit),
// with every register written back, so the interpreter runs it next with the
// architectural state exactly as after the instructions before it. Any other
// instruction ends the block before it the same way. Guest registers are
// cached in wasm locals and written back at every exit.

import { CODE_SLOT_EMPTY, CODE_SLOT_WORDS, HART_AREAS_BYTES, type Ram } from '../../ram.js';
import {
  AREA_DTAG,
  AREA_PC_LO,
  AREA_ROFF,
  AREA_RTAG_HI,
  AREA_RTAG_LO,
  AREA_WOFF,
  AREA_WTAG_HI,
  AREA_WTAG_LO,
  TLB_MASK,
} from '../areaLayout.js';
import { decodeInto } from '../decode.js';
import { Op } from '../ops.js';
import { ByteWriter, T_I32, T_I64, T_VOID, W } from './wasmWriter.js';

/** The most instructions one block holds. The hart runs a block only with this much budget left. */
export const MAX_BLOCK = 64;

// Locals: parameters, then scratch, then one i64 per guest register.
const L_AREA = 0;
const L_PCLO = 1;
const L_PCHI = 2;
const L_BUDGET = 3;
const L_PC = 4;
const L_ADDR = 5;
const L_T = 6;
const L_T2 = 7;
/** Limbs of the high multiplies. */
const L_M0 = 8;
const L_M1 = 9;
const L_M2 = 10;
const L_M3 = 11;
const L_DTAG = 12;
const L_LO = 13;
const L_IDX = 14;
/** Instructions completed in earlier iterations of the block's loop. */
const L_N = 15;
const L_X0 = 16;

/** Signed LEB128 of -2^63 (i64.const of the most negative value). */
const I64_MIN_LEB = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f];

export interface Translation {
  /** The function body: locals and code. */
  body: Uint8Array;
  /** Instructions translated. */
  count: number;
}

export class BlockTranslator {
  private readonly w = new ByteWriter();
  private readonly scratch = new Int32Array(CODE_SLOT_WORDS);
  /** Bit r: x r is in its local. */
  private loaded = 0;
  /** Bit r: x r's local is newer than the area. */
  private dirty = 0;

  /**
   * Translates from page offset `po` of the code page at RAM offset `pageOff`,
   * or returns null when the first instruction is not translatable.
   */
  translate(ram: Ram, pageOff: number, po: number): Translation | null {
    const code = ram.codePage(pageOff >>> 12);
    const w = this.w;
    w.reset();
    this.loaded = 0;
    this.dirty = 0;
    // Locals: 8 x i64 (pc, addr, t, t2, m0..m3), 4 x i32 (dtag, lo, idx, n), 32 x i64 (registers).
    w.u32(3);
    w.u32(8);
    w.byte(T_I64);
    w.u32(4);
    w.byte(T_I32);
    w.u32(32);
    w.byte(T_I64);
    // pc = pcLo | pcHi << 32; dtag = area[DTAG]
    w.byte(W.LocalGet);
    w.u32(L_PCLO);
    w.byte(W.I64ExtendI32U);
    w.byte(W.LocalGet);
    w.u32(L_PCHI);
    w.byte(W.I64ExtendI32U);
    w.byte(W.I64Const);
    w.s32(32);
    w.byte(W.I64Shl);
    w.byte(W.I64Or);
    w.byte(W.LocalSet);
    w.u32(L_PC);
    w.byte(W.LocalGet);
    w.u32(L_AREA);
    w.byte(W.I32Load);
    w.u32(2);
    w.u32(AREA_DTAG);
    w.byte(W.LocalSet);
    w.u32(L_DTAG);
    // The body is a loop: a branch back to the first instruction goes round again.
    w.byte(W.Loop);
    w.byte(T_VOID);

    let k = 0;
    let o = 0;
    for (;;) {
      const p = po + o;
      if (k === MAX_BLOCK || p >= 4096) break;
      const slot = (p >>> 1) * CODE_SLOT_WORDS;
      let w0 = code[slot];
      let imm = code[slot + 1];
      let inst = code[slot + 2];
      if (w0 === CODE_SLOT_EMPTY) {
        inst = ram.u16[(pageOff + p) >>> 1];
        if ((inst & 3) === 3) {
          if (p === 0xffe) break;
          inst |= ram.u16[((pageOff + p) >>> 1) + 1] << 16;
        }
        decodeInto(inst, this.scratch, 0);
        w0 = this.scratch[0];
        imm = this.scratch[1];
        code[slot] = w0;
        code[slot + 1] = imm;
        code[slot + 2] = inst;
      }
      const len = (inst & 3) === 3 ? 4 : 2;
      const r = this.instruction(
        w0 & 0xff,
        (w0 >>> 8) & 63,
        (w0 >>> 14) & 31,
        (w0 >>> 19) & 31,
        imm,
        k,
        o,
        len,
      );
      if (r === Step.Unsupported) break;
      k++;
      o += len;
      if (r === Step.Ended) return { body: this.finish(), count: k };
    }
    if (k === 0) return null;
    this.exit(k, o);
    return { body: this.finish(), count: k };
  }

  private finish(): Uint8Array {
    // Every path through the loop returns.
    this.w.byte(W.End);
    this.w.byte(W.Unreachable);
    this.w.byte(W.End);
    return this.w.take().slice();
  }

  // --- emission helpers ---

  private op(b: number): void {
    this.w.byte(b);
  }
  private local(op: W.LocalGet | W.LocalSet | W.LocalTee, i: number): void {
    this.w.byte(op);
    this.w.u32(i);
  }
  private i32(v: number): void {
    this.w.byte(W.I32Const);
    this.w.s32(v);
  }
  private i64(v: number): void {
    this.w.byte(W.I64Const);
    this.w.s32(v);
  }
  private mem(op: number, align: number, offset: number): void {
    this.w.byte(op);
    this.w.u32(align);
    this.w.u32(offset);
  }

  /** Pushes x r (i64). */
  private get(r: number): void {
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

  /** Pops an i64 into x r (r is never 0 or the discard slot). */
  private set(r: number): void {
    this.local(W.LocalSet, L_X0 + r);
    this.loaded |= 1 << r;
    this.dirty |= 1 << r;
  }

  /** Pushes the virtual address of the instruction at offset o plus `add`. */
  private pcPlus(add: number): void {
    this.local(W.LocalGet, L_PC);
    if (add !== 0) {
      this.i64(add);
      this.op(W.I64Add);
    }
  }

  /** Writes back dirty registers, stores the i64 on the stack... (see exitWith). */
  private flush(): void {
    for (let r = 1; r < 32; r++) {
      if ((this.dirty >>> r) & 1) {
        this.local(W.LocalGet, L_AREA);
        this.local(W.LocalGet, L_X0 + r);
        this.mem(W.I64Store, 3, r * 8);
      }
    }
  }

  /** Leaves the block with `k` instructions done and pc = block pc + o. */
  private exit(k: number, o: number): void {
    this.flush();
    this.local(W.LocalGet, L_AREA);
    this.pcPlus(o);
    this.mem(W.I64Store, 3, AREA_PC_LO);
    this.ret(k);
  }

  /** Returns the instructions done: earlier iterations plus `k`. */
  private ret(k: number): void {
    this.local(W.LocalGet, L_N);
    this.i32(k);
    this.op(W.I32Add);
    this.op(W.Return);
  }

  /** Stores pc = block pc + o (after a taken or untaken branch). */
  private storePc(o: number): void {
    this.local(W.LocalGet, L_AREA);
    this.pcPlus(o);
    this.mem(W.I64Store, 3, AREA_PC_LO);
  }

  /**
   * Effective address rs1 + imm into L_ADDR/L_LO and the TLB check: leaves
   * the block (instruction k at offset o not done) unless the access of
   * `size` bytes is aligned and hits; then pushes the RAM offset (i32).
   */
  private access(
    write: boolean,
    rs1: number,
    imm: number,
    size: number,
    k: number,
    o: number,
  ): void {
    this.get(rs1);
    if (imm !== 0) {
      this.i64(imm);
      this.op(W.I64Add);
    }
    this.local(W.LocalTee, L_ADDR);
    this.op(W.I32WrapI64);
    this.local(W.LocalTee, L_LO);
    this.i32(12);
    this.op(W.I32ShrU);
    this.i32(TLB_MASK);
    this.op(W.I32And);
    this.i32(2);
    this.op(W.I32Shl);
    this.local(W.LocalGet, L_AREA);
    this.op(W.I32Add);
    this.local(W.LocalTee, L_IDX);
    this.mem(W.I32Load, 2, write ? AREA_WTAG_LO : AREA_RTAG_LO);
    this.local(W.LocalGet, L_LO);
    this.i32(~0xfff);
    this.op(W.I32And);
    this.local(W.LocalGet, L_DTAG);
    this.op(W.I32Or);
    this.op(W.I32Ne);
    this.local(W.LocalGet, L_IDX);
    this.mem(W.I32Load, 2, write ? AREA_WTAG_HI : AREA_RTAG_HI);
    this.local(W.LocalGet, L_ADDR);
    this.i64(32);
    this.op(W.I64ShrU);
    this.op(W.I32WrapI64);
    this.op(W.I32Ne);
    this.op(W.I32Or);
    if (size > 1) {
      this.local(W.LocalGet, L_LO);
      this.i32(size - 1);
      this.op(W.I32And);
      this.op(W.I32Or);
    }
    this.op(W.If);
    this.op(T_VOID);
    this.exit(k, o);
    this.op(W.End);
    this.local(W.LocalGet, L_IDX);
    this.mem(W.I32Load, 2, write ? AREA_WOFF : AREA_ROFF);
    this.local(W.LocalGet, L_LO);
    this.i32(0xfff);
    this.op(W.I32And);
    this.op(W.I32Add);
  }

  /** rd = op(rs1, rs2) on i64. */
  private binary(d: number, r1: number, r2: number, op: number): void {
    this.get(r1);
    this.get(r2);
    this.op(op);
    this.set(d);
  }
  /** rd = op(rs1, imm) on i64. */
  private binaryImm(d: number, r1: number, imm: number, op: number): void {
    this.get(r1);
    this.i64(imm);
    this.op(op);
    this.set(d);
  }
  /** rd = sext(op(rs1[31:0], rs2[31:0] or imm)) on i32. */
  private word(d: number, r1: number, r2: number, imm: number, useImm: boolean, op: number): void {
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
  private compare(
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
  private divide(
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
  private mulHigh(op: number, d: number, r1: number, r2: number): void {
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

  /** Emits instruction k at block offset o; says whether the block goes on. */
  private instruction(
    op: number,
    d: number,
    r1: number,
    r2: number,
    imm: number,
    k: number,
    o: number,
    len: number,
  ): Step {
    const discard = d === 0 || d === 32;
    switch (op) {
      case Op.LUI:
        if (!discard) {
          this.i64(imm);
          this.set(d);
        }
        return Step.Next;
      case Op.AUIPC:
        if (!discard) {
          this.pcPlus(o);
          this.i64(imm);
          this.op(W.I64Add);
          this.set(d);
        }
        return Step.Next;
      case Op.JAL:
        if (!discard) {
          this.pcPlus(o + len);
          this.set(d);
        }
        this.flush();
        this.storePcExpr(() => {
          this.pcPlus(o);
          this.i64(imm);
          this.op(W.I64Add);
        });
        this.ret(k + 1);
        return Step.Ended;
      case Op.JALR:
        this.get(r1);
        this.i64(imm);
        this.op(W.I64Add);
        this.i64(-2);
        this.op(W.I64And);
        this.local(W.LocalSet, L_T);
        if (!discard) {
          this.pcPlus(o + len);
          this.set(d);
        }
        this.flush();
        this.storePcExpr(() => this.local(W.LocalGet, L_T));
        this.ret(k + 1);
        return Step.Ended;
      case Op.BEQ:
      case Op.BNE:
      case Op.BLT:
      case Op.BGE:
      case Op.BLTU:
      case Op.BGEU: {
        this.get(r1);
        this.get(r2);
        this.op(BRANCH_CMP[op - Op.BEQ]);
        // Taken: round the loop again when the target is the block's start and the
        // budget has room for another pass; otherwise leave. Not taken: go on.
        this.op(W.If);
        this.op(T_VOID);
        if (o + imm === 0) {
          this.local(W.LocalGet, L_N);
          this.i32(k + 1 + MAX_BLOCK);
          this.op(W.I32Add);
          this.local(W.LocalGet, L_BUDGET);
          this.op(W.I32LeS);
          this.op(W.If);
          this.op(T_VOID);
          // Registers are read from the area at their first use in the body: write back first.
          this.flush();
          this.local(W.LocalGet, L_N);
          this.i32(k + 1);
          this.op(W.I32Add);
          this.local(W.LocalSet, L_N);
          this.op(W.Br);
          this.w.u32(2);
          this.op(W.End);
        }
        this.flush();
        this.storePc(o + imm);
        this.ret(k + 1);
        this.op(W.End);
        return Step.Next;
      }
      case Op.LB:
      case Op.LH:
      case Op.LW:
      case Op.LD:
      case Op.LBU:
      case Op.LHU:
      case Op.LWU: {
        const i = op - Op.LB;
        this.access(false, r1, imm, LOAD_SIZE[i], k, o);
        this.mem(LOAD_OP[i], LOAD_ALIGN[i], HART_AREAS_BYTES);
        if (discard) this.op(W.Drop);
        else this.set(d);
        return Step.Next;
      }
      case Op.SB:
      case Op.SH:
      case Op.SW:
      case Op.SD: {
        const i = op - Op.SB;
        this.access(true, r1, imm, 1 << i, k, o);
        this.get(r2);
        this.mem(STORE_OP[i], i, HART_AREAS_BYTES);
        return Step.Next;
      }
      case Op.FENCE:
      case Op.FENCE_I:
        return Step.Next;
      case Op.MULH:
      case Op.MULHSU:
      case Op.MULHU:
        if (!discard) this.mulHigh(op, d, r1, r2);
        return Step.Next;
    }
    if (op >= Op.ADDI && op <= Op.REMUW && op !== Op.FENCE && op !== Op.FENCE_I) {
      if (op >= Op.ECALL && op <= Op.CSRRCI) return Step.Unsupported;
      if (!discard) this.alu(op, d, r1, r2, imm);
      return Step.Next;
    }
    return Step.Unsupported;
  }

  private storePcExpr(value: () => void): void {
    this.local(W.LocalGet, L_AREA);
    value();
    this.mem(W.I64Store, 3, AREA_PC_LO);
  }

  /** Register-to-register and immediate arithmetic (rd is a real register). */
  private alu(op: number, d: number, r1: number, r2: number, imm: number): void {
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

const enum Step {
  Next,
  Ended,
  Unsupported,
}

/** Comparison opcodes of BEQ, BNE, BLT, BGE, BLTU, BGEU. */
const BRANCH_CMP = [W.I64Eq, W.I64Ne, W.I64LtS, W.I64GeS, W.I64LtU, W.I64GeU];
/** By op - LB: LB, LH, LW, LD, LBU, LHU, LWU. */
const LOAD_SIZE = [1, 2, 4, 8, 1, 2, 4];
const LOAD_ALIGN = [0, 1, 2, 3, 0, 1, 2];
const LOAD_OP = [
  W.I64Load8S,
  W.I64Load16S,
  W.I64Load32S,
  W.I64Load,
  W.I64Load8U,
  W.I64Load16U,
  W.I64Load32U,
];
/** By op - SB. */
const STORE_OP = [W.I64Store8, W.I64Store16, W.I64Store32, W.I64Store];
