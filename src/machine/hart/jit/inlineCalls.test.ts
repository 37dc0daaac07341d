// A block takes a call in (blockScan.ts inlineCall): the callee's instructions follow the
// call, and its returns go on after the call when the link register holds the call's return
// address. Checked against the interpreter with calls that return there, return elsewhere, sit
// before their caller, return early, link through t0, leave the block midway (a TLB miss), and
// callees on another page: on the next and the one before, rewritten by the guest (the block
// must drop), and mapped to other RAM (the block must leave before the call).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../bus.js';
import { Ram } from '../../ram.js';
import { Hart } from '../hart.js';
import { BlockScan, FLOW_CALL, FLOW_NONE, FLOW_RETURN } from './blockScan.js';
import { alu, bothEngines, branch, itype, jal, runToWfi, sd, WFI } from '../csrTestkit.js';
import { PRIV_M } from '../causes.js';
import { AREA_XTLB, TLB_ENTRY_BYTES, TLB_MASK, TLB_RAM, TLB_SET_SHIFT } from '../areaLayout.js';

const lui = (rd: number, imm20: number): number => ((imm20 << 12) | (rd << 7) | 0x37) >>> 0;
const addi = (rd: number, rs1: number, imm: number): number => itype(0x13, 0, rd, rs1, imm);
const slli = (rd: number, rs1: number, sh: number): number => itype(0x13, 1, rd, rs1, sh);
const andi = (rd: number, rs1: number, imm: number): number => itype(0x13, 7, rd, rs1, imm);
const jalr = (rd: number, rs1: number, imm: number): number => itype(0x67, 0, rd, rs1, imm);
const auipc = (rd: number, imm20: number): number => ((imm20 << 12) | (rd << 7) | 0x17) >>> 0;
const sw = (rs2: number, rs1: number, imm: number): number =>
  (((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | ((imm & 31) << 7) | 0x23) >>> 0;
const FENCE_I = 0x0000100f;
const ld = (rd: number, rs1: number, imm: number): number => itype(0x03, 3, rd, rs1, imm);
const RA = 1;
const T0 = 5;
const T1 = 6;
const T2 = 7;
const T3 = 28;
const SP = 2;
const A0 = 10;
const A1 = 11;
const A2 = 12;
const ZERO = 0;

/** Words with labels: `at` places the next word at a word index (padding with WFI). */
class Asm {
  readonly words: number[] = [];
  at(index: number): this {
    while (this.words.length < index) this.words.push(WFI);
    return this;
  }
  get here(): number {
    return this.words.length;
  }
  put(...w: number[]): this {
    this.words.push(...w);
    return this;
  }
}

/**
 * a0 = 0; a1 = 300; LOOP: a2 = a1; call FUNC; a0 += a2; a1 -= 1; [`inLoop`]; bnez a1, LOOP;
 * wfi. `warm`: a call first, so that a block asked for at the loop's first pass finds the
 * callee's page decoded and in the fetch TLB (as code run a thousand times does).
 */
function caller(a: Asm, func: number, link = RA, warm = false, inLoop: number[] = []): number {
  if (warm) a.put(jal(link, (func - a.here) * 4));
  a.put(addi(A0, ZERO, 0), addi(A1, ZERO, 300));
  const loop = a.here;
  a.put(addi(A2, A1, 0));
  a.put(jal(link, (func - a.here) * 4));
  a.put(alu(0, A0, A0, A2), addi(A1, A1, -1), ...inLoop);
  a.put(branch(1, A1, ZERO, (loop - a.here) * 4), WFI);
  return loop;
}

function run(words: number[], seed = 1): void {
  const out = bothEngines(words, PRIV_M, 0, seed, undefined, 200_000);
  assert.ok(out.translated > 1000, `${out.translated} instructions translated`);
}

test('the scan brings a call to the same page in: the callee follows, its return goes on after the call', () => {
  const a = new Asm();
  const loop = caller(a, 32);
  a.at(32).put(slli(A2, A2, 1), addi(A2, A2, 1), jalr(ZERO, RA, 0));
  const ram = new Ram(0x80000000, 1 << 16);
  ram.write(0x80001000, new Uint8Array(new Uint32Array(a.words).buffer));
  const s = new BlockScan();
  s.scan(ram, 0x1000, loop * 4);
  // mv a2,a1; jal; [slli; addi; ret]; add; addi; bnez; wfi (not translatable: the end)
  assert.equal(s.count, 8);
  assert.deepEqual(Array.from(s.off.subarray(0, 8)), [0, 4, 120, 124, 128, 8, 12, 16]);
  assert.deepEqual(Array.from(s.flow.subarray(0, 8)), [0, FLOW_CALL, 0, 0, FLOW_RETURN, 0, 0, 0]);
  assert.equal(s.retTo[4], 8, 'the return address: the instruction after the call');
  assert.equal(s.target[4], 5, 'the return goes on at the add');
  assert.equal(s.target[7], 0, 'the loop goes round to its start, the call within');
  assert.equal(s.endsInJump, false);
  // A callee whose walk has no return is not brought in: the call leaves the block (which
  // goes on after it, as after any jump forward that an earlier instruction may jump past).
  a.words[34] = jal(ZERO, 0);
  ram.write(0x80001000, new Uint8Array(new Uint32Array(a.words).buffer));
  s.scan(ram, 0x1000, loop * 4);
  assert.deepEqual(Array.from(s.off.subarray(0, s.count)), [0, 4, 8, 12, 16]);
  assert.equal(s.flow[1], FLOW_NONE);
});

test('a call brought into a loop returns where the interpreter does', () => {
  const a = new Asm();
  caller(a, 32);
  a.at(32).put(slli(A2, A2, 1), addi(A2, A2, 1), jalr(ZERO, RA, 0));
  run(a.words);
});

test('a callee that returns elsewhere (a changed link) leaves the block there', () => {
  // every odd a1: ra += 4, so the return skips the add
  const a = new Asm();
  caller(a, 32);
  a.at(32).put(andi(T1, A1, 1), branch(0, T1, ZERO, 8), addi(RA, RA, 4));
  a.put(slli(A2, A2, 1), jalr(ZERO, RA, 0));
  run(a.words);
});

test('a callee before its caller, with an early return and memory accesses', () => {
  // 0: j MAIN; FUNC (word 1): if a2 & 3 == 0 return at once; else store a2 on the stack and
  // load it back doubled (the first access of each kind leaves the block: a TLB miss), return
  const a = new Asm();
  a.put(jal(ZERO, 16 * 4));
  a.put(andi(T1, A2, 3), branch(1, T1, ZERO, 8), jalr(ZERO, RA, 0));
  a.put(sd(A2, SP, 8), ld(T1, SP, 8), alu(0, A2, T1, T1), jalr(ZERO, RA, 0));
  // MAIN: sp = BASE + 0x3000, then the loop
  a.at(16).put(addi(SP, ZERO, 1), slli(SP, SP, 31), lui(T1, 3));
  a.put(alu(0, SP, SP, T1));
  caller(a, 1);
  run(a.words);
});

test('a call linked through t0 returns through t0', () => {
  const a = new Asm();
  caller(a, 32, T0);
  a.at(32).put(addi(A2, A2, 7), jalr(ZERO, T0, 0));
  run(a.words);
});

/** slli a2,a2,1; addi a2,a2,1; ret: a0 ends as the sum of 2 * a1 + 1 over a1 = 300 .. 1. */
const DOUBLE_PLUS_ONE = [slli(A2, A2, 1), addi(A2, A2, 1), jalr(ZERO, RA, 0)];
const SUM_DOUBLE_PLUS_ONE = 90600n;

test('the scan brings a callee on another page in when the hart maps that page to decoded code', () => {
  const a = new Asm();
  const loop = caller(a, 1024 + 32);
  a.at(1024 + 32).put(...DOUBLE_PLUS_ONE);
  const ram = new Ram(0x80000000, 1 << 16);
  ram.write(0x80001000, new Uint8Array(new Uint32Array(a.words).buffer));
  const s = new BlockScan();
  // The caller's page at RAM offset 0x1000, the callee's (4 KiB on) at 0x5000 (as mapped).
  ram.write(0x80005000, new Uint8Array(new Uint32Array(a.words.slice(1024)).buffer));
  const peek = (delta: number): number => (delta === 4096 ? 0x5000 : -1);
  // Not decoded yet: not brought in.
  s.scan(ram, 0x1000, loop * 4, peek);
  assert.equal(s.flow[1], FLOW_NONE);
  ram.codePage(5);
  s.scan(ram, 0x1000, loop * 4, peek);
  const callee = 4096 + 128 - loop * 4;
  assert.deepEqual(Array.from(s.off.subarray(0, 8)), [
    0,
    4,
    callee,
    callee + 4,
    callee + 8,
    8,
    12,
    16,
  ]);
  assert.deepEqual(Array.from(s.flow.subarray(0, 8)), [0, FLOW_CALL, 0, 0, FLOW_RETURN, 0, 0, 0]);
  assert.deepEqual(Array.from(s.own.subarray(0, 8)), [1, 1, 0, 0, 0, 1, 1, 1]);
  assert.equal(s.calleePage[1], 0x5000);
  assert.deepEqual(s.pages, [5]);
  assert.equal(s.target[4], 5, 'the return goes on at the add');
  // A page the hart does not map now: not brought in.
  s.scan(ram, 0x1000, loop * 4, () => -1);
  assert.equal(s.flow[1], FLOW_NONE);
  assert.deepEqual(s.pages, []);
});

test('callees on the next page and on the page before return where the interpreter does', () => {
  const next = new Asm();
  caller(next, 1024 + 32, RA, true);
  next.at(1024 + 32).put(...DOUBLE_PLUS_ONE);
  run(next.words);
  // 0: j MAIN; FUNC (word 1) on the first page; MAIN on the second
  const before = new Asm();
  before.put(jal(ZERO, 1100 * 4), ...DOUBLE_PLUS_ONE);
  before.at(1100);
  caller(before, 1, RA, true);
  run(before.words);
});

test('a callee on another page that the guest rewrites runs as rewritten', () => {
  // The loop runs twice from the same entry; in between, the guest stores addi a2,a2,5 over
  // the callee's slli and runs FENCE.I: the block that holds the old callee must go, though
  // the page it starts on did not change.
  const func = 1024 + 32;
  const a = new Asm();
  // t2 = FUNC's address; t1 = addi a2,a2,5
  a.put(auipc(T2, 0), lui(T3, 1), addi(T3, T3, func * 4 - 4096), alu(0, T2, T2, T3));
  const word = addi(A2, A2, 5);
  a.put(lui(T1, (word + 0x800) >>> 12), addi(T1, T1, ((word & 0xfff) << 20) >> 20));
  a.put(addi(A0, ZERO, 0), addi(T3, ZERO, 2));
  a.put(jal(RA, (func - a.here) * 4));
  // The first block starts here, where the call returns; the loop goes back to it.
  const start = a.here;
  a.put(addi(A1, ZERO, 300));
  const loop = a.here;
  a.put(addi(A2, A1, 0));
  a.put(jal(RA, (func - a.here) * 4), alu(0, A0, A0, A2), addi(A1, A1, -1));
  a.put(branch(1, A1, ZERO, (loop - a.here) * 4));
  // t3 -= 1; if t3 == 0 goto END; rewrite; FENCE.I; j START; END: wfi
  a.put(addi(T3, T3, -1), branch(0, T3, ZERO, 16), sw(T1, T2, 0), FENCE_I);
  a.put(jal(ZERO, (start - a.here) * 4), WFI);
  a.at(func).put(...DOUBLE_PLUS_ONE);
  const out = bothEngines(a.words, PRIV_M, 0, 1, undefined, 200_000);
  // then slli became addi a2,a2,5: each pass adds a1 + 6
  assert.equal(out.x[A0], SUM_DOUBLE_PLUS_ONE + 45150n + 6n * 300n);
});

test('a block leaves before a call whose callee page the fetch TLB maps to other RAM now', () => {
  const ram = new Ram(0x80000000, 1 << 20);
  const hart = new Hart(new Bus(ram), { jitThreshold: 2 });
  if (hart.blocks !== null) hart.blocks.synchronous = true;
  const a = new Asm();
  caller(a, 1024 + 32);
  a.at(1024 + 32).put(...DOUBLE_PLUS_ONE);
  ram.write(0x80000000, new Uint8Array(new Uint32Array(a.words).buffer));
  // The same page with another callee at RAM offset 0x3000: addi a2,a2,5; ret
  const other = new Asm().at(32).put(addi(A2, A2, 5), jalr(ZERO, RA, 0));
  ram.write(0x80003000, new Uint8Array(new Uint32Array(other.words).buffer));
  hart.pc = 0x80000000n;
  runToWfi(hart, 1_000_000);
  assert.equal(hart.regs.get(A0), SUM_DOUBLE_PLUS_ONE);
  assert.ok(hart.translatedInstructions > 2000, `${hart.translatedInstructions} translated`);
  // The callee's virtual page now maps to RAM offset 0x3000 (as after a new mapping).
  const set =
    hart.area + AREA_XTLB + ((((0x80000000 + 0x1000) >>> 12) & TLB_MASK) << TLB_SET_SHIFT);
  const x = new Int32Array(ram.buffer, set, TLB_ENTRY_BYTES / 4);
  assert.equal(x[TLB_RAM / 4], 0x1000, "way 0 held the callee's page");
  x[TLB_RAM / 4] = 0x3000;
  hart.pc = 0x80000000n;
  hart.wfi = false;
  runToWfi(hart, 1_000_000);
  assert.equal(hart.regs.get(A0), 45150n + 5n * 300n);
});
