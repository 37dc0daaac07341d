// The checks a block makes of the hart's fetch TLB (translate.ts): that the page of an
// instruction across a page's end, or of a callee brought in from another page (blockScan.ts),
// is mapped now as it was when the block was translated; the block leaves before the
// instruction otherwise. Also the TLB set arithmetic the loads and stores share.

import { HART_AREAS_BYTES } from '../../ram.js';
import { AREA_FTAG, AREA_XTLB, TLB_MASK, TLB_RAM, TLB_SET_SHIFT, TLB_TAG } from '../areaLayout.js';
import { FpEmitter } from './fpEmitter.js';
import { W } from './wasmWriter.js';
import { L_ADDR, L_AREA, L_IDX } from './blockEmitter.js';

export abstract class PageGuards extends FpEmitter {
  /** Replaces the low half of an address on the stack with its TLB set's: area + set offset. */
  protected tlbSet(): void {
    this.i32(12 - TLB_SET_SHIFT);
    this.op(W.I32ShrU);
    this.i32(TLB_MASK << TLB_SET_SHIFT);
    this.op(W.I32And);
    this.local(W.LocalGet, L_AREA);
    this.op(W.I32Add);
  }

  /**
   * Before the block's last instruction k, at offset o, whose upper half is the first of the
   * next page: leaves unless the fetch TLB's way 0 maps that page for this privilege level now
   * and the halfword there is still `upper`, the one translated. Checked at every pass, so
   * neither a write to that page nor a new mapping of it needs to drop the block.
   */
  protected crossingGuard(k: number, o: number, upper: number): void {
    this.fetchMapped(k, o, o + 2);
    // then (only then is its RAM word a page of RAM) the halfword at the page's start
    this.local(W.LocalGet, L_IDX);
    this.mem(W.I32Load, 2, AREA_XTLB + TLB_RAM);
    this.mem(W.I32Load16U, 1, HART_AREAS_BYTES);
    this.i32(upper);
    this.op(W.I32Ne);
    this.exitIf(k, o);
  }

  /**
   * Before a call k, at offset o, whose callee at offset `to` on another page was brought in:
   * leaves unless the fetch TLB's way 0 maps that page for this privilege level now to the RAM
   * page at offset `ram`, whose code was translated (a write to it drops the block).
   */
  protected pageGuard(k: number, o: number, to: number, ram: number): void {
    this.fetchMapped(k, o, to);
    this.local(W.LocalGet, L_IDX);
    this.mem(W.I32Load, 2, AREA_XTLB + TLB_RAM);
    this.i32(ram | 0);
    this.op(W.I32Ne);
    this.exitIf(k, o);
  }

  /**
   * Leaves before instruction k, at offset o, unless the fetch TLB's way 0 holds the page of
   * pc + `at` for this privilege level; leaves its set's area offset in L_IDX.
   */
  private fetchMapped(k: number, o: number, at: number): void {
    // idx = the fetch TLB set of the page of pc + at
    this.pcPlus(at);
    this.local(W.LocalTee, L_ADDR);
    this.op(W.I32WrapI64);
    this.tlbSet();
    this.local(W.LocalTee, L_IDX);
    // its tag == (the page | the fetch tag bits of AREA_FTAG), in one 64-bit compare
    this.mem(W.I64Load, 3, AREA_XTLB + TLB_TAG);
    this.local(W.LocalGet, L_ADDR);
    this.i64(~0xfff);
    this.op(W.I64And);
    this.local(W.LocalGet, L_AREA);
    this.mem(W.I64Load32U, 2, AREA_FTAG);
    this.i64(0xfff);
    this.op(W.I64And);
    this.op(W.I64Or);
    this.op(W.I64Ne);
    this.exitIf(k, o);
  }
}
