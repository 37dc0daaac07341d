// The virt board's CFI flash banks against QEMU's: a bare-metal program (board/flash.S, built
// with Debian's riscv64 gcc) entered in M-mode without firmware drives both empty banks
// through the Intel/Sharp command set (IDs, the query table, status, program, erase, buffered
// write, an 8-byte store while programming, lock, an unknown command), calls code it programmed
// there, resets the board and reads what the banks kept; `berth run --firmware none` must print what
// `qemu-system-riscv64 -bios none` prints.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { berthRun, boardProgram, qemuRun } from './boardPrograms.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-flash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the flash banks answer as QEMU’s, and keep what was programmed across a reset', () => {
  const elf = boardProgram('flash', dir);
  const b = berthRun(['--firmware', 'none', '--kernel', elf, '--rng', 'none']);
  assert.equal(b.status, 0, b.err);
  const q = qemuRun(['-bios', 'none', '-kernel', elf]);
  assert.match(q, /^ID 0: 0{10}890089$/m);
  assert.match(q, /^5152590100310000$/m, 'QRY and the Intel command set');
  assert.match(q, /^after the reset\n0x1000: 0{12}ffff\n0x40000: 0{8}ffffffff\n/m);
  assert.match(q, /^called in the flash: 0{13}123$/m);
  assert.match(q, /^bye$/m);
  assert.equal(b.out, q);
});
