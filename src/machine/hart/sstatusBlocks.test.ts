// sstatus writes in translated blocks (jit/csrEmitter.ts) against the interpreter, from S-mode
// (user mode cannot reach sstatus, so the differential suite cannot): random CSRRW/S/C and
// immediate writes of SIE, SPIE, SPP, FS, SUM and MXR among other CSR and integer work; an
// interrupt pending while SIE is clear, taken right after the write that sets SIE (not one
// instruction later); and loads under page tables that SUM or MXR allow only while set, toggled
// round a loop, so that a block that kept the old data TLB tag would load where the interpreter
// faults. Each run is made by both engines from the same state and must end alike.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXC_LOAD_PAGE, IRQ_SSI, IRQ_STI, MIP_SSIP, MIP_STIP, PRIV_S } from './causes.js';
import {
  CSR_FCSR,
  CSR_MENVCFG,
  CSR_MIDELEG,
  CSR_MIE,
  CSR_MIP,
  CSR_SATP,
  CSR_SIE,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_STVEC,
  MENVCFG_STCE,
  MSTATUS_FS,
  MSTATUS_MXR,
  MSTATUS_SIE,
  MSTATUS_SPIE,
  MSTATUS_SPP,
  MSTATUS_SUM,
  writeCsr,
} from './csr.js';
import { type Hart, StopReason } from './hart.js';
import type { Ram } from '../ram.js';
import {
  alu,
  BASE,
  bothEngines,
  branch,
  CODE,
  csrInst,
  F3,
  itype,
  rng,
  runCode,
  sd,
  WFI,
} from './csrTestkit.js';

const FS_INITIAL = 1 << 13;
/** mstatus bits an sstatus write may change, and some it may not (masked off). */
const BITS = [MSTATUS_SIE, MSTATUS_SPIE, MSTATUS_SPP, MSTATUS_SUM, MSTATUS_MXR, 1 << 3, 1 << 17];

const lui = (rd: number, imm20: number): number => ((imm20 << 12) | (rd << 7) | 0x37) >>> 0;
const auipc = (rd: number, imm20: number): number => ((imm20 << 12) | (rd << 7) | 0x17) >>> 0;
const addi = (rd: number, rs1: number, imm: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13) >>> 0;
const ori = (rd: number, rs1: number, imm: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (6 << 12) | (rd << 7) | 0x13) >>> 0;
const ld = (rd: number, rs1: number, imm: number): number => itype(0x03, 3, rd, rs1, imm);
const bne = (rs1: number, rs2: number, off: number): number => branch(1, rs1, rs2, off);

/** Sets x1..x15 to sstatus-like values: some of BITS, FS mostly on, now and then a 64-bit one. */
function statusValues(seed: number): (h: Hart) => void {
  return (h) => {
    const r = rng(seed * 7 + 3);
    for (let i = 1; i < 16; i++) {
      let v = r(4) === 0 ? 0 : (r(3) + 1) << 13;
      for (const b of BITS) if (r(3) === 0) v |= b;
      h.regs.set(i, r(8) === 0 ? (BigInt(r(0x10000)) << 40n) | BigInt(v >>> 0) : BigInt(v >>> 0));
    }
  };
}

test('sstatus writes in blocks end as in the interpreter', () => {
  for (let seed = 1; seed <= 80; seed++) {
    const r = rng(seed);
    const code: number[] = [];
    for (let i = 40 + (seed % 30); i > 0; i--) {
      const rd = r(4) === 0 ? 0 : 1 + r(15);
      const k = r(5);
      if (k === 0) code.push(alu(r(3), rd, r(16), r(16)));
      else if (k === 1) code.push(csrInst(F3[r(6)], rd, r(16), CSR_SSCRATCH));
      else code.push(csrInst(F3[r(6)], rd, r(4) === 0 ? r(32) : 1 + r(15), CSR_SSTATUS));
    }
    // Then fcsr, legal unless FS was left Off (an M-mode trap in both engines).
    code.push(csrInst(2, 1, 0, CSR_FCSR), WFI);
    const o = bothEngines(code, PRIV_S, FS_INITIAL, seed, statusValues(seed));
    assert.equal(o.stop, StopReason.Wfi, `seed ${seed}`);
    const fsOff = (o.csrs[0] & MSTATUS_FS) === 0;
    assert.equal(o.translated, code.length - (fsOff ? 2 : 1), `seed ${seed}: in blocks`);
  }
});

/** The S-mode trap handler: sie = 0, then WFI (which then stops the run). */
const S_HANDLER = BASE + 0x9000;

/** Pending, delegated and enabled in sie: a supervisor software interrupt, waiting for SIE. */
function pendingSsi(enabled: boolean): (h: Hart, ram: Ram) => void {
  return (h, ram) => {
    const handler = [csrInst(1, 0, 0, CSR_SIE), WFI];
    const bytes = new Uint8Array(8);
    handler.forEach((w, i) => new DataView(bytes.buffer).setUint32(i * 4, w, true));
    ram.write(S_HANDLER, bytes);
    assert.ok(writeCsr(h, CSR_STVEC, S_HANDLER, 0));
    assert.ok(writeCsr(h, CSR_MIDELEG, MIP_SSIP, 0));
    assert.ok(writeCsr(h, CSR_MIE, enabled ? MIP_SSIP : 0, 0));
    assert.ok(writeCsr(h, CSR_MIP, MIP_SSIP, 0));
    h.regs.set(15, BigInt(MSTATUS_SIE | MSTATUS_SUM));
  };
}

test('an interrupt pending while SIE is clear is taken right after the block sets SIE', () => {
  for (let seed = 300; seed < 340; seed++) {
    // Half the runs as the VMM's harts on a host clock: the blocks stop only for one pending.
    const precise = seed % 8 < 4;
    const r = rng(seed);
    const head = Array.from({ length: 3 + r(20) }, () => alu(r(3), 1 + r(14), r(16), r(16)));
    // The ways the kernel and others set SIE: csrsi, csrs from a register, csrw of what was read
    // with SIE or'ed in, csrwi.
    const enable = [
      [csrInst(6, 1 + r(14), 2, CSR_SSTATUS)],
      [csrInst(2, r(15), 15, CSR_SSTATUS)],
      [csrInst(2, 14, 0, CSR_SSTATUS), ori(14, 14, MSTATUS_SIE), csrInst(1, 0, 14, CSR_SSTATUS)],
      [csrInst(5, 1 + r(14), 2, CSR_SSTATUS)],
    ][seed % 4];
    const tail = Array.from({ length: 10 }, () => alu(r(3), 1 + r(14), r(16), r(16)));
    const code = [...head, ...enable, ...tail, WFI];
    const after = CODE + 4 * (head.length + enable.length);
    const o = bothEngines(code, PRIV_S, FS_INITIAL, seed, (h, ram) => {
      pendingSsi(true)(h, ram);
      h.preciseInterrupts = precise;
    });
    assert.equal(o.stop, StopReason.Wfi, `seed ${seed}`);
    assert.deepEqual(
      { scause: [o.csrs[7], o.csrs[8]], sepc: o.csrs[5] },
      { scause: [IRQ_SSI, 1 << 31], sepc: after | 0 },
      `seed ${seed}: the interrupt is taken after the write`,
    );
    assert.ok(
      o.translated >= head.length + enable.length,
      `seed ${seed}: the write ran translated`,
    );
    // Not enabled in sie: nothing is taken, and the tail runs in blocks.
    const quiet = bothEngines(code, PRIV_S, FS_INITIAL, seed, pendingSsi(false));
    assert.equal(quiet.csrs[7], 5, `seed ${seed}: scause untouched`);
    assert.equal(quiet.translated, code.length - 1, `seed ${seed}: all in blocks`);
  }
});

test('with a host clock, blocks that set SIE go on when no interrupt is pending', () => {
  // local_irq_disable, work, local_irq_enable, round a loop 1,000 times, nothing pending:
  // precise harts (deterministic time) come back to the run loop after every enable; harts on
  // a host clock stay in the dispatcher, and both end alike.
  const loop = [
    csrInst(7, 0, MSTATUS_SIE, CSR_SSTATUS), // csrci sstatus, SIE
    addi(10, 10, 1),
    csrInst(6, 0, MSTATUS_SIE, CSR_SSTATUS), // csrsi sstatus, SIE
    addi(11, 11, -1),
  ];
  const code = [addi(11, 0, 1000), ...loop, bne(11, 0, -4 * loop.length), WFI];
  const runs = [true, false].map((precise) =>
    bothEngines(code, PRIV_S, FS_INITIAL, 500, (h, ram) => {
      pendingSsi(false)(h, ram);
      h.preciseInterrupts = precise;
    }),
  );
  for (const o of runs) {
    assert.equal(o.stop, StopReason.Wfi);
    assert.equal(o.x[11], 0n);
    assert.ok(o.translated >= 5000, `${o.translated} translated`);
  }
  assert.equal(runs[0].x[10], runs[1].x[10]);
  assert.ok(runs[0].dispatches >= 1000, `precise: ${runs[0].dispatches} dispatches`);
  assert.ok(runs[1].dispatches < 20, `host clock: ${runs[1].dispatches} dispatches`);
});

/**
 * The Sstc timer due at instruction `due` (time is the instructions retired, as under
 * --deterministic), delegated and enabled, with sstatus.SIE set: it becomes pending mid-run.
 */
function timerAt(due: number): (h: Hart, ram: Ram) => void {
  return (h, ram) => {
    pendingSsi(false)(h, ram);
    h.readTime = () => h.currentInstret();
    assert.ok(writeCsr(h, CSR_MENVCFG, 0, MENVCFG_STCE));
    assert.ok(writeCsr(h, CSR_MIDELEG, MIP_STIP, 0));
    assert.ok(writeCsr(h, CSR_MIE, MIP_STIP, 0));
    h.stimecmpLo = due;
    h.stimecmpHi = 0;
  };
}

test('a timer that falls due is taken after the same instruction by both engines', () => {
  // A loop of the kernel's kinds of CSR work: SUM set and cleared, sscratch swapped; in some runs
  // SIE cleared and set again (local_irq_save/restore), in others a read of sie. Both engines
  // look for interrupts after the write that sets SIE and after the read of sie (any CSR but
  // those blocks access), and at the WFI, and at none of the others.
  const nop = alu(0, 0, 0, 0);
  for (let seed = 400; seed < 430; seed++) {
    const r = rng(seed);
    const variant = seed % 3;
    const code = [
      lui(6, MSTATUS_SUM >>> 12),
      addi(12, 0, 60),
      csrInst(2, 0, 6, CSR_SSTATUS),
      alu(0, 13, 13, 12),
      csrInst(3, 0, 6, CSR_SSTATUS),
      csrInst(1, 7, 7, CSR_SSCRATCH),
      variant === 0 ? csrInst(7, 14, MSTATUS_SIE, CSR_SSTATUS) : nop,
      alu(2, 13, 13, 7),
      variant === 0 ? csrInst(2, 0, 14, CSR_SSTATUS) : nop,
      variant === 1 ? csrInst(2, 8, 0, CSR_SIE) : nop,
      addi(12, 12, -1),
      bne(12, 0, -36),
      WFI,
    ];
    // Due within the loop's 600 instructions.
    const due = 50 + r(400);
    const o = bothEngines(code, PRIV_S, FS_INITIAL | MSTATUS_SIE, seed, timerAt(due));
    assert.equal(o.stop, StopReason.Wfi, `seed ${seed}`);
    assert.deepEqual([o.csrs[7], o.csrs[8]], [IRQ_STI, 1 << 31], `seed ${seed}: scause`);
    // Taken after the SIE restore, after the read of sie, or after the WFI.
    assert.equal((o.csrs[5] >>> 0) - CODE, [36, 40, 52][variant], `seed ${seed}: sepc`);
    assert.ok(o.translated > due * 0.7, `seed ${seed}: translated ${o.translated}, due ${due}`);
  }
});

const ROOT = BASE + 0x10000;
const DATA = 0x2000;
/** Gigapage PTEs: V, R, W, X, U, A, D. */
const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_U = 16;
const PTE_AD = 64 | 128;

/**
 * Sv39 with gigapages onto the start of RAM: 0x80000000 as itself (supervisor, RWX, the code),
 * 0x40000000 as a user page (RW), 0 as a supervisor execute-only page; the word at DATA is 7.
 */
function pageTables(h: Hart, ram: Ram): void {
  const pte = (index: number, flags: number): void => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, ((BASE >>> 12) << 10) | flags | PTE_V | PTE_AD, true);
    ram.write(ROOT + index * 8, b);
  };
  pte(2, PTE_R | PTE_W | PTE_X);
  pte(1, PTE_R | PTE_W | PTE_U);
  pte(0, PTE_X);
  ram.write(BASE + DATA, new Uint8Array([7]));
  assert.ok(writeCsr(h, CSR_SATP, ROOT >>> 12, 8 << 28));
}

for (const [bit, name, va] of [
  [MSTATUS_SUM, 'SUM', 0x40000000 + DATA],
  [MSTATUS_MXR, 'MXR', DATA],
] as const) {
  test(`a block follows ${name} written in it: the load it allows faults once it is clear`, () => {
    // a0 = va; t1 = the bit; a2 = 20; s1 = this code (a supervisor page); loop: set it, load,
    // load from the supervisor page, sum (and store the sum to the user page), clear it, load
    // from the supervisor page again, round again; then a load with it clear.
    const code = [
      lui(10, va >>> 12),
      lui(6, bit >>> 12),
      addi(12, 0, 20),
      auipc(9, 0),
      csrInst(2, 0, 6, CSR_SSTATUS),
      ld(11, 10, 0),
      ld(15, 9, 8),
      alu(0, 13, 13, 11),
      bit === MSTATUS_SUM ? sd(13, 10, 8) : alu(0, 0, 0, 0),
      csrInst(3, 0, 6, CSR_SSTATUS),
      ld(15, 9, 0),
      addi(12, 12, -1),
      bne(12, 0, -32),
      ld(14, 10, 0),
      WFI,
    ];
    const setup = (h: Hart, ram: Ram): void => {
      pageTables(h, ram);
      h.regs.set(13, 0n);
    };
    for (const jit of [false, true]) {
      const o = jit
        ? bothEngines(code, PRIV_S, FS_INITIAL, 1, setup)
        : runCode(code, false, PRIV_S, FS_INITIAL, 1, setup);
      assert.equal(o.stop, StopReason.Wfi);
      assert.equal(o.x[13], 140n, 'the loads with the bit set');
      assert.deepEqual(
        { mcause: o.csrs[12], mepc: o.csrs[13], mtval: o.csrs[14] },
        { mcause: EXC_LOAD_PAGE, mepc: (CODE + 52) | 0, mtval: va },
        'the load with the bit clear faults',
      );
      assert.equal(o.csrs[0] & (MSTATUS_SUM | MSTATUS_MXR | MSTATUS_FS), FS_INITIAL);
      if (jit) assert.ok(o.translated > 100, `translated ${o.translated}`);
      // SUM decides nothing for supervisor pages: their entries serve both states (mmu.ts
      // DTAG_SUM), where MXR's toggles miss each time. Misses of the interpreter's run: fetch,
      // the loads and the store, and the last load's.
      if (!jit && bit === MSTATUS_SUM) assert.ok(o.tlbMisses <= 6, `${o.tlbMisses} TLB misses`);
    }
  });
}

test('the interpreter follows SUM and MXR cleared by a write it runs itself', () => {
  // Set when the run starts: a load it allows, the write that clears it, the same load again.
  for (const [bit, va] of [
    [MSTATUS_SUM, 0x40000000 + DATA],
    [MSTATUS_MXR, DATA],
  ] as const) {
    const code = [
      lui(10, va >>> 12),
      lui(6, bit >>> 12),
      ld(11, 10, 0),
      csrInst(3, 0, 6, CSR_SSTATUS),
      ld(14, 10, 0),
      WFI,
    ];
    const o = bothEngines(code, PRIV_S, FS_INITIAL | bit, 2, pageTables);
    assert.equal(o.x[11], 7n);
    assert.deepEqual(
      { mcause: o.csrs[12], mepc: o.csrs[13], mtval: o.csrs[14] },
      { mcause: EXC_LOAD_PAGE, mepc: (CODE + 16) | 0, mtval: va },
      `${bit === MSTATUS_SUM ? 'SUM' : 'MXR'}: the load after the write faults`,
    );
  }
});
