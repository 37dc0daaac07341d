// Save/restore round trip of the hart: a program interrupted mid-way, saved,
// restored into a fresh hart on fresh RAM, finishes with the same state as an
// uninterrupted run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../bus.js';
import { Ram } from '../ram.js';
import { Hart, StopReason } from './hart.js';

// li a0,0; li a1,1000; loop: addi a0,a0,3; mul a2,a0,a0; fcvt.d.l fa0,a2; fsqrt.d fa1,fa0; addi a1,a1,-1; bnez a1,loop; ebreak
const PROGRAM = [
  0x00000513, 0x3e800593, 0x00350513, 0x02a50633, 0xd2260553, 0x5a0575d3, 0xfff58593, 0xfe0596e3,
  0x00100073,
];

function machine(): { hart: Hart; ram: Ram } {
  const ram = new Ram(0x80000000, 1 << 16);
  const hart = new Hart(new Bus(ram));
  const words = new Uint8Array(PROGRAM.length * 4);
  new DataView(words.buffer).setUint32(0, 0, true);
  PROGRAM.forEach((w, i) => new DataView(words.buffer).setUint32(i * 4, w, true));
  ram.write(0x80000000, words);
  hart.pc = 0x80000000n;
  hart.mstatus |= 1 << 13; // FS = Initial
  hart.mtvecLo = 0x80000000 + PROGRAM.length * 4 - 4; // ebreak traps to itself; we stop by budget
  return { hart, ram };
}

test('a hart restored from a snapshot continues exactly where the original was', () => {
  const ref = machine();
  assert.equal(ref.hart.run(4000), StopReason.Budget);

  const a = machine();
  a.hart.run(1234);
  const snap = JSON.parse(JSON.stringify(a.hart.save()));
  const b = machine();
  b.hart.restore(snap);
  b.ram.u8.set(a.ram.u8);
  b.hart.run(4000 - 1234);

  assert.deepEqual(b.hart.save(), ref.hart.save());
  assert.equal(b.hart.regs.get(10), ref.hart.regs.get(10));
  assert.notEqual(ref.hart.fregs.f64[11], 0);
});

test('a malformed snapshot is refused and changes nothing', () => {
  const { hart } = machine();
  hart.run(100);
  const before = hart.save();
  const bad = { ...before, x: before.x.map((v, i) => (i === 5 ? 'zz' : v)) };
  assert.throws(() => hart.restore(bad), /x5 must be 16 hex digits/);
  assert.deepEqual(hart.save(), before);
});
