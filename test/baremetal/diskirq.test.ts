// A bare-metal program (board/diskirq.S, built with Debian's riscv64 gcc) entered in M-mode
// without firmware drives a virtio-blk disk in virtio-mmio slot 0 and the UART with interrupts
// through the PLIC, on `berth run --firmware none --kernel PROGRAM --disk DISK,slot=0` and on
// `qemu-system-riscv64 -bios none -kernel PROGRAM -device virtio-blk-device,bus=virtio-mmio-bus.0`
// (with `-global virtio-mmio.force-legacy=false`: QEMU 7.2's virtio-mmio is legacy, version 1,
// by default; Berth's is version 2 only). It reads sector 0, written here beforehand, takes a
// line typed on the console by receive interrupts and writes it to sector 1; both must print
// the same (the vendor ID, feature negotiation as xv6 does it, the PLIC's claims) and leave
// the same disk. The one intended difference: after a completion while the device still
// asserts its line, Berth's PLIC has the source pending again (the specification's
// level-triggered gateway), QEMU 7.2's not until the device drives its line again.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { berthRun, boardProgram, qemuRun } from './boardPrograms.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-diskirq-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const elf = boardProgram('diskirq', dir);
const SECTOR0 = 'Berth and QEMU read this from sector 0.\n';
const LINE = 'berth\n';

/** A 1 MiB disk: SECTOR0's text in sector 0, 0xaa in sector 1, zeros after. */
function disk(name: string): string {
  const d = new Uint8Array(1 << 20);
  d.set(Buffer.from(SECTOR0), 0);
  d.fill(0xaa, 512, 1024);
  const path = join(dir, name);
  writeFileSync(path, d);
  return path;
}

const LEVEL = [
  /^PLIC pending after complete, line still asserted: (\w+)$/m,
  /^claim after complete, line still asserted: (\w+)$/m,
];

test('a virtio disk in slot 0 and the UART by interrupts: the same output and disk as on QEMU', () => {
  const bDisk = disk('berth.img');
  const qDisk = disk('qemu.img');
  const b = berthRun(
    [
      ...['--firmware', 'none', '--kernel', elf, '--disk', `${bDisk},slot=0`],
      ...['--rng', 'none', '--power-button', 'none'],
    ],
    LINE,
  );
  assert.equal(b.status, 0, `${b.err}\n${b.out}`);
  const q = qemuRun(
    [
      ...['-bios', 'none', '-kernel', elf, '-global', 'virtio-mmio.force-legacy=false'],
      ...['-drive', `if=none,id=d0,format=raw,file=${qDisk}`],
      ...['-device', 'virtio-blk-device,drive=d0,bus=virtio-mmio-bus.0'],
    ],
    LINE,
  );
  // What QEMU prints, and Berth with it.
  for (const out of [q, b.out]) {
    assert.match(out, /^slot 0 version: 0{15}2$/m);
    assert.match(out, /^slot 0 device ID: 0{15}2$/m);
    assert.match(out, /^slot 0 vendor ID: 00000000554d4551$/m);
    assert.match(out, /^slot 1 \(empty\) vendor ID: 00000000554d4551$/m);
    assert.match(out, /^status after FEATURES_OK with every feature bit: 0{15}b$/m);
    assert.match(out, /^status after FEATURES_OK with no feature: 0{15}b$/m);
    assert.match(out, /^status after FEATURES_OK as xv6 negotiates: 0{15}b$/m);
    assert.match(out, /^claim: 0{15}1$/m);
    assert.match(out, /^PLIC pending after the acknowledgement: 0{16}$/m);
    assert.match(out, /^claim after a completion while disabled: 0{15}1$/m);
    assert.match(out, new RegExp(`^sector 0: ${SECTOR0}`, 'm'));
    assert.match(out, /^IIR at the first UART interrupt \(bit 8: recorded\): 0{13}104$/m);
    assert.match(out, /^got: berth$/m);
    assert.match(out, /^sector 1 written\nbye$/m);
  }
  // The intended difference: a level still asserted after the completion.
  assert.deepEqual(
    LEVEL.map((re) => re.exec(q)?.[1]),
    ['0000000000000000', '0000000000000000'],
  );
  assert.deepEqual(
    LEVEL.map((re) => re.exec(b.out)?.[1]),
    ['0000000000000002', '0000000000000001'],
  );
  const strip = (out: string): string => LEVEL.reduce((o, re) => o.replace(re, ''), out);
  assert.equal(strip(b.out), strip(q));
  // The disks: sector 1 holds what the program wrote, the rest is as it was.
  const expected = new Uint8Array(1 << 20);
  expected.set(Buffer.from(SECTOR0), 0);
  expected.set(Buffer.from(`diskirq wrote: ${LINE}`), 512);
  assert.deepEqual(new Uint8Array(readFileSync(bDisk)), expected);
  assert.deepEqual(new Uint8Array(readFileSync(qDisk)), expected);
});

test("QEMU 7.2's default virtio-mmio is legacy (version 1), Berth's is version 2", () => {
  const b = berthRun(
    ['--firmware', 'none', '--kernel', elf, '--disk', `${disk('b2.img')},slot=0`],
    LINE,
  );
  assert.equal(b.status, 0, b.err);
  const q = qemuRun([
    ...['-bios', 'none', '-kernel', elf],
    ...['-drive', `if=none,id=d0,format=raw,file=${disk('q2.img')}`],
    ...['-device', 'virtio-blk-device,drive=d0,bus=virtio-mmio-bus.0'],
  ]);
  assert.match(q, /^slot 0 version: 0{15}1$/m);
  assert.match(q, /^not the virtio-mmio of version 2: stop$/m);
  assert.match(b.out, /^slot 0 version: 0{15}2$/m);
});
