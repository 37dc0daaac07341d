// Branches and jumps inside translated blocks (jit/blockScan.ts, jit/translate.ts) against the
// interpreter: random code with forward branches and jumps over a few instructions (if/else
// shapes, code after a jump reached only by a branch) and counted loops whose backward branch
// lands mid-block, run by both engines from the same state, stopped by the budget at many
// points, must have retired the same number of instructions and end at the same pc with the
// same registers. A block that counted a pass through its own jumps wrongly would stop
// elsewhere than the interpreter (and break --deterministic).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRIV_M } from './causes.js';
import { StopReason } from './hart.js';
import { alu, bothEngines, branch, jal, rng, WFI } from './csrTestkit.js';

/** Branch funct3 of BEQ, BNE, BLT, BGE, BLTU, BGEU. */
const BRANCH_F3 = [0, 1, 4, 5, 6, 7];

const addi = (rd: number, rs1: number, imm: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13) >>> 0;

/** Registers the ALU instructions use; x13 and x14 count loops. */
const ALU_REGS = 12;

/** `n` ALU instructions on x0..x12. */
function straight(r: (n: number) => number, n: number, out: number[]): void {
  for (let i = 0; i < n; i++)
    out.push(alu(r(3), 1 + r(ALU_REGS), r(ALU_REGS + 1), r(ALU_REGS + 1)));
}

/** Random code of about `pieces` pieces, then a WFI. */
function program(seed: number, pieces: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < pieces; i++) {
    const kind = r(5);
    if (kind === 0) straight(r, 1 + r(4), out);
    else if (kind === 1) {
      // if (cond) skip the next 1..6 instructions
      const skip = 1 + r(6);
      out.push(branch(BRANCH_F3[r(6)], r(ALU_REGS + 1), r(ALU_REGS + 1), 4 * (skip + 1)));
      straight(r, skip, out);
    } else if (kind === 2) {
      // if (cond) { a } else { b }: the else arm follows a jump, reached only by the branch
      const a = 1 + r(4);
      const b = 1 + r(4);
      out.push(branch(BRANCH_F3[r(6)], r(ALU_REGS + 1), r(ALU_REGS + 1), 4 * (a + 2)));
      straight(r, a, out);
      out.push(jal(r(4) === 0 ? 1 + r(ALU_REGS) : 0, 4 * (b + 1)));
      straight(r, b, out);
    } else {
      // a counted loop of 1..20 passes, its body with a branch of its own now and then
      const counter = 13 + r(2);
      out.push(addi(counter, 0, 1 + r(20)));
      const top = out.length;
      straight(r, 1 + r(5), out);
      if (r(2) === 0) {
        out.push(branch(BRANCH_F3[r(6)], r(ALU_REGS + 1), r(ALU_REGS + 1), 8));
        straight(r, 1, out);
      }
      out.push(addi(counter, counter, -1));
      out.push(branch(1, counter, 0, 4 * (top - out.length)));
    }
  }
  out.push(WFI);
  return out;
}

test('branches and jumps inside blocks retire and end as in the interpreter, at any budget', () => {
  let stopped = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const code = program(seed, 6 + (seed % 20));
    const full = bothEngines(code, PRIV_M, 0, seed);
    assert.equal(full.stop, StopReason.Wfi, `seed ${seed}: the program reaches its WFI`);
    assert.ok(full.translated > 0, `seed ${seed}: blocks ran`);
    // Stopped by the budget: from just above MAX_BLOCK up, at a dozen points of the run.
    const step = Math.max(1, Math.floor(full.instret / 12)) + (seed % 5);
    for (let budget = 65; budget < full.instret; budget += step) {
      const b = bothEngines(code, PRIV_M, 0, seed, undefined, budget);
      assert.equal(b.instret, budget, `seed ${seed}: budget ${budget} spent`);
      stopped++;
    }
  }
  assert.ok(stopped > 200, `${stopped} runs stopped by the budget`);
});

/** I-type load (funct3 `f3`) and S-type store: rd/rs2 at off(rs1). */
const load = (f3: number, rd: number, rs1: number, off: number): number =>
  (((off & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x03) >>> 0;
const store = (f3: number, rs2: number, rs1: number, off: number): number =>
  ((((off >> 5) & 0x7f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (f3 << 12) |
    ((off & 0x1f) << 7) |
    0x23) >>>
  0;
/** x15 = `addr` (below 2^31, zero-extended). */
const pointer = (addr: number): number[] => [
  ((addr + 0x800) & 0xfffff000) | (15 << 7) | 0x37, // lui x15
  addi(15, 15, ((addr & 0xfff) << 20) >> 20),
  0x02079793, // slli x15, x15, 32
  0x0207d793, // srli x15, x15, 32
];

/**
 * A counted loop over memory through x15: loads into and stores from the ALU registers at
 * small offsets, x15 stepping by `step` a pass (odd steps make later passes misaligned).
 */
function memoryLoop(r: (n: number) => number, start: number, step: number, out: number[]): void {
  out.push(...pointer(start));
  out.push(addi(13, 0, 2 + r(12)));
  const top = out.length;
  for (let i = 0; i < 2 + r(4); i++) {
    straight(r, r(3), out);
    const f3 = r(4);
    if (r(2) === 0) out.push(load(f3, 1 + r(ALU_REGS), 15, 8 * r(4)));
    else out.push(store(f3, r(ALU_REGS + 1), 15, 8 * r(4)));
  }
  out.push(addi(15, 15, step));
  straight(r, 1 + r(3), out);
  out.push(addi(13, 13, -1));
  out.push(branch(1, 13, 0, 4 * (top - out.length)));
}

test('a loop block left at a load or store in a later pass writes back what earlier passes wrote', () => {
  const RAM_END = 0x80000000 + (1 << 20);
  let sideExits = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const out: number[] = [];
    // Aligned passes (in the block all through); misaligned ones, which stay in the block
    // inside a page and leave it where a later pass reaches the next page (an access across
    // the boundary, or a page the TLB does not hold yet); and passes that run off the end of
    // RAM (an access fault in a later pass).
    const kind = seed % 3;
    const step = kind === 1 ? 8 * (1 + r(2)) + 1 + r(7) : 8 * (1 + r(2));
    const start =
      kind === 2
        ? RAM_END - 8 * (4 + r(8)) - 32
        : kind === 1
          ? 0x80011000 - 32 - (1 + r(4)) * step
          : 0x80010000 + 8 * r(64);
    memoryLoop(r, start, step, out);
    straight(r, 2, out);
    out.push(WFI);
    const b = bothEngines(out, PRIV_M, 0, seed);
    assert.ok(b.translated > 0, `seed ${seed}: blocks ran`);
    if (kind !== 0) sideExits++;
  }
  assert.ok(sideExits > 20);
});
