// MULH*, DIV* and REM* against BigInt arithmetic and the ISA's rules for
// division by zero and overflow, on extreme and pseudo-random operands.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { divide, mulh, mulhsu, mulhu } from './muldiv.js';
import { IntRegs } from './regs.js';

const M64 = (1n << 64n) - 1n;
const MIN = -(1n << 63n);

function operands(): bigint[] {
  const v = [
    0n,
    1n,
    2n,
    3n,
    7n,
    M64,
    M64 - 1n,
    1n << 63n,
    (1n << 63n) - 1n,
    0xffffffffn,
    1n << 32n,
    1n << 52n,
    (1n << 52n) - 1n,
    M64 - (1n << 52n),
  ];
  let s = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 120; i++) {
    s ^= (s << 13n) & M64;
    s ^= s >> 7n;
    s ^= (s << 17n) & M64;
    v.push(s, s >> BigInt(i % 64));
  }
  return v;
}

function expectDiv(a: bigint, b: bigint, signed: boolean, rem: boolean): bigint {
  const sa = BigInt.asIntN(64, a);
  const sb = BigInt.asIntN(64, b);
  if (b === 0n) return rem ? a : M64;
  if (signed) {
    if (sa === MIN && sb === -1n) return rem ? 0n : BigInt.asUintN(64, MIN);
    return BigInt.asUintN(64, rem ? sa % sb : sa / sb);
  }
  return rem ? a % b : a / b;
}

test('high products and divisions equal BigInt arithmetic', () => {
  const r = new IntRegs();
  const vs = operands();
  for (const a of vs) {
    for (const b of vs.slice(0, 80)) {
      r.x64[1] = BigInt.asIntN(64, a);
      r.x64[2] = BigInt.asIntN(64, b);
      const [al, ah, bl, bh] = [r.x[2], r.x[3], r.x[4], r.x[5]];
      const got = (): bigint => BigInt.asUintN(64, r.x64[3]);
      mulhu(al, ah, bl, bh, r.x, 6);
      assert.equal(got(), (a * b) >> 64n, `mulhu ${a} ${b}`);
      mulh(al, ah, bl, bh, r.x, 6);
      assert.equal(
        got(),
        BigInt.asUintN(64, (BigInt.asIntN(64, a) * BigInt.asIntN(64, b)) >> 64n),
        `mulh ${a} ${b}`,
      );
      mulhsu(al, ah, bl, bh, r.x, 6);
      assert.equal(
        got(),
        BigInt.asUintN(64, (BigInt.asIntN(64, a) * b) >> 64n),
        `mulhsu ${a} ${b}`,
      );
      for (const signed of [false, true]) {
        for (const rem of [false, true]) {
          divide(r.x, r.x64, 6, 2, 4, signed, rem);
          assert.equal(
            got(),
            expectDiv(a, b, signed, rem),
            `${signed ? '' : 'u'}${rem ? 'rem' : 'div'} ${a} ${b}`,
          );
        }
      }
    }
  }
});
