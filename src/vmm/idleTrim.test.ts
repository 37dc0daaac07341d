// The idle trim drops a guest's code caches only after a quiet window and only when they hold
// enough; afterwards the bar follows what the idle guest makes again. A busy guest's block
// cache that filled and emptied itself is collected after the slice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as wait } from 'node:timers/promises';
import { Ram } from '../machine/ram.js';
import { Bus } from '../machine/bus.js';
import { Hart } from '../machine/hart/hart.js';
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

test('a slice in which the block cache filled and emptied itself is followed by a collection', async () => {
  const ram = new Ram(BASE, 1 << 20);
  const hart = new Hart(new Bus(ram), { jitThreshold: 1, jitSynchronous: true });
  // Sixteen loops one after the other (li a1,100; a1 -= 1 until zero; then the next), each a
  // block or two: more than a cache of four holds.
  const program: number[] = [];
  for (let k = 0; k < 16; k++) program.push(0x06400593, 0xfff58593, 0xfe059ee3);
  program.push(0x10500073); // wfi
  const bytes = new Uint8Array(program.length * 4);
  program.forEach((w, i) => new DataView(bytes.buffer).setUint32(i * 4, w, true));
  ram.write(BASE, bytes);
  hart.pc = BigInt(BASE);
  hart.blocks!.maxBlocks = 4;
  const trim = new IdleTrim();
  await trim.afterSlice(ram);
  assert.equal(trim.trims, 0, 'nothing to collect before a reset');
  // In slices: one ends wherever the budget runs short of a whole block, and the
  // interpreter's next entry point there asks for a block of its own.
  for (let i = 0; i < 1000 && !hart.wfi; i++) hart.run(300);
  assert.ok(hart.wfi, hart.lastError ?? 'the program did not reach its WFI');
  assert.ok(hart.blocks!.resets >= 1, `${hart.blocks!.resets} resets`);
  await trim.afterSlice(ram);
  assert.equal(trim.trims, 1);
  await trim.afterSlice(ram);
  assert.equal(trim.trims, 1, 'one collection for the resets of one slice');
  assert.ok(ram.codePageCount() >= 1, 'the decode arrays stay');
});
