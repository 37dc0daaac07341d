// The C library's memory calls on a wasm memory as guest RAM is one: huge pages where the host
// gives them on advice, and pages given back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostMemory } from './hostMemory.js';

/** The host's transparent huge page mode: always, madvise or never (null: no THP). */
function thpMode(): string | null {
  try {
    return /\[(\w+)\]/.exec(
      readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'),
    )![1];
  } catch {
    return null;
  }
}

/** AnonHugePages of this process, in KiB. */
function anonHugeKiB(): number {
  return Number(/AnonHugePages:\s+(\d+)/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))![1]);
}

test('hugePages: RAM advised and then written is backed by huge pages; dontNeed gives it back', async (t) => {
  const mem = await hostMemory();
  if (mem === null) return t.skip('no glibc');
  const mode = thpMode();
  if (mode !== 'madvise' && mode !== 'always') return t.skip(`transparent huge pages: ${mode}`);
  const memory = new WebAssembly.Memory({ initial: 1024, maximum: 1024 }); // 64 MiB
  const ram = new Uint8Array(memory.buffer);
  const before = anonHugeKiB();
  assert.equal(mem.hugePages(ram), true);
  ram.fill(1, 16 << 20, 48 << 20); // 32 MiB: 15 or 16 whole 2 MiB pages
  const after = anonHugeKiB();
  // Most of them at least (a host short of free 2 MiB blocks gives 4 KiB pages instead).
  assert.ok(after - before >= 8 * 2048, `AnonHugePages grew by ${after - before} KiB`);
  assert.equal(mem.dontNeed(ram.subarray(16 << 20, 48 << 20)), true);
  assert.equal(ram[20 << 20], 0, 'reads as zero once given back');
  assert.ok(anonHugeKiB() <= before + 2048, 'and holds no huge pages any more');
  assert.equal(mem.hugePages(ram.subarray(1)), false, 'an unaligned start is refused');
});
