// The instruction walk of the block translator (translate.ts): which instructions of a code
// page, from a start offset, one block holds, and which of its branches and jumps land on
// another instruction of the same block (those stay inside the block's function instead of
// returning to the dispatcher).
//
// The walk goes on while instructions are translatable, up to MAX_BLOCK of them and the
// page's end; a 4-byte instruction across that end is the block's last, read with the next
// page's first halfword when the hart's fetch TLB holds that page (translate.ts checks at
// every pass that it still does, with that halfword). A jump (JAL, JALR) ends the walk unless
// an earlier branch or jump of the block goes further forward: then the code after the jump
// is reached from inside the block (the else arm of an if, the code after an early return)
// and the walk takes it too.

import { CODE_SLOT_EMPTY, CODE_SLOT_WORDS, type Ram } from '../../ram.js';
import { CSR_IN_BLOCKS } from '../csr.js';
import { decodeInto } from '../decode.js';
import { FIRST_ZB_OP, LAST_FP_OP, LAST_ZB_OP, Op } from '../ops.js';
import { fpInBlocks } from './fpInBlocks.js';

/** The most instructions one block holds. The hart runs a block only with this much budget left. */
export const MAX_BLOCK = 64;

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
  /** Per instruction: its offset from the block's first instruction, and its length. */
  readonly off = new Int32Array(MAX_BLOCK);
  readonly len = new Int32Array(MAX_BLOCK);
  /** Per branch or JAL: the index of the instruction of this block it goes to, or -1. */
  readonly target = new Int32Array(MAX_BLOCK);
  /** Per instruction: 1 when a branch or jump of this block goes to it. */
  readonly entry = new Uint8Array(MAX_BLOCK);
  private readonly scratch = new Int32Array(CODE_SLOT_WORDS);
  /** Index of the instruction at each even offset from the start, or -1. */
  private readonly at = new Int8Array(2048).fill(-1);

  /**
   * Walks from page offset `po` of the code page at RAM offset `pageOff` (see above); an
   * instruction across the page's end ends the block, read with the first halfword of the page
   * at RAM offset `nextPage` (-1: none, the block ends before it).
   */
  scan(ram: Ram, pageOff: number, po: number, nextPage = -1): void {
    const code = ram.codePage(pageOff >>> 12);
    const shared = ram.shared;
    let k = 0;
    let o = 0;
    /** The furthest offset a branch or jump so far goes forward to. */
    let reach = -1;
    this.endsInJump = false;
    this.crossing = -1;
    for (;;) {
      const p = po + o;
      if (k === MAX_BLOCK || p >= 4096) break;
      const slot = (p >>> 1) * CODE_SLOT_WORDS;
      let w0 = code[slot];
      let imm = code[slot + 1];
      let inst = code[slot + 2];
      let crossing = -1;
      if (w0 === CODE_SLOT_EMPTY) {
        inst = ram.u16[(pageOff + p) >>> 1];
        if ((inst & 3) === 3) {
          if (p === 0xffe) {
            if (nextPage < 0) break;
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
      if (!translatable(op, imm, w0 >>> 29, shared)) break;
      const len = (inst & 3) === 3 ? 4 : 2;
      this.w0[k] = w0;
      this.imm[k] = imm;
      this.off[k] = o;
      this.len[k] = len;
      this.at[o >>> 1] = k;
      const jump = op === Op.JAL || op === Op.JALR;
      if (jump || (op >= Op.BEQ && op <= Op.BGEU)) {
        if (op !== Op.JALR && po + o + imm < 4096) reach = Math.max(reach, o + imm);
      }
      k++;
      o += len;
      if (crossing >= 0) {
        this.crossing = crossing;
        this.endsInJump = jump;
        break;
      }
      if (jump && reach < o) {
        this.endsInJump = true;
        break;
      }
    }
    this.count = k;
    // Targets inside the block, now that every instruction's offset is known.
    this.entry.fill(0, 0, k);
    for (let i = 0; i < k; i++) {
      this.target[i] = -1;
      const op = this.w0[i] & 0xff;
      if (op !== Op.JAL && (op < Op.BEQ || op > Op.BGEU)) continue;
      const t = this.off[i] + this.imm[i];
      if (t < 0 || t >= o) continue;
      const j = this.at[t >>> 1];
      // An odd offset, or one inside a 4-byte instruction, is no instruction of the block.
      if ((t & 1) !== 0 || j < 0 || this.off[j] !== t) continue;
      this.target[i] = j;
      this.entry[j] = 1;
    }
    for (let i = 0; i < k; i++) this.at[this.off[i] >>> 1] = -1;
  }
}
