// Pages under Sv39, on both engines. An instruction whose two halves lie on two pages, where
// the second virtual page maps to RAM that is not next to the first: both engines run it with
// its upper half read through the second page's translation, run the new upper half after
// that page is remapped and fenced, and raise an instruction page fault for the second half's
// address (mtval) at the instruction's own address (mepc) when the second page is not mapped.
// Then data accesses across two pages, and two pages whose TLB sets collide.

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

// Data across two pages: virtual 0x8000 and 0x9000 map to RAM 64 KiB apart. A loop loads a
// doubleword and stores a word at a pointer that steps a byte a pass across the boundary,
// so most of its accesses are misaligned and some straddle the two pages: they must reach
// each byte through its own page's mapping, in translated blocks as in the interpreter.
const DATA_VA = 0x8000;
const DATA_RAM = [BASE + 0x40000, BASE + 0x50000];
const DATA_FROM = 0x8fe8;
const DATA_PASSES = 40;
// li a0,0; lui a5,0x9; addi a5,a5,-24 (0x8fe8); li a1,40
// loop: ld a2,0(a5); add a0,a0,a2; sw a0,3(a5); addi a5,a5,1; addi a1,a1,-1; bnez a1,loop; wfi
const DATA_LOOP = [
  0x00000513, 0x000097b7, 0xfe878793, 0x02800593, 0x0007b603, 0x00c50533, 0x00a7a1a3, 0x00178793,
  0xfff58593, 0xfe0596e3, 0x10500073,
];

/** The bytes of the two data pages before the loop: not all zero, no two pages alike. */
function dataBytes(): Uint8Array {
  const b = new Uint8Array(0x2000);
  for (let i = 0; i < b.length; i++) b[i] = (i * 37 + (i >> 8) * 11 + 5) & 0xff;
  return b;
}

/** The loop on a flat copy of the two pages: a0 and the bytes after it. */
function dataModel(): { a0: bigint; bytes: Uint8Array } {
  const bytes = dataBytes();
  const dv = new DataView(bytes.buffer);
  let a0 = 0n;
  for (let p = 0; p < DATA_PASSES; p++) {
    const at = DATA_FROM - DATA_VA + p;
    a0 = BigInt.asUintN(64, a0 + dv.getBigUint64(at, true));
    dv.setUint32(at + 3, Number(a0 & 0xffffffffn), true);
  }
  return { a0, bytes };
}

for (const [engine, threshold] of [
  ['the interpreter', 0],
  ['translated blocks', 1],
] as const) {
  test(`misaligned loads and stores across two pages reach each page's RAM (${engine})`, () => {
    const { hart, ram } = machine(threshold);
    const code = new Uint8Array(DATA_LOOP.length * 4);
    DATA_LOOP.forEach((w, i) => new DataView(code.buffer).setUint32(i * 4, w, true));
    ram.write(FIRST, code);
    ram.write(ROOT + 0x2000 + 9 * 8, pte(DATA_RAM[1], PTE_DATA));
    const before = dataBytes();
    ram.write(DATA_RAM[0], before.subarray(0, 0x1000));
    ram.write(DATA_RAM[1], before.subarray(0x1000));
    ram.write(DATA_RAM[0] + 0x1000, new Uint8Array(0x1000)); // where a page-blind access goes
    hart.priv = PRIV_S;
    hart.updateMmuMode();
    hart.pc = 0x1000n;
    hart.wfi = false;
    // Twice: the second run finds the loop translated from its start.
    for (let round = 0; round < 2; round++) {
      ram.write(DATA_RAM[0], before.subarray(0, 0x1000));
      ram.write(DATA_RAM[1], before.subarray(0x1000));
      hart.pc = 0x1000n;
      hart.wfi = false;
      assert.equal(hart.run(1_000_000), StopReason.Wfi, hart.lastError ?? '');
      assert.equal(hart.priv, PRIV_S, 'no trap');
    }
    const want = dataModel();
    assert.equal(hart.regs.get(10), want.a0);
    assert.deepEqual(ram.read(DATA_RAM[0], 0x1000), want.bytes.subarray(0, 0x1000));
    assert.deepEqual(ram.read(DATA_RAM[1], 0x1000), want.bytes.subarray(0x1000));
    assert.deepEqual(ram.read(DATA_RAM[0] + 0x1000, 0x1000), new Uint8Array(0x1000));
    if (threshold > 0) assert.ok(hart.translatedInstructions > 0, 'blocks ran');
  });
}

// Two data pages whose TLB sets collide: virtual 0x8000 and 0x808000 (8 MiB apart, the same
// low bits of their page numbers). A loop that loads from one and stores to and loads from the
// other on every pass keeps both in the TLBs (a set has two ways): after the first pass it
// walks no page table, on either engine.
const FAR_VA = 0x808000;
const FAR_RAM = BASE + 0x60000;
// li a0,0; lui s0,0x8; lui s1,0x808; li a1,1000
// loop: ld a2,0(s0); add a0,a0,a2; sd a0,8(s1); ld a3,8(s1); add a0,a0,a3; addi a1,a1,-1;
//       bnez a1,loop; wfi
const SETS_LOOP = [
  0x00000513, 0x00008437, 0x008084b7, 0x3e800593, 0x00043603, 0x00c50533, 0x00a4b423, 0x0084b683,
  0x00d50533, 0xfff58593, 0xfe0594e3, 0x10500073,
];

for (const [engine, threshold] of [
  ['the interpreter', 0],
  ['translated blocks', 1],
] as const) {
  test(`two pages in the same TLB set stay in it together (${engine})`, () => {
    const { hart, ram } = machine(threshold);
    const code = new Uint8Array(SETS_LOOP.length * 4);
    SETS_LOOP.forEach((w, i) => new DataView(code.buffer).setUint32(i * 4, w, true));
    ram.write(FIRST, code);
    ram.write(ROOT + 0x1000 + (FAR_VA >>> 21) * 8, pte(ROOT + 0x3000, 1)); // level1[4] -> level 0
    ram.write(ROOT + 0x3000 + ((FAR_VA >>> 12) & 511) * 8, pte(FAR_RAM, PTE_DATA));
    ram.write(DATA_RAM[0], new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]));
    hart.priv = PRIV_S;
    hart.updateMmuMode();
    hart.pc = 0x1000n;
    hart.wfi = false;
    const misses = hart.mmu.tlbMisses;
    assert.equal(hart.run(1_000_000), StopReason.Wfi, hart.lastError ?? '');
    assert.equal(hart.priv, PRIV_S, 'no trap');
    let a0 = 0n;
    for (let pass = 0; pass < 1000; pass++) a0 = BigInt.asIntN(64, 2n * (a0 + 7n));
    assert.equal(hart.regs.get(10), a0);
    assert.ok(hart.mmu.tlbMisses - misses <= 8, `${hart.mmu.tlbMisses - misses} TLB misses`);
    if (threshold > 0) assert.ok(hart.translatedInstructions > 0, 'blocks ran');
  });
}
