// The idle trim drops a guest's code caches only after a quiet window and only when they hold
// enough; afterwards the bar follows what the idle guest makes again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as wait } from 'node:timers/promises';
import { Ram } from '../machine/ram.js';
import { IDLE_MS, IdleTrim } from './idleTrim.js';

const BASE = 0x80000000;

function ramWithCode(pages: number): Ram {
  const ram = new Ram(BASE, 8 << 20);
  for (let p = 0; p < pages; p++) ram.codePage(p);
  return ram;
}

test('a quiet window trims caches that hold enough; a busy one or a small cache is left', async () => {
  const trim = new IdleTrim();
  const big = ramWithCode(400);
  const small = ramWithCode(10);
  await trim.idle(big); // the window has not ended yet
  assert.equal(big.codePageCount(), 400);
  await wait(IDLE_MS + 50);
  trim.ran(IDLE_MS); // busy all through
  await trim.idle(big);
  assert.equal(big.codePageCount(), 400, 'a busy window trims nothing');
  await wait(IDLE_MS + 50);
  await trim.idle(small);
  assert.equal(small.codePageCount(), 10, 'too little to be worth a trim');
  await wait(IDLE_MS + 50);
  await trim.idle(big);
  assert.equal(big.codePageCount(), 0, 'trimmed');
  assert.equal(trim.trims, 1);
  assert.ok(trim.trimMs > 0);
});
