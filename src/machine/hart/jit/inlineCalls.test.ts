// A block takes a call to its own page in (blockScan.ts inlineCall): the callee's instructions
// follow the call, and its returns go on after the call when the link register holds the
// call's return address. Checked against the interpreter with calls that return there,
// return elsewhere, sit before their caller, return early, link through t0 and leave the
// block midway (a TLB miss).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../ram.js';
import { BlockScan, FLOW_CALL, FLOW_NONE, FLOW_RETURN } from './blockScan.js';
import { alu, bothEngines, branch, itype, jal, sd, WFI } from '../csrTestkit.js';
import { PRIV_M } from '../causes.js';

const lui = (rd: number, imm20: number): number => ((imm20 << 12) | (rd << 7) | 0x37) >>> 0;
const addi = (rd: number, rs1: number, imm: number): number => itype(0x13, 0, rd, rs1, imm);
const slli = (rd: number, rs1: number, sh: number): number => itype(0x13, 1, rd, rs1, sh);
const andi = (rd: number, rs1: number, imm: number): number => itype(0x13, 7, rd, rs1, imm);
const jalr = (rd: number, rs1: number, imm: number): number => itype(0x67, 0, rd, rs1, imm);
const ld = (rd: number, rs1: number, imm: number): number => itype(0x03, 3, rd, rs1, imm);
const RA = 1;
const T0 = 5;
const T1 = 6;
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

/** a0 = 0; a1 = 300; LOOP: a2 = a1; call FUNC; a0 += a2; a1 -= 1; bnez a1, LOOP; wfi */
function caller(a: Asm, func: number, link = RA): number {
  a.put(addi(A0, ZERO, 0), addi(A1, ZERO, 300));
  const loop = a.here;
  a.put(addi(A2, A1, 0));
  a.put(jal(link, (func - a.here) * 4));
  a.put(alu(0, A0, A0, A2), addi(A1, A1, -1));
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
