// The virt board's CFI flash banks against QEMU's: a bare-metal program (board/flash.S, built
// with Debian's riscv64 gcc) entered in M-mode without firmware drives both empty banks
// through the Intel/Sharp command set (IDs, the query table, status, program, erase, buffered
// write, an 8-byte store while programming, lock, an unknown command), calls code it programmed
// there, resets the board and reads what the banks kept; `berth run --firmware none` must print what
// `qemu-system-riscv64 -bios none` prints. Then with images in the banks (`--flash IMAGE`,
// QEMU's `-drive if=pflash`): board/flashboot.S in bank 0 runs from there, programs bank 1
// and prints the same as on QEMU, and bank 1's image holds the same after; with bank 1
// read-only, programs and erases fail the same way and the image is left alone.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** A 32 MiB flash image holding `bytes` at its start and 16 bytes of 0x11 at 0x80000. */
function image(name: string, bytes: Uint8Array = new Uint8Array(0)): string {
  const b = new Uint8Array(32 << 20);
  b.set(bytes);
  b.fill(0x11, 0x80000, 0x80010);
  const path = join(dir, name);
  writeFileSync(path, b);
  return path;
}

test('images in the banks: the program in bank 0 runs and writes bank 1, as on QEMU', () => {
  const elf = boardProgram('flashboot', dir);
  const bin = join(dir, 'flashboot.bin');
  const objcopy = spawnSync('riscv64-linux-gnu-objcopy', ['-O', 'binary', elf, bin]);
  assert.equal(objcopy.status, 0, String(objcopy.stderr));
  const code = readFileSync(bin);
  for (const ro of [false, true]) {
    const [b0, b1, q0, q1] = ['b0', 'b1', 'q0', 'q1'].map((n, i) =>
      image(`${n}.img`, i % 2 === 0 ? code : undefined),
    );
    const b = berthRun([
      ...['--firmware', 'none', '--rng', 'none', '--power-button', 'none'],
      ...['--flash', b0, '--flash', ro ? `${b1},ro` : b1],
    ]);
    assert.equal(b.status, 0, b.err);
    const q = qemuRun([
      ...['-bios', 'none', '-drive', `if=pflash,unit=0,format=raw,file=${q0}`],
      ...['-drive', `if=pflash,unit=1,format=raw,file=${q1}${ro ? ',readonly=on' : ''}`],
    ]);
    assert.match(q, /^running from flash\npc: 0{8}20000004$/m);
    assert.match(q, ro ? /^status after erasing: 0{10}a000a0$/m : /^bank 1 0x204: 0{8}0badc0de$/m);
    assert.equal(b.out, q);
    const [bank0, bank1] = [readFileSync(b0), readFileSync(b1)];
    assert.ok(bank0.equals(readFileSync(q0)) && bank0.subarray(0, code.length).equals(code));
    assert.ok(bank1.equals(readFileSync(q1)), `bank 1 as QEMU left it (read-only: ${ro})`);
    assert.equal(bank1.readUInt32LE(0x100), ro ? 0 : 0x12345678);
    assert.equal(bank1[0x80000], ro ? 0x11 : 0xff);
  }
});
