// The engines' warm-up program (warmUp.ts): its words are what warmUp.S assembles to, and it
// runs to its final WFI in S-mode at the kernel's addresses, on the interpreter and on
// translated blocks alike, through every kind of trap it was written to take (M-mode, S-mode
// and U-mode ones, delegated or not).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COUNTS_FROM, WARM_UP_BASE, WARM_UP_PROGRAM, warmUpEngines } from './warmUp.js';

const source = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  'src',
  'machine',
  'hart',
  'warmUp.S',
);

test('the warm-up program is warmUp.S as assembled', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-warmup-'));
  try {
    const elf = join(dir, 'warmUp.elf');
    const bin = join(dir, 'warmUp.bin');
    execFileSync('riscv64-linux-gnu-gcc', [
      '-nostdlib',
      '-static',
      '-march=rv64gc_zba_zbb_zbc_zbs',
      '-mabi=lp64d',
      `-Wl,-Ttext=0x${WARM_UP_BASE.toString(16)}`,
      '-Wl,--build-id=none',
      '-Wl,--no-relax',
      '-o',
      elf,
      source,
    ]);
    execFileSync('riscv64-linux-gnu-objcopy', ['-O', 'binary', '-j', '.text', elf, bin]);
    const bytes = readFileSync(bin);
    assert.deepEqual(
      Array.from(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)),
      Array.from(WARM_UP_PROGRAM),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the warm-up runs to its end on both engines, through each kind of trap', () => {
  const plain = warmUpEngines(0);
  const jit = warmUpEngines(1000);
  assert.equal(plain.hart.blocks, null);
  const translated = jit.hart.translatedInstructions - COUNTS_FROM;
  assert.ok(translated > 30_000, `${translated} translated`);
  assert.equal(plain.hart.translatedInstructions, COUNTS_FROM);
  for (const w of [plain, jit]) {
    assert.equal(w.hart.priv, 1, 'ends in S-mode');
    // the WFI after `done`, at the high alias of RAM where kernels run
    assert.equal(w.hart.pc >> 32n, 0xffffffffn);
    // ecall from M and from S, a load access fault (bare) and a load page fault (Sv57): in
    // the passes whose counter (240 down to 1) is a multiple of 16, 15 in each mode
    for (const cause of [11, 9, 5]) assert.equal(w.exceptions.get(cause), 15, `${cause}`);
    // and in S-mode, a load from the ROM's address (a device read in M-mode)
    assert.equal(w.exceptions.get(13), 2 * 15, 'load page faults');
    assert.equal(w.exceptions.get(3), 2 * 15, 'breakpoints');
    // the kernel's 160 rounds: a store page fault and an ecall from U-mode, and a call to an
    // unmapped page, each round; and the S-mode pass's calls into the ROM, which is unmapped
    // there (in M-mode they run it)
    assert.equal(w.exceptions.get(15), 160, 'store page faults');
    assert.equal(w.exceptions.get(8), 160, 'ecalls from U-mode');
    assert.equal(w.exceptions.get(12), 160 + 15, 'instruction page faults');
    assert.ok((w.exceptions.get(2) ?? 0) > 15);
  }
  assert.equal(jit.hart.instret, plain.hart.instret);
  assert.ok(plain.hart.instret - COUNTS_FROM > 60_000, `${plain.hart.instret}`);
  for (let r = 1; r < 32; r++) assert.equal(jit.hart.regs.get(r), plain.hart.regs.get(r), `x${r}`);
});
