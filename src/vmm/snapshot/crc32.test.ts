import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32, crc32Table } from './crc32.js';

test('crc32: the check value of "123456789", from zlib and from the table alike', () => {
  const b = new TextEncoder().encode('123456789');
  assert.equal(crc32(b), 0xcbf43926);
  assert.equal(crc32Table(b), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('crc32: chained over parts equals the CRC of the whole, both ways', () => {
  const data = randomBytes(100_003);
  const whole = crc32Table(data);
  assert.equal(crc32(data), whole);
  for (const f of [crc32, crc32Table]) {
    assert.equal(f(data.subarray(70_000), f(data.subarray(0, 70_000))), whole);
  }
});
