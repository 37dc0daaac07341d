// The whole virt board from the command line against QEMU's, with a bare-metal program
// (board/mhello.S with board/console.S, built with Debian's riscv64 gcc) that prints over the UART what it finds:
// `berth run --firmware none --kernel PROGRAM` and `qemu-system-riscv64 -bios none -kernel
// PROGRAM` with the same virtio devices must print the same, as an ELF and as a flat binary;
// a firmware file with a flat kernel places the kernel where QEMU's -bios/-kernel does; two
// images that overlap, and `none` without a kernel, are refused with a clear error.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { berthRun as berth, boardProgram, qemuRun as qemu } from './boardPrograms.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-board-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const elf = boardProgram('mhello', dir);
const bin = join(dir, 'mhello.bin');
const objcopy = spawnSync('riscv64-linux-gnu-objcopy', ['-O', 'binary', elf, bin]);
assert.equal(objcopy.status, 0, String(objcopy.stderr));
const disk = join(dir, 'disk.img');
writeFileSync(disk, '');
truncateSync(disk, 1 << 20);

/** Berth's output must be QEMU's (the CFI query answered by both chips: 'Q'). */
function same(berthOut: string, qemuOut: string): void {
  assert.match(qemuOut, /^hello from M-mode$/m);
  assert.match(qemuOut, /^after CFI query, flash 0x20000040: 0000000000510051$/m);
  assert.equal(berthOut, qemuOut);
  assert.match(berthOut, /^bye$/m);
}

const slotLine = (out: string, n: number): string =>
  new RegExp(`^virtio slot ${n} device: (\\w+)$`, 'm').exec(out)?.[1] ?? 'missing';

test('firmware none, an ELF kernel and default slots: the same console output as QEMU -bios none', () => {
  const b = berth(['--firmware', 'none', '--kernel', elf, '--disk', disk, '--net', 'user']);
  assert.equal(b.status, 0, b.err);
  // QEMU's -device order as Berth places them: disk, network card, rng, power button.
  const q = qemu([
    ...['-bios', 'none', '-kernel', elf],
    ...['-drive', `if=none,id=d0,format=raw,file=${disk}`, '-device', 'virtio-blk-device,drive=d0'],
    ...['-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0'],
    ...['-device', 'virtio-rng-device', '-device', 'virtio-keyboard-device'],
  ]);
  same(b.out, q);
  assert.match(b.out, /^a0 \(hart id\): 0{16}$/m);
  assert.match(b.out, /^device tree magic: 00000000edfe0dd0$/m);
  // Block 2, network 1, rng 4, input 18 in slots 7, 6, 5, 4.
  assert.deepEqual(
    [7, 6, 5, 4, 3].map((n) => Number.parseInt(slotLine(b.out, n), 16)),
    [2, 1, 4, 18, 0],
  );
});

test('a flat binary kernel with slots chosen: the same output as QEMU with bus=virtio-mmio-bus.N', () => {
  const b = berth([
    ...['--firmware', 'none', '--kernel', bin, '--disk', `${disk},slot=1`],
    ...['--rng', 'slot=6', '--power-button', 'none', '--net', 'user,slot=0'],
  ]);
  assert.equal(b.status, 0, b.err);
  const q = qemu([
    ...['-bios', 'none', '-kernel', bin],
    ...['-drive', `if=none,id=d0,format=raw,file=${disk}`],
    ...['-device', 'virtio-blk-device,drive=d0,bus=virtio-mmio-bus.1'],
    ...['-device', 'virtio-rng-device,bus=virtio-mmio-bus.6'],
    ...['-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0,bus=virtio-mmio-bus.0'],
  ]);
  same(b.out, q);
  assert.deepEqual(
    [0, 1, 6, 7].map((n) => Number.parseInt(slotLine(b.out, n), 16)),
    [1, 2, 4, 0],
  );
});

test('a 3 MiB firmware and a flat kernel: the kernel 2 MiB-aligned after it, as QEMU puts it', () => {
  const firmware = join(dir, 'big.bin');
  copyFileSync(bin, firmware);
  truncateSync(firmware, 3 << 20);
  const kernel = join(dir, 'kernel.bin');
  writeFileSync(kernel, new Uint8Array(4096).fill(0x13));
  const b = berth(['--firmware', firmware, '--kernel', kernel, '--rng', 'none']);
  assert.equal(b.status, 0, b.err);
  const q = qemu(['-bios', firmware, '-kernel', kernel]);
  same(b.out.replace(/^virtio slot.*\n/gm, ''), q.replace(/^virtio slot.*\n/gm, ''));
  assert.match(b.out, /^fw_dynamic next_addr: 0000000080400000$/m);
  assert.match(b.out, /^fw_dynamic next_mode: 0{15}1$/m);
});

test('overlapping images and firmware none without a kernel are refused with a clear error', () => {
  const overlap = berth(['--firmware', elf, '--kernel', elf]);
  assert.equal(overlap.status, 2);
  assert.match(
    overlap.err,
    /^berth: the kernel \(0x80000000\.\.0x[0-9a-f]+\) overlaps the firmware \(0x80000000\.\.0x[0-9a-f]+\); the images must lie apart in RAM$/m,
  );
  const none = berth(['--firmware', 'none']);
  assert.equal(none.status, 2);
  assert.match(
    none.err,
    /^berth: firmware: none enters the kernel directly, in M-mode: give a kernel/m,
  );
  const empty = join(dir, 'empty.bin');
  writeFileSync(empty, '');
  assert.match(
    berth(['--firmware', 'none', '--kernel', empty]).err,
    /the kernel '.*empty\.bin' is empty/,
  );
});
