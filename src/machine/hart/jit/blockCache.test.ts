// The translated-code engine seen from the hart: blocks compiled at the end of
// a slice are installed and give the interpreter's results; a page written
// between a block's request and its compile keeps none of them; the dispatcher chains blocks
// through the jump cache, which writing a translated page clears; a block's own instructions
// wait for it while it compiles instead of asking for blocks of their own (remapped pages:
// addressSpaces.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../bus.js';
import { HART_AREA_BYTES, Ram } from '../../ram.js';
import { Hart, StopReason } from '../hart.js';
import { branch, jal, runToWfi } from '../csrTestkit.js';
import { AREA_END, AREA_FTAG, AREA_JC, JC_ENTRY_BYTES, JC_SIZE, jcIndex } from '../areaLayout.js';

const BASE = 0x80000000;
// li a0,0; li a1,1000; loop: add a0,a0,a1; sd a0,0(sp); ld a2,0(sp); addi a1,a1,-1; bnez a1,loop; wfi
const LOOP = [
  0x00000513, 0x3e800593, 0x00b50533, 0x00a13023, 0x00013603, 0xfff58593, 0xfe0598e3, 0x10500073,
];
// The same with `sub a0,a0,a1` in place of the add.
const LOOP_SUB = LOOP.map((w, i) => (i === 2 ? 0x40b50533 : w));

function words(program: number[]): Uint8Array {
  const b = new Uint8Array(program.length * 4);
  program.forEach((w, i) => new DataView(b.buffer).setUint32(i * 4, w, true));
  return b;
}

function machine(program: number[], jitThreshold: number): { hart: Hart; ram: Ram } {
  const ram = new Ram(BASE, 1 << 20);
  const hart = new Hart(new Bus(ram), { jitThreshold });
  ram.write(BASE, words(program));
  hart.pc = BigInt(BASE);
  hart.regs.set(2, BigInt(BASE + 0x8000));
  return { hart, ram };
}

const SUM = 500500n; // 1 + 2 + ... + 1000

test('blocks compiled at the end of a slice run the loop to the same state as the interpreter', () => {
  const plain = machine(LOOP, 0);
  runToWfi(plain.hart);
  assert.equal(plain.hart.blocks, null);
  const jit = machine(LOOP, 10);
  runToWfi(jit.hart);
  const blocks = jit.hart.blocks!;
  assert.ok(blocks.compiled >= 1, `blocks compiled: ${blocks.compiled}`);
  for (const h of [plain.hart, jit.hart]) {
    assert.equal(h.regs.get(10), SUM);
    assert.equal(h.regs.get(12), SUM);
    assert.equal(h.regs.get(11), 0n);
    assert.equal(h.instret, 2 + 1000 * 5 + 1);
  }
  assert.deepEqual(jit.ram.read(BASE + 0x8000, 8), plain.ram.read(BASE + 0x8000, 8));
});

test("a page written between a block's request and its compile keeps none of them", () => {
  // The loop, then a store of `sub a0,a0,a1` over its add, all in one slice: the loop's block
  // is asked for on its 10th pass and compiled when the slice ends, after the store.
  const subAt = 0x8000 - 8; // where the new instruction waits, below the loop's stack slot
  const program = [
    ...LOOP.slice(0, 7),
    0xff813283, // ld t0,-8(sp)
    0x00000317, // auipc t1,0
    0xfe532423, // sw t0,-24(t1): over the add, 24 bytes before the auipc
    0x10500073, // wfi
  ];
  const { hart, ram } = machine(program, 10);
  ram.write(BASE + subAt, words([LOOP_SUB[2], 0]));
  assert.equal(hart.run(100000), StopReason.Wfi, hart.lastError ?? '');
  const blocks = hart.blocks!;
  assert.equal(blocks.modules, 1, 'the block was compiled when the slice ended');
  assert.equal(blocks.compiled, 0);
  assert.ok(blocks.stale >= 1, 'the translation of the old code was discarded');
  assert.equal(hart.regs.get(10), SUM, 'the old code ran to the end');
  assert.deepEqual(ram.read(BASE + 8, 4), words([LOOP_SUB[2]]), 'the store replaced the add');
  hart.pc = BigInt(BASE);
  hart.wfi = false;
  runToWfi(hart);
  assert.equal(hart.regs.get(10), -SUM, 'the new code ran');
});

test('a hot path asks for one block while it compiles, not one per instruction', () => {
  const { hart } = machine(LOOP, 10);
  // The whole loop in one slice: its block is asked for on the 10th pass and lands when the
  // slice ends, so the loop's other instructions pass the threshold meanwhile.
  assert.equal(hart.run(100000), StopReason.Wfi);
  const blocks = hart.blocks!;
  assert.equal(blocks.compiled, 1, 'one block, at the head of the loop');
  // Its other instructions count again from nothing once it is in: a later slice that runs
  // the loop translated asks for nothing more.
  hart.pc = BigInt(BASE);
  hart.wfi = false;
  hart.regs.set(10, 0n);
  runToWfi(hart, 100000);
  assert.equal(hart.regs.get(10), SUM);
  assert.equal(blocks.compiled, 1);
  assert.ok(hart.translatedInstructions >= 4000, `${hart.translatedInstructions} translated`);
});

test('the dispatcher chains blocks through the jump cache; writing a translated page clears it', () => {
  const { hart, ram } = machine(LOOP, 1);
  hart.blocks!.synchronous = true;
  assert.equal(hart.run(100000), StopReason.Wfi);
  assert.equal(hart.regs.get(10), SUM);
  const jc = new Int32Array(ram.buffer, hart.area + AREA_JC, (JC_SIZE * JC_ENTRY_BYTES) / 4);
  const tag = new Int32Array(ram.buffer, hart.area + AREA_FTAG, 1);
  /** Entries the dispatcher would follow: their tag is the area's current one. */
  const live = (): number => {
    let n = 0;
    for (let i = 2; i < jc.length; i += JC_ENTRY_BYTES / 4) if (jc[i] === tag[0]) n++;
    return n;
  };
  assert.ok(live() >= 1, 'the loop left jumps in the cache');
  // Writing a translated page drops its blocks and forgets the jumps into them.
  ram.write(BASE + 0x10, new Uint8Array(4));
  assert.equal(live(), 0);
});

test('blocks whose jumps share a set of the jump cache both stay in it', () => {
  // A at +0x1000 and B further on hash to one set (jcIndex): A counts a1 down and jumps to B,
  // which counts a0 up and jumps back. Were the set one entry, each jump would evict the
  // other's and leave the dispatcher for JavaScript.
  const A = 0x1000;
  let B = A + 0x1000;
  while (jcIndex(BASE + B) !== jcIndex(BASE + A)) B += 4;
  const END = 0x100;
  assert.ok(B < 1 << 20, 'a pc that shares the set is in RAM');
  assert.ok(AREA_END <= HART_AREA_BYTES, 'the jump cache fits in a hart area');
  const ram = new Ram(BASE, 1 << 20);
  const hart = new Hart(new Bus(ram), { jitThreshold: 1 });
  hart.blocks!.synchronous = true;
  const put = (at: number, program: number[]): void => ram.write(BASE + at, words(program));
  put(0, [0x00000513, 0x3e800593, jal(0, A - 8)]); // li a0,0; li a1,1000; j A
  put(END, [0x10500073]); // wfi
  put(A, [0xfff58593, branch(0, 11, 0, END - (A + 4)), jal(0, B - (A + 8))]); // a1 -= 1; beqz a1,END; j B
  put(B, [0x00150513, jal(0, A - (B + 4))]); // a0 += 1; j A
  hart.pc = BigInt(BASE);
  runToWfi(hart, 1_000_000);
  assert.equal(hart.regs.get(10), 999n);
  assert.equal(hart.regs.get(11), 0n);
  assert.ok(hart.translatedInstructions > 4000, `${hart.translatedInstructions} translated`);
  // A few dispatches while the blocks come in; then one runs the loop to its end.
  assert.ok(hart.dispatches < 50, `${hart.dispatches} dispatches for 1,000 passes`);
});

test('released blocks and dropped decode arrays are made anew and give the same results', () => {
  const { hart, ram } = machine(LOOP, 10);
  runToWfi(hart);
  const blocks = hart.blocks!;
  assert.equal(hart.regs.get(10), SUM);
  assert.ok(blocks.blocks >= 1 && ram.codePageCount() >= 1);
  const made = blocks.compiled;
  blocks.release();
  ram.dropCode();
  assert.equal(blocks.blocks, 0);
  assert.equal(blocks.releases, 1);
  assert.equal(ram.codePageCount(), 0);
  // Each slot's translation word is gone with its page: the loop runs again from scratch.
  hart.pc = BigInt(BASE);
  hart.wfi = false;
  hart.regs.set(10, 0n);
  runToWfi(hart);
  assert.equal(hart.regs.get(10), SUM);
  assert.equal(hart.regs.get(12), SUM);
  assert.ok(blocks.compiled > made, 'the loop was translated again');
  assert.equal(ram.codePageCount(), 1);
});

test('a cache that has made maxBlocks drops them all, makes them anew and gives the same results', () => {
  // Twelve loops one after the other (li a1,200; a0 += 1, a1 -= 1 until a1 is zero), each a
  // block or two of its own: more than a cache of four holds.
  const LOOPS = 12;
  const program = [0x00000513]; // li a0,0
  for (let k = 0; k < LOOPS; k++)
    program.push(0x0c800593, 0x00150513, 0xfff58593, branch(1, 11, 0, -8));
  program.push(0x10500073); // wfi
  const plain = machine(program, 0);
  runToWfi(plain.hart);
  const { hart } = machine(program, 1);
  const blocks = hart.blocks!;
  blocks.synchronous = true;
  blocks.maxBlocks = 4;
  let most = 0;
  for (let i = 0; i < 1000 && hart.run(300) !== StopReason.Wfi; i++)
    most = Math.max(most, blocks.blocks);
  assert.ok(hart.wfi, 'the program reached its WFI');
  assert.equal(hart.regs.get(10), BigInt(LOOPS * 200));
  assert.equal(hart.regs.get(10), plain.hart.regs.get(10));
  assert.equal(hart.instret, plain.hart.instret);
  assert.ok(blocks.compiled > 8, `${blocks.compiled} blocks made`);
  assert.ok(most <= 4, `${most} blocks held at once`);
  assert.ok(blocks.resets >= 2, `${blocks.resets} resets`);
  assert.ok(hart.translatedInstructions > 1000, `${hart.translatedInstructions} translated`);
});

test('visit counts halve every decayInstructions: lukewarm code is not translated', () => {
  // The loop of 600 passes, twice: 1,200 visits of its head, over a threshold of 1,000 unless
  // the counts are halved between the two runs (300 + 600).
  const LOOP_600 = LOOP.map((w, i) => (i === 1 ? 0x25800593 : w)); // li a1,600
  const twice = (decay: boolean): Hart => {
    const { hart } = machine(LOOP_600, 1000);
    runToWfi(hart, 100000);
    assert.equal(hart.blocks!.compiled, 0);
    if (decay) hart.blocks!.decayVisits();
    hart.pc = BigInt(BASE);
    hart.wfi = false;
    runToWfi(hart, 100000);
    assert.equal(hart.regs.get(10), 180300n);
    return hart;
  };
  assert.ok(twice(false).blocks!.compiled >= 1, 'the loop was translated on its 1,000th pass');
  assert.equal(twice(true).blocks!.compiled, 0, 'halved, the visits stay under the threshold');
  // The cache halves them itself as slices end.
  const { hart } = machine(LOOP, 1000);
  hart.blocks!.decayInstructions = 1000;
  runToWfi(hart, 300);
  assert.ok(
    hart.blocks!.decays >= 4,
    `${hart.blocks!.decays} halvings over ${hart.instret} instructions`,
  );
});

test('RAM too large for a WebAssembly memory beside the hart areas only interprets', () => {
  const ram = new Ram(BASE, 2 ** 32);
  assert.equal(ram.memory, null);
  const hart = new Hart(new Bus(ram));
  assert.equal(hart.blocks, null);
  assert.equal(hart.area, -1);
  // Its area is an array of its own, kept from slice to slice: the loop runs to its sum, and a
  // kick (AREA_KICK) ends the next slice before it starts.
  ram.write(BASE, words(LOOP));
  hart.pc = BigInt(BASE);
  hart.regs.set(2, BigInt(BASE + 0x8000));
  runToWfi(hart);
  assert.equal(hart.regs.get(10), SUM);
  hart.pc = BigInt(BASE);
  hart.wfi = false;
  hart.kicked = true;
  assert.equal(hart.run(100), StopReason.Budget);
  assert.equal(hart.pc, BigInt(BASE), 'no instruction ran');
});
