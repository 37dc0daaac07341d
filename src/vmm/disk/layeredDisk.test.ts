// A layered disk freezes its image into a qcow2 overlay: writes before the freeze stay in the
// frozen file and no later write reaches it; reads see both through the overlay; qemu-img
// (the reference) reads the overlay and its backing chain alike; the frozen image is locked
// read-only and the overlay read-write; a freeze that cannot be made leaves the disk as it was.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOverlays, freezeAll, LayeredDisk } from './layeredDisk.js';
import { openDisk } from './openDisk.js';
import { createQcow2 } from './qcow2Create.js';

const MIB = 1 << 20;

test('a frozen disk keeps what was written before; the overlay takes what comes after', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-layered-'));
  try {
    const base = join(dir, 'base.img');
    writeFileSync(base, new Uint8Array(4 * MIB));
    const d = LayeredDisk.open(base, false);
    d.write(0, new Uint8Array(512).fill(1));
    const overlay = join(dir, 'layer-1.qcow2');
    assert.equal(d.freezeInto(overlay), base);
    assert.equal(d.path, overlay);
    assert.throws(() => openDisk(base, false), /in use: this process .* read-only/);
    d.write(512, new Uint8Array(512).fill(2));
    d.write(0, new Uint8Array(4).fill(3));
    const back = new Uint8Array(1024);
    d.read(0, back);
    assert.deepEqual([...back.subarray(0, 6)], [3, 3, 3, 3, 1, 1]);
    assert.equal(back[512], 2);
    // A second freeze stacks another layer on the first.
    const overlay2 = join(dir, 'layer-2.qcow2');
    assert.equal(d.freezeInto(overlay2), overlay);
    d.write(1024, new Uint8Array(512).fill(4));
    d.close();
    const frozen = readFileSync(base);
    assert.equal(frozen[0], 1, 'the base file has the write before the first freeze');
    assert.equal(frozen[512], 0, 'and none after');
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', '--backing-chain', overlay2]).toString(),
    ) as { filename: string }[];
    assert.deepEqual(
      info.map((i) => i.filename),
      [overlay2, overlay, base],
    );
    const raw = join(dir, 'out.raw');
    execFileSync('qemu-img', ['convert', '-O', 'raw', overlay2, raw]);
    const all = readFileSync(raw);
    assert.deepEqual([...all.subarray(0, 6)], [3, 3, 3, 3, 1, 1]);
    assert.equal(all[512], 2);
    assert.equal(all[1024], 4);
    execFileSync('qemu-img', ['convert', '-O', 'raw', overlay, raw]);
    assert.equal(readFileSync(raw)[1024], 0, 'the middle layer holds the state of its freeze');
    openDisk(base, false).close(); // every lock was released
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an overlay that is not one of this disk is refused and the disk goes on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-layered-'));
  try {
    const base = join(dir, 'base.img');
    const other = join(dir, 'other.img');
    writeFileSync(base, new Uint8Array(MIB));
    writeFileSync(other, new Uint8Array(MIB));
    const foreign = join(dir, 'foreign.qcow2');
    createQcow2(foreign, undefined, { backingFile: other });
    const d = LayeredDisk.open(base, false);
    assert.throws(
      () => d.freezeInto(foreign),
      /is backed by .*other\.img, not by the disk .*base\.img/,
    );
    assert.throws(() => d.freezeInto(base), /is the disk itself/);
    assert.throws(() => d.freezeInto(join(dir, 'no', 'such.qcow2')), /ENOENT|no such/i);
    d.write(0, new Uint8Array(512).fill(7));
    assert.equal(d.path, base);
    d.close();
    assert.equal(readFileSync(base)[0], 7, 'writes still reach the disk itself');
    const ro = LayeredDisk.open(base, true);
    assert.throws(() => ro.freezeInto(join(dir, 'x.qcow2')), /read-only: nothing to freeze/);
    ro.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('freezeAll freezes every disk or none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-layered-'));
  try {
    const [a, b, other] = ['a.img', 'b.img', 'other.img'].map((f) => join(dir, f));
    for (const f of [a, b, other]) writeFileSync(f, new Uint8Array(MIB));
    const foreign = join(dir, 'foreign.qcow2');
    createQcow2(foreign, undefined, { backingFile: other });
    const disks = [LayeredDisk.open(a, false), LayeredDisk.open(b, false)];
    const made = join(dir, 'a-layer.qcow2');
    assert.throws(() => checkOverlays(disks, [made]), /overlays name 1 disks, the guest has 2/);
    assert.throws(
      () => freezeAll(disks, [made, foreign]),
      /^Error: snapshot: disk 1 cannot be frozen: the overlay .*foreign\.qcow2 is backed by/,
    );
    assert.deepEqual(
      disks.map((d) => d.path),
      [a, b],
    );
    assert.equal(existsSync(made), false, 'the overlay made for disk 0 is gone again');
    assert.equal(existsSync(foreign), true, 'an overlay that was there stays');
    disks[0].write(0, new Uint8Array(512).fill(9));
    for (const d of disks) d.close();
    assert.equal(readFileSync(a)[0], 9, 'disk 0 writes to its own file again');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
