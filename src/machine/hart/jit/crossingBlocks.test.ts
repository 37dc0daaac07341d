// A block may end on an instruction that lies across two pages (its upper half the first
// halfword of the next page): it runs it while the fetch TLB maps the next page and that
// halfword is still the one translated, and leaves to the interpreter otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../bus.js';
import { Ram } from '../../ram.js';
import { Hart } from '../hart.js';
import { branch, jal, runToWfi } from '../csrTestkit.js';
import {
  AREA_XTLB,
  TLB_ENTRY_BYTES,
  TLB_MASK,
  TLB_RAM,
  TLB_SET_SHIFT,
  TLB_TAG,
} from '../areaLayout.js';

const BASE = 0x80000000;
/** The loop's first instruction: 8 bytes before the page's end. */
const LOOP = 0x1ff8;
/** addi a0,a0,3 and addi a0,a0,5: the same lower half, upper halves 0x0035 and 0x0055. */
const ADD3 = 0x00350513;
const ADD5 = 0x00550513;

/**
 * li a0,0; li a1,1000; j LOOP ... LOOP: addi a1,a1,-1; c.nop; addi a0,a0,`add` (across the
 * page's end); bnez a1,LOOP; wfi
 */
function machine(jitThreshold: number, add: number): { hart: Hart; ram: Ram } {
  const ram = new Ram(BASE, 1 << 20);
  const hart = new Hart(new Bus(ram), { jitThreshold });
  if (hart.blocks !== null) hart.blocks.synchronous = true;
  const b = new Uint8Array(0x2010);
  const v = new DataView(b.buffer);
  [0x00000513, 0x3e800593, jal(0, LOOP - 8)].forEach((w, i) => v.setUint32(i * 4, w, true));
  v.setUint32(LOOP, 0xfff58593, true);
  v.setUint16(LOOP + 4, 0x0001, true);
  v.setUint32(LOOP + 6, add, true);
  v.setUint32(LOOP + 10, branch(1, 11, 0, LOOP - (LOOP + 10)), true);
  v.setUint32(LOOP + 14, 0x10500073, true);
  ram.write(BASE, b);
  hart.pc = BigInt(BASE);
  return { hart, ram };
}

/** Slices long enough that the loop runs in blocks from the second pass on. */
const SLICE = 1_000_000;

test('a block runs an instruction across two pages, as the interpreter does', () => {
  const plain = machine(0, ADD3);
  runToWfi(plain.hart, SLICE);
  // Asked for at the second pass, when the first has brought the next page into the fetch TLB.
  const jit = machine(2, ADD3);
  runToWfi(jit.hart, SLICE);
  for (const h of [plain.hart, jit.hart]) {
    assert.equal(h.regs.get(10), 3000n);
    assert.equal(h.regs.get(11), 0n);
  }
  assert.equal(jit.hart.currentInstret(), plain.hart.currentInstret());
  // The loop's 1,000 passes run in blocks: the instruction across the pages is in one.
  assert.ok(
    jit.hart.translatedInstructions > 3900,
    `${jit.hart.translatedInstructions} translated`,
  );
  assert.ok(jit.hart.dispatches < 50, `${jit.hart.dispatches} dispatches for 1,000 passes`);
});

test('a new upper half on the next page is run, not the one translated', () => {
  const { hart, ram } = machine(2, ADD3);
  runToWfi(hart, SLICE);
  assert.equal(hart.regs.get(10), 3000n);
  // Only the next page is written: the block of the loop's first page stays, and its check
  // must see addi a0,a0,5.
  const upper = new Uint8Array(2);
  new DataView(upper.buffer).setUint16(0, ADD5 >>> 16, true);
  ram.write(BASE + 0x2000, upper);
  hart.regs.set(10, 0n);
  hart.regs.set(11, 1000n);
  hart.pc = BigInt(BASE + LOOP);
  hart.wfi = false;
  const before = hart.translatedInstructions;
  runToWfi(hart, SLICE);
  assert.equal(hart.regs.get(10), 5000n);
  assert.equal(hart.regs.get(11), 0n);
  const translated = hart.translatedInstructions - before;
  assert.ok(translated > 3900, `${translated} translated`);
});

test('a block leaves before the instruction when the fetch TLB no longer holds the next page', () => {
  const { hart, ram } = machine(2, ADD3);
  runToWfi(hart, SLICE);
  // Way 0 of the next page's set now holds another page, whose RAM word is no RAM offset
  // (as an entry left over from an earlier mapping may be): the block must not read through it.
  const set = hart.area + AREA_XTLB + ((((BASE + 0x2000) >>> 12) & TLB_MASK) << TLB_SET_SHIFT);
  const x = new Int32Array(ram.buffer, set, TLB_ENTRY_BYTES / 4);
  x[TLB_TAG / 4] = (BASE + 0x5000) | 0;
  x[TLB_RAM / 4] = 0x7ffff000;
  hart.regs.set(10, 0n);
  hart.regs.set(11, 1000n);
  hart.pc = BigInt(BASE + LOOP);
  hart.wfi = false;
  runToWfi(hart, SLICE);
  assert.equal(hart.regs.get(10), 3000n);
  assert.equal(hart.regs.get(11), 0n);
});
