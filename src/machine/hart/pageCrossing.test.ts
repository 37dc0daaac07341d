// An instruction whose two halves lie on two pages, under Sv39, where the second virtual page
// maps to RAM that is not next to the first: both engines run it with its upper half read
// through the second page's translation, run the new upper half after that page is remapped
// and fenced, and raise an instruction page fault for the second half's address (mtval) at
// the instruction's own address (mepc) when the second page is not mapped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../bus.js';
import { Ram } from '../ram.js';
import { EXC_INST_PAGE, PRIV_S } from './causes.js';
import { CSR_MTVEC, CSR_PMPADDR0, CSR_PMPCFG0, CSR_SATP, writeCsr } from './csr.js';
import { Hart, StopReason } from './hart.js';

const BASE = 0x80000000;
// li a0,0; li a1,1000; loop: add a0,a0,a1; sd a0,0(sp); ld a2,0(sp); addi a1,a1,-1; bnez a1,loop; wfi
const ADD = [
  0x00000513, 0x3e800593, 0x00b50533, 0x00a13023, 0x00013603, 0xfff58593, 0xfe0598e3, 0x10500073,
];
const SUB = ADD.map((w, i) => (i === 2 ? 0x40b50533 : w)); // the upper halves differ
const SUM = 500500n;
/** The program starts here: its add (index 2) is at 0x1ffe, across the page boundary. */
const START = 0x1ff6;
const STACK_VA = 0x8000;
const ROOT = BASE + 0x10000;
/** RAM of the first code page, and of two candidates for the second (not next to it). */
const FIRST = BASE + 0x30000;
const SECOND_ADD = BASE + 0x24000;
const SECOND_SUB = BASE + 0x26000;
const PTE_CODE = 0x4b; // V R X A
const PTE_DATA = 0xc7; // V R W A D

function pte(pa: number, flags: number): Uint8Array {
  const b = new Uint8Array(8);
  if (pa !== 0)
    new DataView(b.buffer).setBigUint64(0, (BigInt(pa >>> 12) << 10n) | BigInt(flags), true);
  return b;
}

/** Writes `program` from virtual START, its bytes past 0x2000 to `second`. */
function place(ram: Ram, program: number[], second: number): void {
  const b = new Uint8Array(program.length * 4);
  program.forEach((w, i) => new DataView(b.buffer).setUint32(i * 4, w, true));
  const split = 0x2000 - START;
  ram.write(FIRST + (START - 0x1000), b.subarray(0, split));
  ram.write(second, b.subarray(split));
}

/** Maps virtual page 0x2000 to `second` (0: unmapped). */
function mapSecond(ram: Ram, second: number): void {
  ram.write(ROOT + 0x2000 + 2 * 8, pte(second, PTE_CODE));
}

function machine(jitThreshold: number): { hart: Hart; ram: Ram } {
  const ram = new Ram(BASE, 1 << 20);
  const hart = new Hart(new Bus(ram), { jitThreshold, jitSynchronous: true });
  place(ram, ADD, SECOND_ADD);
  place(ram, SUB, SECOND_SUB);
  ram.write(ROOT, pte(ROOT + 0x1000, 1)); // root[0] -> level 1
  ram.write(ROOT + 0x1000, pte(ROOT + 0x2000, 1)); // level1[0] -> level 0
  ram.write(ROOT + 0x2000 + 1 * 8, pte(FIRST, PTE_CODE));
  ram.write(ROOT + 0x2000 + (STACK_VA >>> 12) * 8, pte(BASE + 0x40000, PTE_DATA));
  assert.ok(writeCsr(hart, CSR_PMPADDR0, -1, 0x003fffff));
  assert.ok(writeCsr(hart, CSR_PMPCFG0, 0x1f, 0));
  assert.ok(writeCsr(hart, CSR_MTVEC, BASE, 0)); // a trap stops at a WFI there
  ram.write(BASE, new Uint8Array([0x73, 0x00, 0x50, 0x10]));
  hart.priv = PRIV_S;
  assert.ok(writeCsr(hart, CSR_SATP, ROOT >>> 12, 8 << 28));
  return { hart, ram };
}

function run(hart: Hart): bigint {
  hart.priv = PRIV_S;
  hart.updateMmuMode();
  hart.pc = BigInt(START);
  hart.wfi = false;
  hart.regs.set(10, 0n);
  hart.regs.set(2, BigInt(STACK_VA + 0x100));
  assert.equal(hart.run(1_000_000), StopReason.Wfi, hart.lastError ?? '');
  return hart.regs.get(10);
}

for (const [engine, threshold] of [
  ['the interpreter', 0],
  ['translated blocks', 1],
] as const) {
  test(`an instruction across two pages reads its upper half through the second page's mapping (${engine})`, () => {
    const { hart, ram } = machine(threshold);
    mapSecond(ram, SECOND_ADD);
    assert.equal(run(hart), SUM);
    assert.equal(hart.priv, PRIV_S, 'no trap');
    // The second page now maps RAM whose first halfword makes the add a sub.
    mapSecond(ram, SECOND_SUB);
    hart.mmu.flush();
    assert.equal(run(hart), -SUM);
    // Unmapped: an instruction page fault at the instruction, for its second half.
    mapSecond(ram, 0);
    hart.mmu.flush();
    run(hart);
    assert.equal(hart.mcauseLo, EXC_INST_PAGE);
    assert.equal(hart.mepcLo, 0x1ffe);
    assert.equal(hart.mtvalLo, 0x2000);
  });
}
