// The instruction walk of the block translator (translate.ts): which instructions of a code
// page, from a start offset, one block holds, and which of its branches and jumps land on
// another instruction of the same block (those stay inside the block's function instead of
// returning to the dispatcher).
//
// The walk goes on while instructions are translatable, up to LONG_BLOCK of them (MAX_BLOCK
// once a branch has gone back into the walk: a loop) and the page's end; a 4-byte instruction
// across that end is the block's last, read with the next page's first halfword when the
// hart's fetch TLB holds that page (translate.ts checks at every pass that it still does, with
// that halfword). A jump (JAL, JALR) ends the walk unless an earlier branch or jump of the
// block goes further forward: then the code after the jump is reached from inside the block
// (the else arm of an if, the code after an early return) and the walk takes it too.
//
// A call (JAL with link x1 or x5) brings its callee in (inlineCall): a walk of its own from the
// callee's entry, up to its last jump, follows the call; each return in it (JALR x0, 0(link))
// goes on at the instruction after the call when the link register holds that address (the
// translated code compares), and leaves the block otherwise; the walk then goes on after the
// call. A callee on the block's own page goes with it: a write to the page drops both alike. A
// callee on another page is brought in when the hart's fetch TLB maps that page to RAM whose
// code was decoded: the block then depends on that RAM page too (`pages`; Ram.noteInlined drops
// the block when it is written), and the call checks at every pass that the fetch TLB still
// maps the callee's page there (translate.ts), leaving before the call otherwise.
// Instructions are then no longer in address order: a branch goes on inside the block only to
// an instruction of its own walk, and `off` may be negative or beyond the page (a callee before
// its caller, or on another page).

import { CODE_SLOT_EMPTY, CODE_SLOT_WORDS, type Ram } from '../../ram.js';
import { CSR_IN_BLOCKS } from '../csr.js';
import { decodeInto } from '../decode.js';
import { FIRST_ZB_OP, LAST_FP_OP, LAST_ZB_OP, Op } from '../ops.js';
import { fpInBlocks } from './fpInBlocks.js';

/** The most instructions one block holds. The hart runs a block only with this much budget left. */
export const MAX_BLOCK = 128;
/**
 * The most instructions of a block whose walk has not looped back yet. Blocks of up to 128
 * instructions throughout made boots some 0.35 s (7 %) longer: code that runs a few times pays
 * for compiling what it seldom reaches; a loop's code after the first 64 is what its passes run.
 */
const LONG_BLOCK = 64;

/**
 * Whether blocks translate instruction `op` (with `imm`, the CSR number of a CSR instruction,
 * and `rm`, the rounding-mode field of an FP one).
 * Anything else ends a block before it. `sharedRam`: harts on other threads share the RAM.
 */
export function translatable(op: number, imm: number, rm: number, sharedRam: boolean): boolean {
  if (op === Op.FENCE_I) return !sharedRam; // shared RAM: Ram.syncCode runs in the interpreter
  if (op >= Op.CSRRW && op <= Op.CSRRCI) return CSR_IN_BLOCKS[imm] === 1;
  if (op >= Op.ECALL && op <= Op.CSRRCI) return false;
  if (op >= Op.LUI && op <= Op.REMUW) return true;
  if (op >= FIRST_ZB_OP && op <= LAST_ZB_OP) return true;
  if (op >= Op.FLW && op <= LAST_FP_OP) return fpInBlocks(op, rm);
  return IN_BLOCKS.has(op);
}

/** Ops outside the LUI..REMUW and Zb ranges that blocks translate (the AMOs but min/max). */
const IN_BLOCKS = new Set<number>([
  Op.LR_W,
  Op.LR_D,
  Op.SC_W,
  Op.SC_D,
  Op.AMOSWAP_W,
  Op.AMOADD_W,
  Op.AMOXOR_W,
  Op.AMOAND_W,
  Op.AMOOR_W,
  Op.AMOSWAP_D,
  Op.AMOADD_D,
  Op.AMOXOR_D,
  Op.AMOAND_D,
  Op.AMOOR_D,
]);

/** The most instructions of an inlined callee, and the fewest left for the code after its call. */
const CALLEE_MAX = 48;
const AFTER_CALL = 8;

function isJump(w0: number): boolean {
  const op = w0 & 0xff;
  return op === Op.JAL || op === Op.JALR;
}

/**
 * The RAM offset of the code page `delta` bytes (a multiple of 4096) from the block's page in
 * the hart's address space, when its fetch TLB holds it; else -1 (Mmu.fetchPeek).
 */
export type PagePeek = (delta: number) => number;

/** How the block goes on at an instruction besides its branches (BlockScan.flow). */
export const FLOW_NONE = 0;
/** A call (JAL with link register x1 or x5) whose callee follows it in the block. */
export const FLOW_CALL = 1;
/**
 * A return of an inlined callee (JALR x0, 0(link)): on at `target`, the instruction after the
 * call, when the link register holds the call's return address (`retTo`); else it leaves.
 */
export const FLOW_RETURN = 2;

export class BlockScan {
  /** Instructions in the block. */
  count = 0;
  /** The last instruction is a jump: no path runs past the block's end. */
  endsInJump = false;
  /**
   * The upper half of the last instruction when it lies across the page's end (its upper half
   * the first of the next page), else -1.
   */
  crossing = -1;
  /** Per instruction: the decoded word 0 (op and registers) and immediate (decode.ts). */
  readonly w0 = new Int32Array(MAX_BLOCK);
  readonly imm = new Int32Array(MAX_BLOCK);
  /**
   * Per instruction: its offset from the block's first instruction (negative for a callee
   * before the call), and its length.
   */
  readonly off = new Int32Array(MAX_BLOCK);
  readonly len = new Int32Array(MAX_BLOCK);
  /** Per branch, JAL or FLOW_RETURN: the index of the instruction of this block it goes to, or -1. */
  readonly target = new Int32Array(MAX_BLOCK);
  /** Per instruction: 1 when a branch or jump of this block goes to it. */
  readonly entry = new Uint8Array(MAX_BLOCK);
  /** Per instruction: FLOW_NONE, FLOW_CALL or FLOW_RETURN. */
  readonly flow = new Uint8Array(MAX_BLOCK);
  /** Per FLOW_RETURN: the block offset of the call's return address. */
  readonly retTo = new Int32Array(MAX_BLOCK);
  /** Per FLOW_CALL: the RAM offset of its callee's page when that is another page, else -1. */
  readonly calleePage = new Int32Array(MAX_BLOCK);
  /** Per instruction: 1 when it lies on the block's own page. */
  readonly own = new Uint8Array(MAX_BLOCK);
  /** The RAM page numbers of other pages whose code the block holds. */
  readonly pages: number[] = [];
  /**
   * Per instruction: the walk it belongs to (0: the block's own, then one per inlined callee);
   * a branch goes on inside the block only to an instruction of its own walk. Per FLOW_RETURN,
   * `home` is the walk of its call.
   */
  private readonly walkOf = new Int16Array(MAX_BLOCK);
  private readonly home = new Int16Array(MAX_BLOCK);
  /** Per walk: the offset of its page's start from the block's page's start. */
  private readonly walkBase = new Int32Array(MAX_BLOCK);
  private walks = 0;
  /** A branch or jump of a walk goes back to an instruction of that walk: the block loops. */
  private loops = false;
  private readonly scratch = new Int32Array(CODE_SLOT_WORDS);
  /** Index of the instruction at each even page offset, for one walk at a time, or -1. */
  private readonly at = new Int16Array(2048).fill(-1);
  private ram: Ram | null = null;
  private code: Int32Array = new Int32Array(0);
  private pageOff = 0;
  /** The page offset of the current walk's page from the block's page. */
  private base = 0;
  private peek: PagePeek | null = null;
  /** Page offset of the block's first instruction. */
  private start = 0;

  /**
   * Walks from page offset `po` of the code page at RAM offset `pageOff` (see above); `peek`
   * finds the other pages of the hart's address space (none: the block keeps to its page). An
   * instruction across the page's end ends the block, read with the first halfword of the next
   * page when `peek` finds it.
   */
  scan(ram: Ram, pageOff: number, po: number, peek: PagePeek | null = null): void {
    this.ram = ram;
    this.code = ram.codePage(pageOff >>> 12);
    this.pageOff = pageOff;
    this.base = 0;
    this.peek = peek;
    this.start = po;
    this.count = 0;
    this.walks = 0;
    this.loops = false;
    this.crossing = -1;
    this.pages.length = 0;
    this.endsInJump = this.walk(po, peek === null ? -1 : peek(4096), true);
    this.resolve();
    this.ram = null;
    this.peek = null;
  }

  /**
   * One walk from page offset `p0`, as the walk numbered `this.walks`, appending to the
   * block's instructions; true when it ended on a jump. `inline`: calls to the same page may
   * bring their callee in (inlineCall).
   */
  private walk(p0: number, nextPage: number, inline: boolean, limit = MAX_BLOCK): boolean {
    const ram = this.ram!;
    const code = this.code;
    const pageOff = this.pageOff;
    const shared = ram.shared;
    const id = this.walks++;
    const base = this.base;
    this.walkBase[id] = base;
    let p = p0;
    /** The furthest page offset a branch or jump of this walk so far goes forward to. */
    let reach = -1;
    for (;;) {
      const k = this.count;
      if (k === limit || p >= 4096 || (k >= LONG_BLOCK && !this.loops)) return false;
      const slot = (p >>> 1) * CODE_SLOT_WORDS;
      let w0 = code[slot];
      let imm = code[slot + 1];
      let inst = code[slot + 2];
      let crossing = -1;
      if (w0 === CODE_SLOT_EMPTY) {
        inst = ram.u16[(pageOff + p) >>> 1];
        if ((inst & 3) === 3) {
          if (p === 0xffe) {
            if (nextPage < 0) return false;
            crossing = ram.u16[nextPage >>> 1];
            inst |= crossing << 16;
          } else {
            inst |= ram.u16[((pageOff + p) >>> 1) + 1] << 16;
          }
        }
        decodeInto(inst, this.scratch, 0);
        w0 = this.scratch[0];
        imm = this.scratch[1];
        // An instruction across pages is decoded anew each time (the next page may change).
        if (crossing < 0) {
          code[slot] = w0;
          code[slot + 1] = imm;
          code[slot + 2] = inst;
        }
      }
      const op = w0 & 0xff;
      if (!translatable(op, imm, w0 >>> 29, shared)) return false;
      const len = (inst & 3) === 3 ? 4 : 2;
      this.w0[k] = w0;
      this.imm[k] = imm;
      this.off[k] = base + p - this.start;
      this.len[k] = len;
      this.walkOf[k] = id;
      this.own[k] = base === 0 ? 1 : 0;
      this.flow[k] = FLOW_NONE;
      this.count = k + 1;
      const jump = op === Op.JAL || op === Op.JALR;
      if (jump || (op >= Op.BEQ && op <= Op.BGEU)) {
        if (op !== Op.JALR && p + imm < 4096) reach = Math.max(reach, p + imm);
        if (op !== Op.JALR && imm <= 0 && p + imm >= p0) this.loops = true;
      }
      p += len;
      if (crossing >= 0) {
        this.crossing = crossing;
        return jump;
      }
      if (jump && !(inline && op === Op.JAL && this.inlineCall(k, id, p)) && reach < p) {
        return true;
      }
    }
  }

  /**
   * The call at instruction k (of walk `home`, its return address at page offset `back` of
   * that walk's page): walks its callee when it is a JAL with link register x1 or x5 to this
   * page or to one `peek` finds decoded, and keeps it when that walk ends on a jump, has a
   * return (JALR x0, 0(link)) and leaves room for the code after the call. Then the call only
   * writes the link, the callee follows it, and each return goes on after the call when the
   * link holds the return address (resolve).
   */
  private inlineCall(k: number, home: number, back: number): boolean {
    const link = (this.w0[k] >>> 8) & 63;
    if ((link !== 1 && link !== 5) || back >= 4096) return false;
    // The callee's offset from the block's page's start, its page's and its page offset.
    const callee = this.start + this.off[k] + this.imm[k];
    const delta = Math.floor(callee / 4096) * 4096;
    let calleePage = -1;
    if (delta !== 0) {
      calleePage = this.peek === null ? -1 : this.peek(delta);
      if (calleePage < 0 || this.ram!.code[calleePage >>> 12] === null) return false;
    }
    const first = this.count;
    const walks = this.walks;
    const loops = this.loops;
    const { code, pageOff, base } = this;
    if (calleePage >= 0) {
      this.code = this.ram!.code[calleePage >>> 12]!;
      this.pageOff = calleePage;
      this.base = delta;
    }
    this.walk(callee - delta, -1, false, Math.min(MAX_BLOCK - AFTER_CALL, first + CALLEE_MAX));
    this.code = code;
    this.pageOff = pageOff;
    this.base = base;
    // Up to its last jump, which no path runs past (one that ran on into the next
    // instruction would run into the code after the call).
    let end = this.count;
    while (end > first && !isJump(this.w0[end - 1])) end--;
    this.count = end;
    let returns = 0;
    for (let i = first; i < end; i++) {
      const w0 = this.w0[i];
      const isReturn =
        (w0 & 0xff) === Op.JALR &&
        (((w0 >>> 8) & 63) === 0 || ((w0 >>> 8) & 63) === 32) &&
        ((w0 >>> 14) & 31) === link &&
        this.imm[i] === 0;
      if (!isReturn) continue;
      this.flow[i] = FLOW_RETURN;
      this.retTo[i] = this.walkBase[home] + back - this.start;
      this.home[i] = home;
      returns++;
    }
    if (returns === 0) {
      this.count = first;
      this.walks = walks;
      this.loops = loops;
      return false;
    }
    this.flow[k] = FLOW_CALL;
    this.calleePage[k] = calleePage;
    if (calleePage >= 0 && !this.pages.includes(calleePage >>> 12)) {
      this.pages.push(calleePage >>> 12);
    }
    return true;
  }

  /** Targets inside the block, walk by walk, now that every instruction's offset is known. */
  private resolve(): void {
    const n = this.count;
    const at = this.at;
    const start = this.start;
    this.entry.fill(0, 0, n);
    this.target.fill(-1, 0, n);
    for (let c = 0; c < this.walks; c++) {
      // Page offsets in walk c's page.
      const from = start - this.walkBase[c];
      for (let i = 0; i < n; i++) if (this.walkOf[i] === c) at[(from + this.off[i]) >>> 1] = i;
      for (let i = 0; i < n; i++) {
        let t: number;
        if (this.flow[i] === FLOW_RETURN) {
          if (this.home[i] !== c) continue;
          t = from + this.retTo[i];
        } else {
          const op = this.w0[i] & 0xff;
          if (this.walkOf[i] !== c || this.flow[i] === FLOW_CALL) continue;
          if (op !== Op.JAL && (op < Op.BEQ || op > Op.BGEU)) continue;
          t = from + this.off[i] + this.imm[i];
        }
        // An odd offset, or one inside a 4-byte instruction, is no instruction of the block.
        if (t < 0 || t >= 4096 || (t & 1) !== 0) continue;
        const j = at[t >>> 1];
        if (j < 0) continue;
        this.target[i] = j;
        this.entry[j] = 1;
      }
      for (let i = 0; i < n; i++) if (this.walkOf[i] === c) at[(from + this.off[i]) >>> 1] = -1;
    }
    // A return whose call's next instruction is not in the block leaves as any JALR.
    for (let i = 0; i < n; i++) {
      if (this.flow[i] === FLOW_RETURN && this.target[i] < 0) this.flow[i] = FLOW_NONE;
    }
  }
}
