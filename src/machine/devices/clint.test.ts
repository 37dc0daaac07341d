// CLINT: msip, mtimecmp/MTIP against mtime, split 64-bit accesses, mtime
// writes, deadlines for WFI sleep, several harts, saved state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Clint, ClintError, CLINT_MTIME, CLINT_MTIMECMP } from './clint.js';
import { MIP_MSIP, MIP_MTIP } from '../hart/causes.js';
import { hartIrq } from './irq.js';
import { FakeHart } from './testIrq.js';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';

class ManualClock {
  t = 0;
  now(): number {
    return this.t;
  }
}

function setup(n = 2): { clint: Clint; harts: FakeHart[]; clock: ManualClock } {
  const harts = Array.from({ length: n }, () => new FakeHart());
  const clock = new ManualClock();
  return { clint: new Clint(harts, clock), harts, clock };
}

function write64(c: Clint, off: number, v: number): void {
  c.write(off, 4, v % 2 ** 32);
  c.write(off + 4, 4, Math.floor(v / 2 ** 32));
}

test('msip drives MSIP of the addressed hart only; only bit 0 is kept', () => {
  const { clint, harts } = setup(3);
  clint.write(4, 4, 0xffffffff);
  assert.equal(clint.read(4, 4), 1);
  assert.ok(harts[1].has(MIP_MSIP));
  assert.ok(!harts[0].has(MIP_MSIP) && !harts[2].has(MIP_MSIP));
  clint.write(4, 4, 0);
  assert.ok(!harts[1].has(MIP_MSIP));
  assert.equal(clint.read(3 * 4, 4), 0, 'msip beyond the last hart reads 0');
  clint.write(3 * 4, 4, 1); // ignored
});

test('mtimecmp resets to all ones: no timer interrupt until programmed', () => {
  const { clint, harts, clock } = setup();
  clock.t = 1e12;
  clint.update();
  assert.equal(clint.read(CLINT_MTIMECMP, 4), 0xffffffff);
  assert.equal(clint.read(CLINT_MTIMECMP + 4, 4), 0xffffffff);
  assert.ok(!harts[0].has(MIP_MTIP));
  assert.equal(clint.nextDeadline(), Infinity);
});

test('MTIP follows mtime >= mtimecmp per hart, on update() and on writes', () => {
  const { clint, harts, clock } = setup();
  clock.t = 100;
  write64(clint, CLINT_MTIMECMP + 8, 150); // hart 1
  write64(clint, CLINT_MTIMECMP, 120); // hart 0
  assert.ok(!harts[0].has(MIP_MTIP) && !harts[1].has(MIP_MTIP));
  assert.equal(clint.nextDeadline(), 120);
  clock.t = 120;
  clint.update();
  assert.ok(harts[0].has(MIP_MTIP));
  assert.ok(!harts[1].has(MIP_MTIP));
  assert.equal(clint.nextDeadline(), 150, 'reached deadlines no longer count');
  clock.t = 200;
  clint.update();
  assert.ok(harts[1].has(MIP_MTIP));
  assert.equal(clint.nextDeadline(), Infinity);
  // Moving mtimecmp ahead clears MTIP at once (no update() needed).
  write64(clint, CLINT_MTIMECMP, 1000);
  assert.ok(!harts[0].has(MIP_MTIP));
  assert.equal(clint.nextDeadline(), 1000);
});

test('update() only calls the hart when MTIP changes', () => {
  const { clint, harts, clock } = setup(1);
  clint.update();
  const calls = harts[0].calls;
  clint.update();
  clint.update();
  assert.equal(harts[0].calls, calls);
  write64(clint, CLINT_MTIMECMP, 5);
  clock.t = 5;
  clint.update();
  clint.update();
  assert.equal(harts[0].calls, calls + 1);
});

test('mtime reads as two halves and can be written', () => {
  const { clint, clock } = setup(1);
  clock.t = 0x1_2345_6789;
  assert.equal(clint.read(CLINT_MTIME, 4), 0x2345_6789);
  assert.equal(clint.read(CLINT_MTIME + 4, 4), 1);
  assert.equal(clint.mtime(), 0x1_2345_6789);
  write64(clint, CLINT_MTIME, 0x5_0000_0000);
  assert.equal(clint.mtime(), 0x5_0000_0000);
  clock.t += 10;
  assert.equal(clint.mtime(), 0x5_0000_000a);
  // Deadlines are in clock units: mtimecmp = mtime + 90 fires at clock + 90.
  write64(clint, CLINT_MTIMECMP, clint.mtime() + 90);
  assert.equal(clint.nextDeadline(), clock.t + 90);
});

test('byte and half-word accesses read and merge into the 32-bit registers', () => {
  const { clint } = setup(1);
  clint.write(CLINT_MTIMECMP, 4, 0x11223344);
  assert.equal(clint.read(CLINT_MTIMECMP + 1, 1), 0x33);
  assert.equal(clint.read(CLINT_MTIMECMP + 2, 2), 0x1122);
  clint.write(CLINT_MTIMECMP + 3, 1, 0xaa);
  assert.equal(clint.read(CLINT_MTIMECMP, 4), 0xaa223344);
});

test('save/restore round trip keeps msip, mtimecmp and mtime (on a new clock)', () => {
  const a = setup(2);
  a.clock.t = 5000;
  a.clint.write(4, 4, 1);
  write64(a.clint, CLINT_MTIMECMP, 4000); // already due
  write64(a.clint, CLINT_MTIMECMP + 8, 0x1_0000_0000);
  const b = setup(2);
  b.clock.t = 77; // another host's clock
  const state = assertRoundTrip(a.clint, b.clint);
  assert.deepEqual(state.mtimecmp, ['0000000000000fa0', '0000000100000000']);
  assert.equal(state.mtime, '0000000000001388');
  assert.equal(b.clint.mtime(), 5000);
  assert.ok(b.harts[1].has(MIP_MSIP));
  assert.ok(b.harts[0].has(MIP_MTIP));
  assert.ok(!b.harts[1].has(MIP_MTIP));
  assert.equal(b.clint.nextDeadline(), 77 + 0x1_0000_0000 - 5000);
});

test('restore refuses state for another hart count, out-of-range or malformed state, changing nothing', () => {
  const a = setup(2);
  const state = a.clint.saveState();
  assertRefused(setup(3).clint, state, /msip must be a list of 3/);
  const c = setup(2);
  c.clint.write(0, 4, 1);
  write64(c.clint, CLINT_MTIMECMP, 99);
  assertRefused(
    c.clint,
    { ...state, mtimecmp: ['0', '1'] },
    /mtimecmp\[0\] must be a 64-bit value/,
  );
  assertRefused(c.clint, { ...state, msip: [0, 2] }, /msip\[1\] must be an integer from 0 to 1/);
  assertRefused(
    c.clint,
    { ...state, mtime: '0020000000000000' },
    /mtime must be at most 0x1fffffffffffff/,
  );
  assertRefused(c.clint, { ...state, mtime: -1 }, /mtime must be/);
  assert.equal(c.clint.read(0, 4), 1);
  assert.equal(c.clint.read(CLINT_MTIMECMP, 4), 99);
  assertMutationsRefused(c.clint);
});

test('works with real harts through hartIrq', () => {
  const hart = { mip: 0, seipLine: false };
  let wakes = 0;
  const clock = new ManualClock();
  const clint = new Clint([hartIrq(hart, () => wakes++)], clock);
  clint.write(0, 4, 1);
  assert.equal(hart.mip, MIP_MSIP);
  write64(clint, CLINT_MTIMECMP, 0);
  assert.equal(hart.mip, MIP_MSIP | MIP_MTIP);
  assert.equal(wakes, 2);
  assert.throws(() => new Clint([], clock), ClintError);
});
