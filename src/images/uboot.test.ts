// Tests of ensureUBoot on a signed test archive (offline, file: URL): u-boot-qemu (an "all"
// package holding other boards' builds too) is fetched only when asked for, its S-mode riscv64
// u-boot.bin extracted and cached with its version; the second call needs no archive; refresh
// picks up a newer package; a package without the S-mode build, or a file that is not U-Boot,
// is a clear error.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AssetOptions } from './assets.js';
import { ImageError } from './errors.js';
import { type FakePackage, FakeArchive, fakeAssetOptions } from './testSupport.js';
import { UBOOT_PATH, ensureUBoot, ubootVersion } from './uboot.js';

let fake: FakeArchive;
let cacheDir: string;

/** A stand-in for u-boot.bin: code bytes around the banner string U-Boot carries. */
function fakeUBoot(version: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x97, 0x02, 0x00, 0x00]),
    Buffer.from(`\0U-Boot ${version} (Jun 24 2026 - 09:07:15 +0000)\0`, 'latin1'),
  ]);
}

function ubootPackage(version: string, files?: FakePackage['files']): FakePackage {
  return {
    name: 'u-boot-qemu',
    version,
    arch: 'all',
    files: files ?? {
      '/usr/lib/u-boot/qemu-riscv64/u-boot.bin': { data: fakeUBoot('M-mode') },
      [UBOOT_PATH]: { data: fakeUBoot(version) },
      '/usr/lib/u-boot/qemu_arm64/u-boot.bin': { data: fakeUBoot('arm64') },
    },
  };
}

function opts(extra: AssetOptions = {}): AssetOptions {
  return { ...fakeAssetOptions(fake, cacheDir), ...extra };
}

before(() => {
  fake = new FakeArchive();
  cacheDir = mkdtempSync(join(tmpdir(), 'berth-uboot-'));
  fake.publish({ packages: [ubootPackage('2025.01-3')] });
});
after(() => {
  fake.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

test('ubootVersion reads the banner; other files have none', () => {
  assert.equal(ubootVersion(fakeUBoot('2025.01-3+deb13u1')), '2025.01-3+deb13u1');
  assert.equal(ubootVersion(Buffer.from('OpenSBI v1.6')), undefined);
});

test('fetches the S-mode build out of the package, then serves it from the cache', async () => {
  const u = await ensureUBoot(opts());
  assert.ok(readFileSync(u.path).equals(fakeUBoot('2025.01-3')));
  assert.equal(u.version, '2025.01-3');
  assert.equal(u.package.name, 'u-boot-qemu');
  assert.equal(u.package.version, '2025.01-3');
  const moved = fake.root + '.away';
  renameSync(fake.root, moved);
  try {
    assert.deepEqual(await ensureUBoot(opts({ mirror: 'http://127.0.0.1:9/unreachable' })), u);
  } finally {
    renameSync(moved, fake.root);
  }
});

test('refresh picks up a newer package; without it the cached one stays', async () => {
  await ensureUBoot(opts());
  fake.publish({ packages: [ubootPackage('2025.04-1')] });
  try {
    assert.equal((await ensureUBoot(opts())).version, '2025.01-3');
    const r = await ensureUBoot(opts({ refresh: true }));
    assert.equal(r.version, '2025.04-1');
    assert.ok(readFileSync(r.path).equals(fakeUBoot('2025.04-1')));
  } finally {
    fake.publish({ packages: [ubootPackage('2025.01-3')] });
  }
});

test('a package without the S-mode riscv64 build, or with a file that is not U-Boot, is refused', async () => {
  const cases: [FakePackage['files'], RegExp][] = [
    [{ '/usr/lib/u-boot/qemu-riscv64/u-boot.bin': { data: fakeUBoot('x') } }, /has no .*smode/],
    [{ [UBOOT_PATH]: { data: 'not a boot loader' } }, /not a U-Boot binary/],
  ];
  for (const [files, message] of cases) {
    fake.publish({ packages: [ubootPackage('2025.01-9', files)] });
    try {
      await assert.rejects(
        ensureUBoot(opts({ cacheDir: mkdtempSync(join(cacheDir, 'bad-')) })),
        (e: unknown) => e instanceof ImageError && message.test(e.message),
      );
    } finally {
      fake.publish({ packages: [ubootPackage('2025.01-3')] });
    }
  }
});
