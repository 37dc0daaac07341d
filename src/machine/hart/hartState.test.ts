// Save/restore of the hart (the persistence contract): a program interrupted mid-way, saved,
// restored into a fresh hart on fresh RAM, finishes with the same state as an uninterrupted
// run; wrong-typed, missing, unexpected and out-of-range fields are refused and change nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../bus.js';
import { Ram } from '../ram.js';
import { Hart, StopReason } from './hart.js';
import { restoreState } from '../state/persistent.js';
import type { HartState } from './hartState.js';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
  viaJson,
} from '../../../test/support/persistence.js';

// li a0,0; li a1,1000; loop: addi a0,a0,3; mul a2,a0,a0; fcvt.d.l fa0,a2; fsqrt.d fa1,fa0; addi a1,a1,-1; bnez a1,loop; ebreak
const PROGRAM = [
  0x00000513, 0x3e800593, 0x00350513, 0x02a50633, 0xd2260553, 0x5a0575d3, 0xfff58593, 0xfe0596e3,
  0x00100073,
];

function machine(): { hart: Hart; ram: Ram } {
  const ram = new Ram(0x80000000, 1 << 16);
  const hart = new Hart(new Bus(ram));
  const words = new Uint8Array(PROGRAM.length * 4);
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
  const b = machine();
  assertRoundTrip(a.hart, b.hart);
  assert.equal(b.hart.currentInstret(), 1234, 'minstret goes on from the saved count');
  restoreState(b.ram, a.ram.saveState());
  b.hart.run(4000 - 1234);

  assert.deepEqual(b.hart.saveState(), ref.hart.saveState());
  assert.equal(b.hart.regs.get(10), ref.hart.regs.get(10));
  assert.notEqual(ref.hart.fregs.f64[11], 0);
});

test('every wrong-typed, missing or unexpected field is refused and changes nothing', () => {
  const { hart } = machine();
  hart.run(100);
  const n = assertMutationsRefused(hart);
  assert.ok(n > 150, `${n} changes tried`);
});

test('out-of-range values are refused by name and change nothing', () => {
  const { hart } = machine();
  hart.run(100);
  const good = viaJson(hart.saveState()) as HartState;
  const bad: [Partial<HartState> | Record<string, unknown>, RegExp][] = [
    [
      { x: good.x.map((v, i) => (i === 5 ? 'zz' : v)) },
      /^rv64gc-hart: x\[5\] must be a 64-bit value/,
    ],
    [{ x: good.x.map((v, i) => (i === 0 ? '0000000000000001' : v)) }, /x\[0\] must be 0/],
    [{ x: good.x.slice(1) }, /x must be a list of 32/],
    [{ pc: '1000' }, /pc must be a 64-bit value of 16 lowercase hex digits/],
    [{ pc: '00000000800000AA' }, /pc must be/],
    [{ priv: 2 }, /priv must be 0 \(U\), 1 \(S\) or 3 \(M\)/],
    [{ fflags: 32 }, /fflags must be an integer from 0 to 31/],
    [{ frm: -1 }, /frm must be/],
    [
      { csr: { ...good.csr, mstatus: '0000000100000000' } },
      /csr\.mstatus must be at most 0xffffffff/,
    ],
    [{ csr: { ...good.csr, satp: '5000000000000000' } }, /csr\.satp has mode 5/],
    [{ instret: 'ffffffffffffffff' }, /instret must be at most/],
    [{ reservation: 1 << 16 }, /reservation must be an integer from -1 to 65535/],
    [{ wfi: 0 }, /wfi must be true or false/],
    [
      { pmp: { ...good.pmp, cfg: good.pmp.cfg.map((c, i) => (i === 2 ? 0x60 : c)) } },
      /pmp\.cfg\[2\] 0x60 has reserved bits/,
    ],
    [{ pmp: { ...good.pmp, cfg: good.pmp.cfg.map((c, i) => (i === 2 ? 2 : c)) } }, /W without R/],
    [
      {
        pmp: { ...good.pmp, addr: good.pmp.addr.map((a, i) => (i === 1 ? '0040000000000000' : a)) },
      },
      /pmp\.addr\[1\] must be at most 0x3fffffffffffff/,
    ],
  ];
  for (const [change, message] of bad) assertRefused(hart, { ...good, ...change }, message);
});

test('a hart that ran on goes back to the saved point when restored', () => {
  const a = machine();
  a.hart.run(10);
  const b = machine();
  b.hart.run(2000);
  restoreState(b.hart, viaJson(a.hart.saveState()));
  assert.equal(b.hart.currentInstret(), 10);
  b.hart.run(3990);
  const ref = machine();
  ref.hart.run(4000);
  assert.deepEqual(b.hart.saveState(), ref.hart.saveState());
});
