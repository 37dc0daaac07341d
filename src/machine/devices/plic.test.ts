// PLIC: priorities, enables, thresholds, claim/complete with several sources
// and two harts (four contexts), level-triggered re-pending, register layout,
// saved state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Plic,
  PlicError,
  PLIC_CONTEXT,
  PLIC_CONTEXT_STRIDE,
  PLIC_ENABLE,
  PLIC_ENABLE_STRIDE,
  PLIC_PENDING,
} from './plic.js';
import { MIP_MEIP, MIP_SEIP } from '../hart/causes.js';
import { FakeHart } from './testIrq.js';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';

function setup(): { plic: Plic; harts: FakeHart[] } {
  const harts = [new FakeHart(), new FakeHart()];
  return { plic: new Plic(harts, 95), harts };
}

const prio = (p: Plic, src: number, v: number): void => p.write(4 * src, 4, v);
const enable = (p: Plic, ctx: number, ...srcs: number[]): void => {
  const words = [0, 0, 0];
  for (const s of srcs) words[s >> 5] |= 1 << (s & 31);
  words.forEach((w, i) => p.write(PLIC_ENABLE + PLIC_ENABLE_STRIDE * ctx + 4 * i, 4, w >>> 0));
};
const threshold = (p: Plic, ctx: number, v: number): void =>
  p.write(PLIC_CONTEXT + PLIC_CONTEXT_STRIDE * ctx, 4, v);
const claim = (p: Plic, ctx: number): number =>
  p.read(PLIC_CONTEXT + PLIC_CONTEXT_STRIDE * ctx + 4, 4);
const complete = (p: Plic, ctx: number, src: number): void =>
  p.write(PLIC_CONTEXT + PLIC_CONTEXT_STRIDE * ctx + 4, 4, src);

test('priority 0 never interrupts; priorities are 3 bits', () => {
  const { plic, harts } = setup();
  enable(plic, 1, 10);
  plic.setIrq(10, true);
  assert.equal(plic.read(PLIC_PENDING, 4), 1 << 10);
  assert.ok(!harts[0].seip, 'priority 0 masks the source');
  assert.equal(claim(plic, 1), 0);
  prio(plic, 10, 0xff);
  assert.equal(plic.read(4 * 10, 4), 7);
  assert.ok(harts[0].seip);
  prio(plic, 0, 5);
  assert.equal(plic.read(0, 4), 0, 'source 0 does not exist');
});

test('contexts map to M and S external interrupts of each hart', () => {
  const { plic, harts } = setup();
  prio(plic, 1, 1);
  prio(plic, 2, 1);
  prio(plic, 3, 1);
  prio(plic, 4, 1);
  enable(plic, 0, 1); // hart 0 M
  enable(plic, 1, 2); // hart 0 S
  enable(plic, 2, 3); // hart 1 M
  enable(plic, 3, 4); // hart 1 S
  plic.setIrq(1, true);
  assert.deepEqual([harts[0].mip, harts[1].mip], [MIP_MEIP, 0]);
  plic.setIrq(1, false);
  plic.setIrq(2, true);
  assert.deepEqual([harts[0].mip, harts[1].mip], [MIP_SEIP, 0]);
  plic.setIrq(2, false);
  plic.setIrq(3, true);
  assert.deepEqual([harts[0].mip, harts[1].mip], [0, MIP_MEIP]);
  plic.setIrq(4, true);
  assert.deepEqual([harts[0].mip, harts[1].mip], [0, MIP_MEIP | MIP_SEIP]);
});

test('claim returns the highest priority, ties to the lowest id, and clears pending', () => {
  const { plic, harts } = setup();
  for (const [s, p] of [
    [5, 2],
    [7, 6],
    [9, 6],
    [33, 7],
    [40, 1],
  ])
    prio(plic, s, p);
  enable(plic, 1, 5, 7, 9, 40);
  for (const s of [5, 7, 9, 33, 40]) plic.setIrq(s, true);
  assert.equal(
    plic.read(PLIC_PENDING + 4, 4),
    (1 << 1) | (1 << 8),
    'sources 33 and 40 pending in word 1',
  );
  // 33 has the top priority but is not enabled for context 1.
  assert.equal(claim(plic, 1), 7);
  assert.equal(claim(plic, 1), 9);
  assert.equal(claim(plic, 1), 5);
  assert.equal(claim(plic, 1), 40);
  assert.equal(claim(plic, 1), 0, 'everything in flight');
  assert.ok(!harts[0].seip);
  assert.equal(plic.read(PLIC_PENDING, 4), 0);
});

test('threshold: only priorities strictly above it interrupt or are claimed', () => {
  const { plic, harts } = setup();
  prio(plic, 3, 3);
  prio(plic, 4, 4);
  enable(plic, 0, 3, 4);
  threshold(plic, 0, 4);
  plic.setIrq(3, true);
  plic.setIrq(4, true);
  assert.ok(!harts[0].has(MIP_MEIP));
  assert.equal(claim(plic, 0), 0);
  threshold(plic, 0, 3);
  assert.ok(harts[0].has(MIP_MEIP));
  assert.equal(claim(plic, 0), 4);
  assert.ok(!harts[0].has(MIP_MEIP), 'source 3 is at the threshold');
  threshold(plic, 0, 0);
  assert.equal(plic.read(PLIC_CONTEXT, 4), 0);
  assert.equal(claim(plic, 0), 3);
  threshold(plic, 0, 0xffff);
  assert.equal(plic.read(PLIC_CONTEXT, 4), 7);
});

test('a level source still high after complete is pending again; one that dropped is not', () => {
  const { plic, harts } = setup();
  prio(plic, 10, 1);
  enable(plic, 1, 10);
  plic.setIrq(10, true);
  assert.equal(claim(plic, 1), 10);
  assert.ok(!harts[0].seip);
  // While in flight the line changes do not make it pending.
  plic.setIrq(10, false);
  plic.setIrq(10, true);
  assert.equal(plic.read(PLIC_PENDING, 4), 0);
  assert.ok(!harts[0].seip);
  complete(plic, 1, 10);
  assert.equal(plic.read(PLIC_PENDING, 4), 1 << 10);
  assert.ok(harts[0].seip);
  assert.equal(claim(plic, 1), 10);
  plic.setIrq(10, false);
  complete(plic, 1, 10);
  assert.equal(plic.read(PLIC_PENDING, 4), 0);
  assert.ok(!harts[0].seip);
});

test('a line that drops before the claim is no longer pending', () => {
  const { plic, harts } = setup();
  prio(plic, 8, 1);
  enable(plic, 1, 8);
  plic.setIrq(8, true);
  assert.ok(harts[0].seip);
  plic.setIrq(8, false);
  assert.ok(!harts[0].seip);
  assert.equal(claim(plic, 1), 0);
});

test('complete is taken for a source not enabled in that context (as on QEMU), ignored when not in flight', () => {
  const { plic } = setup();
  prio(plic, 6, 1);
  enable(plic, 1, 6);
  enable(plic, 3, 6);
  plic.setIrq(6, true);
  assert.equal(claim(plic, 1), 6);
  assert.equal(claim(plic, 3), 0, 'claimed once only, by whichever context came first');
  enable(plic, 1);
  assert.equal(plic.read(PLIC_PENDING, 4), 0);
  complete(plic, 1, 6); // no longer enabled in ctx 1: completes all the same
  assert.equal(plic.read(PLIC_PENDING, 4), 1 << 6, 'the line is still high: pending again');
  assert.equal(claim(plic, 3), 6);
  complete(plic, 0, 6); // a context that never had it enabled
  assert.equal(plic.read(PLIC_PENDING, 4), 1 << 6);
  complete(plic, 3, 6); // not in flight: no effect
  complete(plic, 3, 0);
  complete(plic, 3, 1000);
  assert.equal(claim(plic, 3), 6);
});

test('two harts: the first claim wins, the other context sees nothing', () => {
  const { plic, harts } = setup();
  prio(plic, 1, 1);
  enable(plic, 1, 1);
  enable(plic, 3, 1);
  plic.setIrq(1, true);
  assert.ok(harts[0].seip && harts[1].seip);
  assert.equal(claim(plic, 3), 1);
  assert.ok(!harts[0].seip && !harts[1].seip);
  assert.equal(claim(plic, 1), 0);
});

test('enable bits for source 0 and beyond ndev read as zero; pending is read-only', () => {
  const { plic } = setup();
  plic.write(PLIC_ENABLE, 4, 0xffffffff);
  assert.equal(plic.read(PLIC_ENABLE, 4), 0xfffffffe);
  plic.write(PLIC_ENABLE + 8, 4, 0xffffffff); // sources 64..95
  assert.equal(plic.read(PLIC_ENABLE + 8, 4), 0xffffffff);
  plic.write(PLIC_ENABLE + 12, 4, 0xffffffff); // beyond
  assert.equal(plic.read(PLIC_ENABLE + 12, 4), 0);
  plic.write(PLIC_PENDING, 4, 0xffffffff);
  assert.equal(plic.read(PLIC_PENDING, 4), 0);
  // Contexts beyond the last hart read 0.
  assert.equal(plic.read(PLIC_CONTEXT + 4 * PLIC_CONTEXT_STRIDE + 4, 4), 0);
  const small = new Plic([new FakeHart()], 31);
  small.write(PLIC_ENABLE, 4, 0xffffffff);
  assert.equal(small.read(PLIC_ENABLE, 4), 0xfffffffe);
  const odd = new Plic([new FakeHart()], 40);
  odd.write(PLIC_ENABLE + 4, 4, 0xffffffff);
  assert.equal(odd.read(PLIC_ENABLE + 4, 4), 0x1ff);
});

test('line() hands devices an IrqLine; bad sources are refused', () => {
  const { plic, harts } = setup();
  const line = plic.line(95);
  prio(plic, 95, 2);
  enable(plic, 1, 95);
  line.set(true);
  assert.ok(harts[0].seip);
  assert.equal(claim(plic, 1), 95);
  assert.throws(() => plic.line(0), PlicError);
  assert.throws(() => plic.line(96), PlicError);
  assert.throws(() => plic.setIrq(-1, true), PlicError);
});

test('save/restore round trip, including sources in flight', () => {
  const a = setup();
  prio(a.plic, 1, 1);
  prio(a.plic, 2, 5);
  enable(a.plic, 1, 1, 2);
  enable(a.plic, 2, 2);
  threshold(a.plic, 1, 0);
  threshold(a.plic, 2, 3);
  a.plic.setIrq(1, true);
  a.plic.setIrq(2, true);
  assert.equal(claim(a.plic, 1), 2);
  const b = setup();
  assertRoundTrip(a.plic, b.plic);
  assert.ok(b.harts[0].seip, 'source 1 still pending for hart 0 S');
  assert.ok(!b.harts[1].has(MIP_MEIP));
  complete(b.plic, 1, 2);
  assert.ok(b.harts[1].has(MIP_MEIP), 'source 2 pending again after completion');
  assert.equal(claim(b.plic, 1), 2);
  assert.equal(claim(b.plic, 1), 1);
});

test('restore refuses state for another hart or source count, or out of range, changing nothing', () => {
  const a = setup();
  prio(a.plic, 3, 4);
  const state = a.plic.saveState();
  assertRefused(new Plic([new FakeHart()], 95), state, /enable must be a list of 2/);
  assertRefused(
    new Plic([new FakeHart(), new FakeHart()], 63),
    state,
    /priority must be a list of 64/,
  );
  const b = setup();
  enable(b.plic, 0, 5);
  assertRefused(b.plic, { ...state, pending: [1, 2] }, /pending must be a bitmap of 3 words/);
  assertRefused(
    b.plic,
    { ...state, pending: [1, 0, 0] },
    /pending\[0\] must be a word with bits of sources 1\.\.95/,
  );
  assertRefused(b.plic, { ...state, level: [0, 0, 1 << 31] }, /level\[2\] must be a word/);
  assertRefused(
    b.plic,
    { ...state, threshold: [0, 8, 0, 0] },
    /threshold\[1\] must be an integer from 0 to 7/,
  );
  assertRefused(
    b.plic,
    { ...state, priority: state.priority.map((p, i) => (i === 0 ? 1 : p)) },
    /priority\[0\] must be 0/,
  );
  assertRefused(b.plic, { ...state, pending: [4, 0, 0], inFlight: [4, 0, 0] }, /share sources/);
  assertMutationsRefused(b.plic);
});
