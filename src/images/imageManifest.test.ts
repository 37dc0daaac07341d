// Tests of reading image.json: an image booted directly needs its initramfs, one that boots
// through U-Boot has none and names U-Boot as its kernel; manifests from before U-Boot (no
// "boot") are direct ones.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ImageError } from './errors.js';
import { readImageManifest } from './imageManifest.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-manifest-'));
after(() => rmSync(dir, { recursive: true, force: true }));
for (const f of ['rootfs.img', 'initrd.gz', 'kernel', 'fw.bin']) writeFileSync(join(dir, f), 'x');
const base = {
  format: 1,
  rootfs: 'rootfs.img',
  kernelPath: join(dir, 'kernel'),
  firmwarePath: join(dir, 'fw.bin'),
  cmdline: 'console=ttyS0 root=/dev/vda rw',
};
const write = (m: object) => writeFileSync(join(dir, 'image.json'), JSON.stringify(m));

test('a manifest without "boot" boots directly, with its initramfs', () => {
  write({ ...base, initrd: 'initrd.gz' });
  const m = readImageManifest(dir);
  assert.equal(m.boot, 'direct');
  assert.equal(m.initrdPath, join(dir, 'initrd.gz'));
  assert.equal(m.rootfsPath, join(dir, 'rootfs.img'));
});

test('an image booted directly without an initramfs is refused', () => {
  write({ ...base, boot: 'direct' });
  assert.throws(
    () => readImageManifest(dir),
    (e: unknown) => e instanceof ImageError && /initrd: Required/.test(e.message),
  );
});

test('an image that boots through U-Boot has no initramfs; a missing U-Boot is named', () => {
  write({ ...base, boot: 'uboot' });
  const m = readImageManifest(dir);
  assert.equal(m.boot, 'uboot');
  assert.equal(m.initrdPath, undefined);
  write({ ...base, boot: 'uboot', kernelPath: join(dir, 'gone.bin') });
  assert.throws(
    () => readImageManifest(dir),
    (e: unknown) => e instanceof ImageError && /boot loader \(U-Boot\) .* is gone/.test(e.message),
  );
  write({ ...base, boot: 'grub' });
  assert.throws(
    () => readImageManifest(dir),
    /boot: Invalid option: expected one of "direct"\|"uboot"/,
  );
});

test("an image's memory is read when it names one; a size in another form is refused", () => {
  write({ ...base, boot: 'uboot', memory: '1G' });
  assert.equal(readImageManifest(dir).memory, '1G');
  write({ ...base, boot: 'uboot' });
  assert.equal(readImageManifest(dir).memory, undefined);
  write({ ...base, boot: 'uboot', memory: 'lots' });
  assert.throws(
    () => readImageManifest(dir),
    (e: unknown) => e instanceof ImageError && /memory: Invalid/.test(e.message),
  );
});
