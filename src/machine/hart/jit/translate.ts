// Translates a run of decoded RV64 instructions from one page of guest code
// into the body of a WebAssembly function (see blockCache.ts for how bodies
// become callable blocks). The function is
//   (area: i32, pcLo: i32, pcHi: i32, budget: i32) -> i32
// where area is the hart's area (areaLayout.ts) and pc the virtual address of
// the first instruction. It runs the instructions and returns how many it
// completed (never more than budget), with the pc of the next one stored at
// AREA_PC_LO.
//
// A block runs straight on through untaken conditional branches. A taken one,
// or a jump, whose target is an instruction of the same block goes on there
// (backward only while the budget lasts); otherwise it leaves the block
// (blockScan.ts chooses the instructions, and which of them are targets).
//
// A block never traps and never calls out. It covers integer computation,
// multiply and divide, bit manipulation (Zba, Zbb, Zbc, Zbs; bitmanipEmitter.ts),
// LR/SC (the reservation in the hart's area) and the AMOs but min/max (as wasm
// atomics on the write TLB's page), the accesses to fflags, frm, fcsr, sscratch,
// sepc, scause and stval (csrEmitter.ts; legal ones: an illegal one is a side exit),
// the F and D instructions but the fused multiply-adds (fpEmitter.ts: the float
// operations where they round to nearest-even and raise no flag but NX, else a
// side exit), branches and jumps, and
// loads and stores that hit the hart's read or write TLB and are aligned; any
// other access leaves the block just before the instruction (a side exit),
// with every register written back, so the interpreter runs it next with the
// architectural state exactly as after the instructions before it. Any other
// instruction ends the block before it the same way. Guest registers are
// cached in wasm locals and written back at every exit.

import { HART_AREAS_BYTES, type Ram } from '../../ram.js';
import {
  AREA_DTAG,
  AREA_RESV,
  AREA_RESV_VAL,
  AREA_RTLB,
  AREA_WTLB,
  TLB_ENTRY_BYTES,
  TLB_RAM,
  TLB_TAG,
} from '../areaLayout.js';
import { DTAG_SUM } from '../mmu.js';
import { FIRST_ZB_OP, LAST_FP_OP, LAST_ZB_OP, Op } from '../ops.js';
import { T_F32, T_F64, T_I32, T_I64, T_VOID, W } from './wasmWriter.js';
import { BlockScan, FLOW_CALL, FLOW_RETURN, MAX_BLOCK, type PagePeek } from './blockScan.js';
import { F32_LOCALS, F64_LOCALS } from './fpBitsEmitter.js';
import { PageGuards } from './pageGuards.js';
import {
  L_ADDR,
  L_AREA,
  L_BUDGET,
  L_DSUM,
  L_DTAG,
  L_ENTRY,
  L_IDX,
  L_LO,
  L_N,
  L_PC,
  L_PCHI,
  L_PCLO,
  L_T,
  L_T2,
  L_X0,
} from './blockEmitter.js';

export { MAX_BLOCK };

/**
 * The most instructions of a block that loops and keeps its registers in locals all through
 * (loadAll). Applied to looping blocks of any size, it made boots 0.1 to 0.2 s slower: a big
 * block that runs once and leaves early pays for loading all its registers on entry.
 */
const SMALL_LOOP = 24;

export interface Translation {
  /** The function body: locals and code. */
  body: Uint8Array;
  /** Instructions translated. */
  count: number;
  /** Each instruction's offset from the first (valid until the next translation). */
  offsets: Int32Array;
  /** Per instruction: 1 when it lies on the block's own page (valid as `offsets`). */
  own: Uint8Array;
  /** The other RAM pages (numbers) whose code the block holds (valid as `offsets`). */
  pages: readonly number[];
}

export class BlockTranslator extends PageGuards {
  private readonly scanned = new BlockScan();
  /** Per instruction of the block being translated: its segment (see translate()). */
  private readonly segmentOf = new Int32Array(MAX_BLOCK);
  private segments = 1;
  /**
   * Per instruction of a block that keeps its registers in locals (loadAll): the register it
   * writes, and those that may be dirty when a segment starts there.
   */
  private readonly writesAt = new Int32Array(MAX_BLOCK);
  private readonly dirtyAt = new Int32Array(MAX_BLOCK);
  /** RAM is shared with harts on other threads: FENCE is a real fence (atomic.fence). */
  private sharedRam = false;

  /**
   * Translates from page offset `po` of the code page at RAM offset `pageOff` (`peek`: the
   * other pages of the hart's address space, see BlockScan.scan), or returns null when the
   * first instruction is not translatable.
   */
  translate(
    ram: Ram,
    pageOff: number,
    po: number,
    peek: PagePeek | null = null,
  ): Translation | null {
    const s = this.scanned;
    s.scan(ram, pageOff, po, peek);
    const count = s.count;
    if (count === 0) return null;
    this.sharedRam = ram.shared;
    const w = this.w;
    w.reset();
    this.loaded = 0;
    this.dirty = 0;
    this.fsKnown = 0;
    // Locals: 9 x i64 (pc, addr, t, t2, m0..m3, dtag), 3 x i32 (lo, idx, n), 32 x i64
    // (registers), i32 entry, i64 dsum, then f64 and f32 scratch (fpEmitter.ts).
    w.u32(7);
    w.u32(9);
    w.byte(T_I64);
    w.u32(3);
    w.byte(T_I32);
    w.u32(32);
    w.byte(T_I64);
    w.u32(1);
    w.byte(T_I32);
    w.u32(1);
    w.byte(T_I64);
    w.u32(F64_LOCALS);
    w.byte(T_F64);
    w.u32(F32_LOCALS);
    w.byte(T_F32);
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
    w.byte(W.I64Load32U);
    w.u32(2);
    w.u32(AREA_DTAG);
    w.byte(W.LocalTee);
    w.u32(L_DTAG);
    this.i64(DTAG_SUM);
    this.op(W.I64And);
    this.local(W.LocalSet, L_DSUM);
    // The body is a loop whose segments start at the instructions the block's own branches
    // and jumps go to: segment i is entered by falling into it, by a br out of the wasm block
    // that ends where it starts (a jump forward), or by going round the loop with its number
    // in L_ENTRY, which a br_table at the top of the loop follows (a jump backward).
    let segment = 0;
    for (let k = 0; k < count; k++) {
      if (k > 0 && s.entry[k]) segment++;
      this.segmentOf[k] = segment;
    }
    const segments = segment + 1;
    this.segments = segments;
    this.inLocals = false;
    for (let k = 0; k < count; k++)
      if (s.target[k] >= 0 && s.target[k] <= k) this.inLocals = count <= SMALL_LOOP;
    if (this.inLocals) this.loadAll(count);
    w.byte(W.Loop);
    w.byte(T_VOID);
    if (segments > 1) {
      for (let i = 0; i < segments; i++) {
        w.byte(W.Block);
        w.byte(T_VOID);
      }
      w.byte(W.LocalGet);
      w.u32(L_ENTRY);
      w.byte(W.BrTable);
      w.u32(segments - 1);
      for (let i = 0; i < segments; i++) w.u32(i);
      w.u32(0);
      w.byte(W.End);
    }
    for (let k = 0; k < count; k++) {
      if (k > 0 && s.entry[k]) {
        // Every way into a segment has written the registers back: it loads them again
        // (unless they stay in their locals all through, loadAll).
        if (!this.inLocals) this.flush();
        w.byte(W.End);
        if (this.inLocals) {
          this.dirty = this.dirtyAt[k];
        } else {
          this.loaded = 0;
          this.dirty = 0;
        }
        this.fsKnown = 0;
      }
      if (k === count - 1 && s.crossing >= 0) this.crossingGuard(k, s.off[k], s.crossing);
      if (s.flow[k] === FLOW_CALL && s.calleePage[k] >= 0) {
        this.pageGuard(k, s.off[k], s.off[k] + s.imm[k], s.calleePage[k]);
      }
      const w0 = s.w0[k];
      const op = w0 & 0xff;
      if (op >= Op.FLW && op <= LAST_FP_OP) {
        const d = (w0 >>> 8) & 63;
        this.fp(op, d, (w0 >>> 14) & 31, (w0 >>> 19) & 31, w0 >>> 29, s.imm[k], k, s.off[k]);
        continue;
      }
      this.instruction(
        op,
        (w0 >>> 8) & 63,
        (w0 >>> 14) & 31,
        (w0 >>> 19) & 31,
        s.imm[k],
        k,
        s.off[k],
        s.len[k],
      );
    }
    if (!s.endsInJump) this.exit(count, s.off[count - 1] + s.len[count - 1]);
    return {
      body: this.finish(),
      count,
      offsets: s.off.subarray(0, count),
      own: s.own.subarray(0, count),
      pages: s.pages,
    };
  }

  /**
   * Goes from instruction k (a branch or jump, at a wasm nesting of `depth` inside its
   * segment) to instruction j of this block, with the registers written back. Backward,
   * only while the budget has room for another pass; when it has not, this falls through.
   */
  private jumpInside(k: number, j: number, depth: number): void {
    const from = this.segmentOf[k];
    const to = this.segmentOf[j];
    // Instructions before j are counted again when the pass from j reaches them.
    const done = k + 1 - j;
    const back = to <= from;
    if (back) {
      this.local(W.LocalGet, L_N);
      this.i32(done + MAX_BLOCK);
      this.op(W.I32Add);
      this.local(W.LocalGet, L_BUDGET);
      this.op(W.I32LeS);
      this.op(W.If);
      this.op(T_VOID);
      depth++;
    }
    // Registers are read from the area at their first use in a segment: write back first.
    if (!this.inLocals) this.flush();
    if (done !== 0) {
      this.local(W.LocalGet, L_N);
      this.i32(done);
      this.op(W.I32Add);
      this.local(W.LocalSet, L_N);
    }
    if (back) {
      if (this.segments > 1) {
        this.i32(to);
        this.local(W.LocalSet, L_ENTRY);
      }
      this.op(W.Br);
      this.w.u32(this.segments - 1 - from + depth);
      this.op(W.End);
    } else {
      this.op(W.Br);
      this.w.u32(to - from - 1 + depth);
    }
  }

  /**
   * A block that loops (a branch or jump back to one of its own instructions) keeps the
   * registers it names in locals all through: loaded here, before the loop. An exit writes
   * back every register that any path to it may have written: those written before it in the
   * block, and within a loop, those written anywhere in the loop (an earlier pass). Any other
   * block loads each register at its first use in a segment and writes back the ones written
   * before an exit or a jump (it often runs once and leaves early).
   */
  private loadAll(count: number): void {
    const s = this.scanned;
    const writes = this.writesAt;
    let named = 0;
    let written = 0;
    for (let k = 0; k < count; k++) {
      const w0 = s.w0[k];
      const d = (w0 >>> 8) & 63;
      // Fields an instruction does not use as integer registers only add loads and stores.
      writes[k] = d < 32 ? (1 << d) & ~1 : 0;
      written |= writes[k];
      named |= (1 << ((w0 >>> 14) & 31)) | (1 << ((w0 >>> 19) & 31));
    }
    named = (named | written) & ~1;
    for (let r = 1; r < 32; r++) {
      if (((named >>> r) & 1) === 0) continue;
      this.local(W.LocalGet, L_AREA);
      this.mem(W.I64Load, 3, r * 8);
      this.local(W.LocalSet, L_X0 + r);
    }
    // What may be dirty where each segment starts.
    const dirty = this.dirtyAt;
    let before = 0;
    for (let k = 0; k < count; k++) {
      dirty[k] = before;
      before |= writes[k];
    }
    for (let b = 0; b < count; b++) {
      const j = s.target[b];
      if (j < 0 || j > b) continue;
      let pass = 0;
      for (let k = j; k <= b; k++) pass |= writes[k];
      for (let k = j; k <= b; k++) dirty[k] |= pass;
    }
    this.loaded = named;
    this.dirty = dirty[0];
    this.writable = written;
  }

  private finish(): Uint8Array {
    // Every path through the loop returns.
    this.w.byte(W.End);
    this.w.byte(W.Unreachable);
    this.w.byte(W.End);
    return this.w.take().slice();
  }

  /**
   * Effective address rs1 + imm into L_ADDR/L_LO and the TLB check: leaves the block
   * (instruction k at offset o not done) unless the read or write TLB holds the page and the
   * access of `size` bytes stays in it (atomic: is aligned); then pushes the RAM offset (i32).
   * A plain access need not be aligned: a misaligned one inside a RAM page is one the
   * interpreter also does as any other (mmu.ts load, store). L_ADDR ends up holding the key
   * the tags were compared with.
   */
  protected access(
    write: boolean,
    rs1: number,
    imm: number,
    size: number,
    k: number,
    o: number,
    atomic = false,
  ): void {
    const tlb = write ? AREA_WTLB : AREA_RTLB;
    // idx = area + ((lo >>> 12) & TLB_MASK) << TLB_SET_SHIFT: the set's address
    this.get(rs1);
    if (imm !== 0) {
      this.i64(imm);
      this.op(W.I64Add);
    }
    this.local(W.LocalTee, L_ADDR);
    this.op(W.I32WrapI64);
    this.local(W.LocalTee, L_LO);
    this.tlbSet();
    this.local(W.LocalSet, L_IDX);
    if (atomic) {
      this.local(W.LocalGet, L_LO);
      this.i32(size - 1);
      this.op(W.I32And);
      this.exitIf(k, o);
    }
    // Way 0, then way 1: (tag | dsum) == (the page of the access's last byte | dtag), mmu.ts
    // dataHit in one 64-bit compare. An access that crosses into the next page misses.
    this.local(W.LocalGet, L_IDX);
    this.mem(W.I64Load, 3, tlb + TLB_TAG);
    this.local(W.LocalGet, L_DSUM);
    this.op(W.I64Or);
    this.local(W.LocalGet, L_ADDR);
    if (!atomic && size > 1) {
      this.i64(size - 1);
      this.op(W.I64Add);
    }
    this.i64(~0xfff);
    this.op(W.I64And);
    this.local(W.LocalGet, L_DTAG);
    this.op(W.I64Or);
    this.local(W.LocalTee, L_ADDR);
    this.op(W.I64Ne);
    this.op(W.If);
    this.op(T_VOID);
    this.local(W.LocalGet, L_IDX);
    this.mem(W.I64Load, 3, tlb + TLB_ENTRY_BYTES + TLB_TAG);
    this.local(W.LocalGet, L_DSUM);
    this.op(W.I64Or);
    this.local(W.LocalGet, L_ADDR);
    this.op(W.I64Ne);
    this.exitIf(k, o);
    this.local(W.LocalGet, L_IDX);
    this.i32(TLB_ENTRY_BYTES);
    this.op(W.I32Add);
    this.local(W.LocalSet, L_IDX);
    this.op(W.End);
    // The RAM offset: lo + the entry's RAM word (the page's RAM offset minus its address).
    this.local(W.LocalGet, L_LO);
    this.local(W.LocalGet, L_IDX);
    this.mem(W.I32Load, 2, tlb + TLB_RAM);
    this.op(W.I32Add);
  }

  /** Emits instruction k at block offset o (translatable: blockScan.ts). */
  private instruction(
    op: number,
    d: number,
    r1: number,
    r2: number,
    imm: number,
    k: number,
    o: number,
    len: number,
  ): void {
    const discard = d === 0 || d === 32;
    switch (op) {
      case Op.LUI:
        if (!discard) {
          this.i64(imm);
          this.set(d);
        }
        return;
      case Op.AUIPC:
        if (!discard) {
          this.pcPlus(o);
          this.i64(imm);
          this.op(W.I64Add);
          this.set(d);
        }
        return;
      case Op.JAL: {
        if (!discard) {
          this.pcPlus(o + len);
          this.set(d);
        }
        // An inlined call: its callee follows (blockScan.ts inlineCall).
        if (this.scanned.flow[k] === FLOW_CALL) return;
        const j = this.scanned.target[k];
        if (j >= 0) {
          this.jumpInside(k, j, 0);
          if (this.segmentOf[j] > this.segmentOf[k]) return; // forward: always taken
        }
        this.flush();
        this.storePcExpr(() => {
          this.pcPlus(o);
          this.i64(imm);
          this.op(W.I64Add);
        });
        this.ret(k + 1);
        return;
      }
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
        // An inlined callee's return: on after its call when it goes back there.
        if (this.scanned.flow[k] === FLOW_RETURN) {
          this.local(W.LocalGet, L_T);
          this.pcPlus(this.scanned.retTo[k]);
          this.op(W.I64Eq);
          this.op(W.If);
          this.op(T_VOID);
          this.jumpInside(k, this.scanned.target[k], 1);
          this.op(W.End);
        }
        this.flush();
        this.storePcExpr(() => this.local(W.LocalGet, L_T));
        this.ret(k + 1);
        return;
      case Op.BEQ:
      case Op.BNE:
      case Op.BLT:
      case Op.BGE:
      case Op.BLTU:
      case Op.BGEU: {
        this.get(r1);
        this.get(r2);
        this.op(BRANCH_CMP[op - Op.BEQ]);
        // Taken: on inside the block when the target is one of its instructions, else leave.
        this.op(W.If);
        this.op(T_VOID);
        const j = this.scanned.target[k];
        if (j >= 0) this.jumpInside(k, j, 1);
        if (j < 0 || this.segmentOf[j] <= this.segmentOf[k]) {
          this.flush();
          this.storePc(o + imm);
          this.ret(k + 1);
        }
        this.op(W.End);
        return;
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
        return;
      }
      case Op.SB:
      case Op.SH:
      case Op.SW:
      case Op.SD: {
        const i = op - Op.SB;
        this.access(true, r1, imm, 1 << i, k, o);
        this.get(r2);
        this.mem(STORE_OP[i], i, HART_AREAS_BYTES);
        return;
      }
      case Op.FENCE:
        // Plain wasm accesses are ordered as the host orders them (x86: stores may pass
        // later loads); a fence must keep that from other harts' sight too.
        if (this.sharedRam) this.w.bytes([W.AtomicPrefix, 0x03, 0x00]);
        return;
      case Op.FENCE_I:
        // Shared RAM: the interpreter runs it (Ram.syncCode drops code other threads rewrote).
        return;
      case Op.MULH:
      case Op.MULHSU:
      case Op.MULHU:
        if (!discard) this.mulHigh(op, d, r1, r2);
        return;
      case Op.LR_W:
      case Op.LR_D: {
        // A read-TLB hit, aligned: load, and reserve the RAM offset (AREA_RESV, as atomics.ts).
        const dbl = op === Op.LR_D;
        this.access(false, r1, 0, dbl ? 8 : 4, k, o, true);
        this.local(W.LocalTee, L_LO);
        this.mem(dbl ? W.I64Load : W.I64Load32S, dbl ? 3 : 2, HART_AREAS_BYTES);
        this.local(W.LocalSet, L_T);
        // The value read, for the SC to compare (AREA_RESV_VAL).
        this.local(W.LocalGet, L_AREA);
        this.local(W.LocalGet, L_T);
        this.mem(W.I64Store, 3, AREA_RESV_VAL);
        if (!discard) {
          this.local(W.LocalGet, L_T);
          this.set(d);
        }
        this.local(W.LocalGet, L_AREA);
        this.local(W.LocalGet, L_LO);
        this.mem(W.I32Store, 2, AREA_RESV);
        return;
      }
      case Op.SC_W:
      case Op.SC_D: {
        // A write-TLB hit, aligned: store if the reservation is this offset; rd = 0 if stored,
        // else 1; the reservation is gone either way.
        const dbl = op === Op.SC_D;
        this.access(true, r1, 0, dbl ? 8 : 4, k, o, true);
        this.local(W.LocalSet, L_LO);
        this.get(r2);
        this.local(W.LocalSet, L_T);
        this.local(W.LocalGet, L_AREA);
        this.mem(W.I32Load, 2, AREA_RESV);
        this.local(W.LocalGet, L_LO);
        this.op(W.I32Eq);
        this.op(W.If);
        this.op(T_I64);
        // Store if memory still holds what the LR read: a compare-and-swap (atomics.ts).
        this.local(W.LocalGet, L_LO);
        this.local(W.LocalGet, L_AREA);
        this.mem(W.I64Load, 3, AREA_RESV_VAL);
        if (!dbl) {
          this.op(W.I32WrapI64);
          this.op(W.I64ExtendI32U);
        }
        this.local(W.LocalTee, L_T2);
        this.local(W.LocalGet, L_T);
        this.op(W.AtomicPrefix);
        this.w.u32(dbl ? 0x49 : 0x4e);
        this.w.u32(dbl ? 3 : 2);
        this.w.u32(HART_AREAS_BYTES);
        this.local(W.LocalGet, L_T2);
        this.op(W.I64Ne);
        this.op(W.I64ExtendI32U);
        this.op(W.Else);
        this.i64(1);
        this.op(W.End);
        if (discard) this.op(W.Drop);
        else this.set(d);
        this.local(W.LocalGet, L_AREA);
        this.i32(-1);
        this.mem(W.I32Store, 2, AREA_RESV);
        return;
      }
      case Op.AMOSWAP_W:
      case Op.AMOADD_W:
      case Op.AMOXOR_W:
      case Op.AMOAND_W:
      case Op.AMOOR_W:
      case Op.AMOSWAP_D:
      case Op.AMOADD_D:
      case Op.AMOXOR_D:
      case Op.AMOAND_D:
      case Op.AMOOR_D: {
        // The write TLB must hold the page and the address be aligned, or the block leaves
        // before the AMO and the interpreter raises what it must. A hit is RAM and not code.
        const dbl = op >= Op.AMOSWAP_D;
        const which = op - (dbl ? Op.AMOSWAP_D : Op.AMOSWAP_W);
        this.access(true, r1, 0, dbl ? 8 : 4, k, o, true);
        this.get(r2);
        this.op(W.AtomicPrefix);
        this.w.u32((dbl ? AMO_RMW64 : AMO_RMW32)[which]);
        this.w.u32(dbl ? 3 : 2);
        this.w.u32(HART_AREAS_BYTES);
        // The old value: a word's sign-extended, as the AMO's result in rd.
        if (discard) this.op(W.Drop);
        else {
          if (!dbl) this.op(W.I64Extend32S);
          this.set(d);
        }
        return;
      }
    }
    if (op >= Op.ADDI && op <= Op.REMUW && op !== Op.FENCE && op !== Op.FENCE_I) {
      if (op >= Op.CSRRW && op <= Op.CSRRCI) {
        if (!this.csr(op, d, r1, imm, k, o)) throw new Error(`CSR ${imm}: not in CSR_IN_BLOCKS`);
        return;
      }
      if (!discard) this.alu(op, d, r1, r2, imm);
      return;
    }
    if (op >= FIRST_ZB_OP && op <= LAST_ZB_OP) {
      if (!discard) this.bitmanip(op, d, r1, r2, imm);
      return;
    }
    throw new Error(`op ${op} is not translatable (blockScan.ts translatable)`);
  }
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
/**
 * Atomic read-modify-write opcodes (after the 0xfe prefix) by op - AMOSWAP_W (or _D): swap,
 * add, xor, and, or; on 64 bits, and on the low 32 bits zero-extended.
 */
const AMO_RMW64 = [0x42, 0x1f, 0x3b, 0x2d, 0x34];
const AMO_RMW32 = [0x47, 0x24, 0x40, 0x32, 0x39];
/** By op - SB. */
const STORE_OP = [W.I64Store8, W.I64Store16, W.I64Store32, W.I64Store];
