// Tests of the boot-disk pieces: the partition table's fields (read back as the kernel and
// U-Boot read a DOS label), its limits, and extlinux.conf naming the staged kernel and initramfs.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PARTITION_OFFSET, extlinuxConf, mbr, stageBoot, writeMbr } from './bootDisk.js';
import { ImageError } from './errors.js';

test('the MBR holds one bootable Linux partition from 1 MiB to the end of the disk', () => {
  const disk = 128 * 1024 * 1024;
  const b = mbr(disk, 0x1234abcd);
  assert.equal(b.length, 512);
  assert.equal(b.readUInt16LE(510), 0xaa55);
  assert.equal(b.readUInt32LE(440), 0x1234abcd);
  assert.equal(b[446], 0x80, 'bootable');
  assert.equal(b[446 + 4], 0x83, 'Linux');
  assert.equal(b.readUInt32LE(446 + 8), 2048, 'first sector');
  assert.equal(b.readUInt32LE(446 + 12), disk / 512 - 2048, 'sectors');
  assert.ok(
    b.subarray(462, 510).every((x) => x === 0),
    'the other three entries are empty',
  );
  assert.ok(
    b.subarray(0, 440).every((x) => x === 0),
    'no boot code',
  );
});

test('a disk of 1 MiB or less, or of 2 TiB or more, is refused', () => {
  for (const size of [PARTITION_OFFSET, 512, 2 ** 41]) {
    assert.throws(() => mbr(size, 1), ImageError);
  }
});

test('writeMbr changes the first sector only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-mbr-'));
  try {
    const path = join(dir, 'disk.img');
    const data = Buffer.alloc(2 * PARTITION_OFFSET, 0x5a);
    writeFileSync(path, data);
    writeMbr(path, data.length);
    const got = readFileSync(path);
    assert.equal(statSync(path).size, data.length);
    assert.equal(got.readUInt16LE(510), 0xaa55);
    assert.ok(got.subarray(512).equals(data.subarray(512)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stageBoot installs the kernel and initramfs under Debian names and extlinux.conf boots them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-stageboot-'));
  try {
    const kernel = join(dir, 'Image');
    writeFileSync(kernel, 'kernel bytes');
    const spec = { kernelVersion: '6.12.1-riscv64', append: 'console=ttyS0 root=/dev/vda1 rw' };
    await stageBoot(join(dir, 'root'), { ...spec, kernel, initrd: Buffer.from('cpio') });
    const boot = join(dir, 'root', 'boot');
    assert.equal(readFileSync(join(boot, 'vmlinux-6.12.1-riscv64'), 'utf8'), 'kernel bytes');
    assert.equal(readFileSync(join(boot, 'initrd.img-6.12.1-riscv64'), 'utf8'), 'cpio');
    const conf = readFileSync(join(boot, 'extlinux', 'extlinux.conf'), 'utf8');
    assert.equal(conf, extlinuxConf(spec));
    assert.match(conf, /^default berth$/m);
    assert.match(conf, /^label berth$/m);
    assert.match(conf, /^\tlinux \/boot\/vmlinux-6\.12\.1-riscv64$/m);
    assert.match(conf, /^\tinitrd \/boot\/initrd\.img-6\.12\.1-riscv64$/m);
    assert.match(conf, /^\tappend console=ttyS0 root=\/dev\/vda1 rw$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
