// mip.SEIP reads as its software-writable bit ORed with the PLIC's supervisor line, but
// CSRRS and CSRRC on mip rewrite the software bit only (privileged spec, 3.1.9). OpenSBI
// passes an IPI on by setting mip.SSIP; done while the line was high, a read-modify-write
// that took the ORed value latched SEIP for good, and the hart took supervisor external
// interrupts without end (a two-hart Debian guest locked up that way).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../bus.js';
import { Ram } from '../ram.js';
import { MIP_SEIP, MIP_SSIP } from './causes.js';
import { Hart } from './hart.js';

const BASE = 0x80000000;
// csrrs x0,mip,t0; csrrc x0,mip,t1; csrr a0,mip; wfi
const PROGRAM = [0x3442a073, 0x34433073, 0x34402573, 0x10500073];

function hartWith(program: number[]): Hart {
  const ram = new Ram(BASE, 1 << 16);
  const code = new Uint8Array(program.length * 4);
  program.forEach((w, i) => new DataView(code.buffer).setUint32(i * 4, w, true));
  ram.write(BASE, code);
  const hart = new Hart(new Bus(ram), { jitThreshold: 0 });
  hart.pc = BigInt(BASE);
  return hart;
}

test('CSRRS and CSRRC on mip keep the PLIC line out of the software SEIP bit', () => {
  const hart = hartWith(PROGRAM);
  hart.regs.set(5, BigInt(MIP_SSIP)); // t0: set SSIP
  hart.regs.set(6, 0n); // t1: clear nothing (a read-modify-write all the same)
  hart.seipLine = true;
  hart.run(2);
  assert.equal(hart.effectiveMip() & (MIP_SEIP | MIP_SSIP), MIP_SEIP | MIP_SSIP);
  hart.seipLine = false;
  hart.run(1);
  assert.equal(Number(hart.regs.get(10)) & (MIP_SEIP | MIP_SSIP), MIP_SSIP);
  assert.equal(hart.mip & MIP_SEIP, 0);
});

test('software can still set and clear mip.SEIP itself', () => {
  const hart = hartWith(PROGRAM);
  hart.regs.set(5, BigInt(MIP_SEIP));
  hart.regs.set(6, 0n);
  hart.run(3);
  assert.equal(Number(hart.regs.get(10)) & MIP_SEIP, MIP_SEIP);
  const clear = hartWith(PROGRAM);
  clear.mip = MIP_SEIP;
  clear.regs.set(5, 0n);
  clear.regs.set(6, BigInt(MIP_SEIP));
  clear.seipLine = true;
  clear.run(3);
  assert.equal(clear.mip & MIP_SEIP, 0);
});
