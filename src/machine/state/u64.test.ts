// The U64 codec: one spelling (16 lowercase hex digits) from halves, Numbers and bigints, and
// back; signed values as two's complement.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  i64ToBigInt,
  i64ToNumber,
  isU64,
  u64FromBigInt,
  u64FromHalves,
  u64FromNumber,
  u64Halves,
  u64ToBigInt,
  u64ToNumber,
} from './u64.js';

test('halves, Numbers and bigints give the same spelling and come back', () => {
  assert.equal(u64FromHalves(0xdeadbeef | 0, 0x12), '00000012deadbeef');
  assert.deepEqual(u64Halves('00000012deadbeef'), [0xdeadbeef | 0, 0x12]);
  assert.equal(u64FromNumber(0x12deadbeef), '00000012deadbeef');
  assert.equal(u64FromBigInt(0x12deadbeefn), '00000012deadbeef');
  assert.equal(u64ToNumber('00000012deadbeef'), 0x12deadbeef);
  assert.equal(u64ToBigInt('ffffffffffffffff'), 2n ** 64n - 1n);
  assert.equal(u64FromNumber(2 ** 63), '8000000000000000', 'large Numbers as they are');
  assert.equal(u64ToNumber(u64FromNumber(2 ** 60 + 2 ** 9)), 2 ** 60 + 2 ** 9);
});

test("signed values are two's complement", () => {
  assert.equal(u64FromNumber(-500), 'fffffffffffffe0c');
  assert.equal(u64FromBigInt(-1n), 'ffffffffffffffff');
  assert.equal(i64ToNumber('fffffffffffffe0c'), -500);
  assert.equal(i64ToBigInt('8000000000000000'), -(2n ** 63n));
  assert.equal(u64FromBigInt(2n ** 64n + 5n), '0000000000000005');
});

test('only exactly 16 lowercase hex digits are a U64', () => {
  for (const bad of [
    '',
    '0',
    'DEADBEEF00000000',
    '0x00000000000001',
    '00000000000000000',
    5,
    null,
  ]) {
    assert.equal(isU64(bad), false, String(bad));
  }
  assert.equal(isU64('0123456789abcdef'), true);
  assert.throws(() => u64FromNumber(1.5), RangeError);
  assert.throws(() => u64FromNumber(-(2 ** 60)), RangeError);
});
