// The dispatcher: one WebAssembly function that runs a block and then goes
// on from block to block through the hart's jump cache (areaLayout.ts)
// without returning to JavaScript, until the budget is nearly spent, a block
// leaves early, or the next pc has no entry. A block that ends flagged
// BLOCK_STOP (blockEmitter.ts) makes it return at once, with the flag in its
// count (budgets stay below it: MAX_DISPATCH), unless the hart's area says no
// interrupt could come in (AREA_IRQ): it then goes on as after any block. It
// calls blocks through a function table indexed by block number (call_indirect).
//
//   dispatch(area, pcLo, pcHi, budget, block) -> instructions completed
//
// As with a single block, the pc to go on from is left at AREA_PC_LO.

import {
  AREA_FTAG,
  AREA_IRQ,
  AREA_JC,
  AREA_KICK,
  AREA_PC_HI,
  AREA_PC_LO,
  AREA_XTLB,
  JC_BITS,
  JC_ENTRY_BYTES,
  JC_HASH,
  JC_WAYS,
  TLB_MASK,
  TLB_RAM,
  TLB_SET_SHIFT,
  TLB_TAG,
} from '../areaLayout.js';
import { BLOCK_STOP } from './blockEmitter.js';
import { MAX_BLOCK } from './translate.js';
import { ByteWriter, memoryLimits, T_I32, T_VOID, W } from './wasmWriter.js';

export type DispatchFn = (
  area: number,
  pcLo: number,
  pcHi: number,
  budget: number,
  block: number,
) => number;

const CALL_INDIRECT = 0x11;
const I32_LT_S = 0x48;

// Locals: parameters, then n (done so far), k (done by the last block), h (jump cache entry),
// f (the area's tag), x (fetch TLB entry).
const P_AREA = 0;
const P_PCLO = 1;
const P_PCHI = 2;
const P_BUDGET = 3;
const P_BLOCK = 4;
const L_N = 5;
const L_K = 6;
const L_H = 7;
const L_F = 8;
const L_X = 9;
/** The TLB flush generation's bits in a fetch tag (Mmu.fetchTag). */
const TLB_GEN_BITS = 0xff0;

/** The dispatcher module: imports memory "m"."m" and table "m"."t", exports "d". */
export function dispatcherBytes(shared = false): Uint8Array {
  const w = new ByteWriter();
  w.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const s = new ByteWriter();
  // Types: 0 = block, 1 = dispatcher.
  s.u32(2);
  s.bytes([0x60, 4, T_I32, T_I32, T_I32, T_I32, 1, T_I32]);
  s.bytes([0x60, 5, T_I32, T_I32, T_I32, T_I32, T_I32, 1, T_I32]);
  w.section(1, s);
  s.reset();
  s.u32(2);
  s.bytes([1, 0x6d, 1, 0x6d, 0x02, ...memoryLimits(shared)]);
  s.bytes([1, 0x6d, 1, 0x74, 0x01, 0x70, 0x00, 0x00]);
  w.section(2, s);
  s.reset();
  s.bytes([1, 1]);
  w.section(3, s);
  s.reset();
  s.bytes([1, 1, 0x64, 0x00, 0x00]);
  w.section(7, s);
  s.reset();
  const b = new ByteWriter();
  b.bytes([1, 5, T_I32]);
  const get = (i: number): void => {
    b.byte(W.LocalGet);
    b.u32(i);
  };
  const i32 = (v: number): void => {
    b.byte(W.I32Const);
    b.s32(v);
  };
  const load = (offset: number): void => {
    b.byte(W.I32Load);
    b.u32(2);
    b.u32(offset);
  };
  const returnN = (): void => {
    b.byte(W.If);
    b.byte(T_VOID);
    get(L_N);
    b.byte(W.Return);
    b.byte(W.End);
  };
  /** Pushes whether the jump cache entry at h (on the stack, and in L_H) is not for the pc. */
  const entryMisses = (): void => {
    load(AREA_JC);
    get(P_PCLO);
    b.byte(W.I32Ne);
    get(L_H);
    load(AREA_JC + 4);
    get(P_PCHI);
    b.byte(W.I32Ne);
    b.byte(W.I32Or);
  };
  b.byte(W.Loop);
  b.byte(T_VOID);
  // k = block(area, pc, budget - n); if k == 0 return n; n += k
  get(P_AREA);
  get(P_PCLO);
  get(P_PCHI);
  get(P_BUDGET);
  get(L_N);
  b.byte(W.I32Sub);
  get(P_BLOCK);
  b.byte(CALL_INDIRECT);
  b.u32(0);
  b.u32(0);
  b.byte(W.LocalTee);
  b.u32(L_K);
  b.byte(W.I32Eqz);
  returnN();
  get(L_N);
  get(L_K);
  b.byte(W.I32Add);
  b.byte(W.LocalTee);
  b.u32(L_N);
  // if the block stopped (BLOCK_STOP in k, and so in n): return n if area.irq != 0, else go on
  // without the flag
  i32(BLOCK_STOP);
  b.byte(W.I32And);
  b.byte(W.If);
  b.byte(T_VOID);
  get(P_AREA);
  load(AREA_IRQ);
  returnN();
  get(L_N);
  i32(BLOCK_STOP);
  b.byte(W.I32Xor);
  b.byte(W.LocalSet);
  b.u32(L_N);
  b.byte(W.End);
  // pc = area.pc
  get(P_AREA);
  load(AREA_PC_LO);
  b.byte(W.LocalSet);
  b.u32(P_PCLO);
  get(P_AREA);
  load(AREA_PC_HI);
  b.byte(W.LocalSet);
  b.u32(P_PCHI);
  // if budget - n < MAX_BLOCK return n
  get(P_BUDGET);
  get(L_N);
  b.byte(W.I32Sub);
  i32(MAX_BLOCK);
  b.byte(I32_LT_S);
  returnN();
  // if area.kick != 0 return n (another thread wants the hart back in JavaScript)
  get(P_AREA);
  load(AREA_KICK);
  returnN();
  // h = area + jcIndex(pc) * JC_ENTRY_BYTES (areaLayout.ts): way 0 of the pc's set
  get(P_PCLO);
  i32(1);
  b.byte(W.I32ShrU);
  i32(JC_HASH);
  b.byte(W.I32Mul);
  i32(32 - JC_BITS + 1);
  b.byte(W.I32ShrU);
  i32(Math.log2(JC_ENTRY_BYTES * JC_WAYS));
  b.byte(W.I32Shl);
  get(P_AREA);
  b.byte(W.I32Add);
  b.byte(W.LocalTee);
  b.u32(L_H);
  // if way 0's pc != pc: h = way 1, and if its pc != pc return n
  entryMisses();
  b.byte(W.If);
  b.byte(T_VOID);
  get(L_H);
  i32(JC_ENTRY_BYTES);
  b.byte(W.I32Add);
  b.byte(W.LocalTee);
  b.u32(L_H);
  entryMisses();
  returnN();
  b.byte(W.End);
  // The entry must be of this jump cache generation and privilege level (any TLB generation):
  // if ((entry.tag ^ ftag) & ~TLB_GEN_BITS) return n
  get(L_H);
  load(AREA_JC + 8);
  get(P_AREA);
  load(AREA_FTAG);
  b.byte(W.LocalTee);
  b.u32(L_F);
  b.byte(W.I32Xor);
  i32(~TLB_GEN_BITS);
  b.byte(W.I32And);
  returnN();
  // and the fetch TLB must map the pc's page to the block's RAM page now.
  // x = area + ((pcLo >>> 12) & TLB_MASK) << TLB_SET_SHIFT: the set's way 0 (Mmu.fetchPage
  // moves a page it finds in way 1 there)
  get(P_PCLO);
  i32(12 - TLB_SET_SHIFT);
  b.byte(W.I32ShrU);
  i32(TLB_MASK << TLB_SET_SHIFT);
  b.byte(W.I32And);
  get(P_AREA);
  b.byte(W.I32Add);
  b.byte(W.LocalTee);
  b.u32(L_X);
  // if the entry's tag != (pcLo & ~0xfff | ftag & 0xfff, pcHi) || its RAM != entry.page return n
  load(AREA_XTLB + TLB_TAG);
  get(P_PCLO);
  i32(~0xfff);
  b.byte(W.I32And);
  get(L_F);
  i32(0xfff);
  b.byte(W.I32And);
  b.byte(W.I32Or);
  b.byte(W.I32Ne);
  get(L_X);
  load(AREA_XTLB + TLB_TAG + 4);
  get(P_PCHI);
  b.byte(W.I32Ne);
  b.byte(W.I32Or);
  get(L_X);
  load(AREA_XTLB + TLB_RAM);
  get(L_H);
  load(AREA_JC + 16);
  b.byte(W.I32Ne);
  b.byte(W.I32Or);
  returnN();
  get(L_H);
  load(AREA_JC + 12);
  b.byte(W.LocalSet);
  b.u32(P_BLOCK);
  b.byte(W.Br);
  b.u32(0);
  b.byte(W.End);
  get(L_N);
  b.byte(W.End);
  s.u32(1);
  s.vec(b.take());
  w.section(10, s);
  return w.take().slice();
}
