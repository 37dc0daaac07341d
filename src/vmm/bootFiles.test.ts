// Boot files: read at once for a boot; for a restore, the kernel and initrd only checked at
// start and read when a boot first needs them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootFiles } from './bootFiles.js';
import { GuestFileError } from './kernelFile.js';

function files(): { dir: string; firmware: string; kernel: string; initrd: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bootfiles-'));
  const image = new Uint8Array(4096);
  image.set([0x52, 0x53, 0x43, 0x05], 0x38); // a Linux Image's magic
  const f = {
    dir,
    firmware: join(dir, 'fw.bin'),
    kernel: join(dir, 'Image'),
    initrd: join(dir, 'initrd'),
  };
  writeFileSync(f.firmware, Uint8Array.of(0x73, 0, 0x50, 0x10));
  writeFileSync(f.kernel, image);
  writeFileSync(f.initrd, Uint8Array.of(1, 2, 3));
  return f;
}

test('a boot reads every file at start; a restore reads the kernel and initrd on first boot', async (t) => {
  const f = files();
  t.after(() => rmSync(f.dir, { recursive: true, force: true }));
  const now = BootFiles.open(f, false);
  const deferred = BootFiles.open(f, true);
  rmSync(f.initrd); // gone after the start: only the boot that was opened and read has it
  await now.ready();
  const first = now.forBoot();
  assert.deepEqual(first.initrd, Uint8Array.of(1, 2, 3));
  assert.equal(first.kernel?.length, 4096);
  // A reboot reads the files again (they are not kept once a boot took them).
  assert.throws(() => now.forBoot(), /cannot read the initrd '.*initrd': no such file/);
  const r = deferred.forRestore();
  assert.equal(r.kernel, undefined);
  assert.equal(r.initrd, undefined);
  assert.deepEqual(r.firmware, Uint8Array.of(0x73, 0, 0x50, 0x10));
  assert.throws(() => deferred.forBoot(), /cannot read the initrd '.*initrd': no such file/);
  writeFileSync(f.initrd, Uint8Array.of(4));
  assert.deepEqual(deferred.forBoot().initrd, Uint8Array.of(4));
  writeFileSync(f.initrd, Uint8Array.of(5));
  assert.deepEqual(deferred.forBoot().initrd, Uint8Array.of(5), 'a reboot reads them anew');
});

test('a boot refuses at ready() a kernel it cannot use, and reads a large one whole', async (t) => {
  const f = files();
  t.after(() => rmSync(f.dir, { recursive: true, force: true }));
  writeFileSync(f.kernel, Uint8Array.of(0x1f, 0x8b, 1, 2, 3));
  const bad = BootFiles.open(f, false);
  await assert.rejects(
    bad.ready(),
    /the kernel '.*Image' looks gzip-compressed but does not decompress/,
  );
  // A large kernel: its bytes arrive whole, every page of them.
  const big = new Uint8Array(24 << 20);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i >>> 12) & 0xff;
  big.set([0x52, 0x53, 0x43, 0x05], 0x38);
  writeFileSync(f.kernel, big);
  const files2 = BootFiles.open(f, false);
  await files2.ready();
  const k = files2.forBoot().kernel!;
  assert.equal(k.length, big.length);
  assert.ok(Buffer.from(k.buffer, k.byteOffset, k.length).equals(big), 'the kernel read whole');
});

test('a restore still refuses at start a kernel or initrd it could not read later', (t) => {
  const f = files();
  t.after(() => rmSync(f.dir, { recursive: true, force: true }));
  for (const deferred of [false, true]) {
    assert.throws(
      () => BootFiles.open({ ...f, kernel: join(f.dir, 'missing') }, deferred),
      (e: Error) =>
        e instanceof GuestFileError && /kernel '.*missing': no such file/.test(e.message),
    );
    assert.throws(
      () => BootFiles.open({ ...f, initrd: f.dir }, deferred),
      /cannot read the initrd '.*': it is a directory/,
    );
  }
});
