// Address spaces under Sv39 with both engines: a code page remapped and fenced runs its new
// code although the jump cache still holds jumps into the old one; two ASIDs that map the same
// virtual page to different code each run their own without a fence between switches; a
// return to an address space finds its translations kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../bus.js';
import { Ram } from '../ram.js';
import { PRIV_S } from './causes.js';
import { CSR_PMPADDR0, CSR_PMPCFG0, CSR_SATP, writeCsr } from './csr.js';
import { Hart, StopReason } from './hart.js';

const BASE = 0x80000000;
// li a0,0; li a1,1000; loop: add a0,a0,a1; sd a0,0(sp); ld a2,0(sp); addi a1,a1,-1; bnez a1,loop; wfi
const ADD = [
  0x00000513, 0x3e800593, 0x00b50533, 0x00a13023, 0x00013603, 0xfff58593, 0xfe0598e3, 0x10500073,
];
// The same with `sub a0,a0,a1` in place of the add.
const SUB = ADD.map((w, i) => (i === 2 ? 0x40b50533 : w));
const SUM = 500500n;
/** Virtual pages: the code, and the stack sp points into. */
const CODE_VA = 0x1000;
const STACK_VA = 0x8000;
const PTE_CODE = 0x4b; // V R X A
const PTE_DATA = 0xc7; // V R W A D

function words(program: number[]): Uint8Array {
  const b = new Uint8Array(program.length * 4);
  program.forEach((w, i) => new DataView(b.buffer).setUint32(i * 4, w, true));
  return b;
}

function pte(pa: number, flags: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, (BigInt(pa >>> 12) << 10n) | BigInt(flags), true);
  return b;
}

/**
 * A three-level table at `at` (three pages) mapping the code page (at virtual `va`) to `code`
 * and the stack page (at va + STACK_VA - CODE_VA).
 */
function table(ram: Ram, at: number, code: number, va = CODE_VA): void {
  ram.write(at, pte(at + 0x1000, 1)); // root[0] -> level 1
  ram.write(at + 0x1000, pte(at + 0x2000, 1)); // level1[0] -> level 0
  ram.write(at + 0x2000 + (va >>> 12) * 8, pte(code, PTE_CODE));
  ram.write(at + 0x2000 + ((va + STACK_VA - CODE_VA) >>> 12) * 8, pte(BASE + 0x40000, PTE_DATA));
}

function machine(): { hart: Hart; ram: Ram } {
  const ram = new Ram(BASE, 1 << 20);
  const hart = new Hart(new Bus(ram), { jitThreshold: 1, jitSynchronous: true });
  ram.write(BASE + 0x20000, words(ADD));
  ram.write(BASE + 0x21000, words(SUB));
  // PMP: all of memory for S-mode (one NAPOT entry, RWX), as firmware leaves it.
  assert.ok(writeCsr(hart, CSR_PMPADDR0, -1, 0x003fffff));
  assert.ok(writeCsr(hart, CSR_PMPCFG0, 0x1f, 0));
  hart.priv = PRIV_S;
  hart.updateMmuMode();
  return { hart, ram };
}

function satp(hart: Hart, root: number, asid: number): void {
  assert.ok(writeCsr(hart, CSR_SATP, root >>> 12, (8 << 28) | (asid << 12)));
}

/** Runs the program at virtual `va` to its WFI; returns a0. */
function runProgram(hart: Hart, va = CODE_VA): bigint {
  hart.pc = BigInt(va);
  hart.wfi = false;
  hart.regs.set(10, 0n);
  hart.regs.set(2, BigInt(va + STACK_VA - CODE_VA + 0x100));
  assert.equal(hart.run(1_000_000), StopReason.Wfi, hart.lastError ?? '');
  return hart.regs.get(10);
}

test('a remapped code page runs its new code after SFENCE.VMA, in translated blocks too', () => {
  const { hart, ram } = machine();
  table(ram, BASE + 0x10000, BASE + 0x20000);
  satp(hart, BASE + 0x10000, 1);
  assert.equal(runProgram(hart), SUM);
  assert.ok(hart.translatedInstructions > 1000, 'the loop ran translated');
  // Point the code page at the other program and fence that page only.
  table(ram, BASE + 0x10000, BASE + 0x21000);
  hart.mmu.flushPage(CODE_VA, 0);
  assert.equal(runProgram(hart), -SUM);
  table(ram, BASE + 0x10000, BASE + 0x20000);
  hart.mmu.flushPage(CODE_VA, 0);
  assert.equal(runProgram(hart), SUM);
});

test('two ASIDs mapping one virtual page to different code each run their own', () => {
  const { hart, ram } = machine();
  table(ram, BASE + 0x10000, BASE + 0x20000);
  table(ram, BASE + 0x14000, BASE + 0x21000);
  for (let round = 0; round < 3; round++) {
    satp(hart, BASE + 0x10000, 1);
    assert.equal(runProgram(hart), SUM);
    satp(hart, BASE + 0x14000, 2);
    assert.equal(runProgram(hart), -SUM);
  }
  assert.ok(hart.mmu.asidSwitches >= 4);
  // A new root under a known ASID is another space: nothing of the old one is used.
  satp(hart, BASE + 0x14000, 1);
  assert.equal(runProgram(hart), -SUM);
  // SFENCE.VMA of one ASID (here the current one) drops its translations.
  table(ram, BASE + 0x14000, BASE + 0x20000);
  hart.mmu.flushAsid(1);
  assert.equal(runProgram(hart), SUM);
});

test('a return to an address space finds its translations kept', () => {
  const { hart, ram } = machine();
  // Other virtual pages in each space, so that the TLBs hold both at once.
  table(ram, BASE + 0x10000, BASE + 0x20000, 0x1000);
  table(ram, BASE + 0x14000, BASE + 0x21000, 0x3000);
  for (let round = 0; round < 4; round++) {
    satp(hart, BASE + 0x10000, 1);
    const misses = hart.mmu.tlbMisses;
    assert.equal(runProgram(hart, 0x1000), SUM);
    // Round 1 refills the write entry once: the other program's page became code in round 0,
    // which empties the write TLBs (ram.ts, dirtyEpoch). From round 2 on, nothing misses.
    if (round > 1) assert.equal(hart.mmu.tlbMisses, misses, `round ${round}: no TLB miss`);
    satp(hart, BASE + 0x14000, 2);
    assert.equal(runProgram(hart, 0x3000), -SUM);
  }
  // A full SFENCE.VMA drops them.
  hart.mmu.flush();
  satp(hart, BASE + 0x10000, 1);
  const misses = hart.mmu.tlbMisses;
  assert.equal(runProgram(hart, 0x1000), SUM);
  assert.ok(hart.mmu.tlbMisses > misses);
});
