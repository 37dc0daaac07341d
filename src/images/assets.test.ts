// Tests of ensureDefaultAssets on a signed test archive (offline, file: URL): the metapackage is
// followed, the kernel, firmware, busybox and modules are extracted, the initramfs is built; the
// second run needs no archive; corrupted cache entries are rebuilt; refresh picks up updates.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { xz } from '@napi-rs/lzma';
import { type AssetOptions, ensureDefaultAssets, isRiscvImage } from './assets.js';
import { readCpio } from './cpio.js';
import { ImageError } from './errors.js';
import {
  type FakePackage,
  FakeArchive,
  fakeAssetOptions,
  fakeElf,
  fakeModule,
  fakeRiscvImage,
} from './testSupport.js';

let fake: FakeArchive;
let cacheDir: string;

function packages(kver: string, debver: string): FakePackage[] {
  const mods = `/usr/lib/modules/${kver}`;
  const ko = (name: string, deps: string[]) => ({ data: xz.compressSync(fakeModule(name, deps)) });
  return [
    {
      name: 'linux-image-riscv64',
      version: debver,
      depends: `linux-image-${kver} (= ${debver})`,
    },
    {
      name: `linux-image-${kver}`,
      version: debver,
      depends: 'kmod, initramfs-tools | linux-initramfs-tool',
      files: {
        [`/boot/vmlinux-${kver}`]: { data: fakeRiscvImage(`kernel ${kver}`) },
        [`/boot/config-${kver}`]: { data: 'CONFIG_X=y\n' },
        [`${mods}/kernel/drivers/virtio/virtio_mmio.ko.xz`]: ko('virtio_mmio', []),
        [`${mods}/kernel/drivers/net/virtio_net.ko.xz`]: ko('virtio_net', ['net_failover']),
        [`${mods}/kernel/drivers/net/net_failover.ko.xz`]: ko('net_failover', ['failover']),
        [`${mods}/kernel/net/core/failover.ko.xz`]: ko('failover', []),
        [`${mods}/kernel/drivers/char/hw_random/virtio-rng.ko.xz`]: ko('virtio_rng', []),
        [`${mods}/modules.builtin`]: { data: 'kernel/drivers/block/virtio_blk.ko\n' },
      },
    },
    {
      name: 'opensbi',
      version: '1.6-1',
      arch: 'all',
      files: {
        '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin': { data: 'sbi-bin' },
        '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf': {
          data: fakeElf('sbi-elf'),
          mode: 0o755,
        },
        '/usr/lib/riscv32-linux-gnu/opensbi/generic/fw_dynamic.bin': { data: 'wrong-arch' },
      },
    },
    {
      name: 'busybox-static',
      version: '1:1.37.0-6',
      provides: 'busybox',
      files: { '/usr/bin/busybox': { data: fakeElf('busybox'), mode: 0o755 } },
    },
  ];
}

const MODULES = ['virtio_mmio', 'virtio_net', 'virtio_blk', 'virtio_rng', 'not_there'];

function opts(extra: AssetOptions = {}): AssetOptions {
  return { ...fakeAssetOptions(fake, cacheDir), modules: MODULES, ...extra };
}

before(() => {
  fake = new FakeArchive();
  cacheDir = mkdtempSync(join(tmpdir(), 'berth-assets-'));
  fake.publish({ packages: packages('6.1.0-1-riscv64', '6.1.1-1') });
});
after(() => {
  fake.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

test('first run: fetch, verify, extract, build', async () => {
  const a = await ensureDefaultAssets(opts());
  assert.equal(a.kernelVersion, '6.1.0-1-riscv64');
  assert.equal(a.kernelFormat, 'image');
  assert.ok(isRiscvImage(readFileSync(a.kernelPath)));
  assert.ok(readFileSync(a.kernelPath).includes('kernel 6.1.0-1-riscv64'));
  assert.equal(readFileSync(a.firmwarePath, 'utf8'), 'sbi-bin');
  assert.ok(readFileSync(a.firmwareElfPath).equals(fakeElf('sbi-elf')));
  assert.equal(a.packages.kernel.name, 'linux-image-6.1.0-1-riscv64');
  assert.equal(a.packages.kernelMeta.name, 'linux-image-riscv64');
  assert.equal(a.packages.busybox.version, '1:1.37.0-6');
  assert.equal(a.cmdline, 'console=ttyS0');
  // virtio_blk is built in and not_there does not exist: both are left out quietly.
  assert.deepEqual(a.modules, [
    'virtio_mmio',
    'failover',
    'net_failover',
    'virtio_net',
    'virtio_rng',
  ]);
  const entries = readCpio(gunzipSync(readFileSync(a.initrdPath)));
  const by = new Map(entries.map((e) => [e.path, e]));
  assert.ok(by.get('bin/busybox')?.data?.equals(fakeElf('busybox')));
  assert.ok(
    by
      .get('lib/modules/6.1.0-1-riscv64/kernel/drivers/net/virtio_net.ko')
      ?.data?.equals(fakeModule('virtio_net', ['net_failover'])),
  );
  assert.ok(by.has('lib/modules/6.1.0-1-riscv64/kernel/drivers/char/hw_random/virtio-rng.ko'));
  assert.equal(
    by.get('etc/berth/modules')?.data?.toString().split('\n')[0],
    'kernel/drivers/virtio/virtio_mmio.ko',
  );
});

test('second run: no archive needed, same files', async () => {
  const first = await ensureDefaultAssets(opts());
  const moved = fake.root + '.away';
  renameSync(fake.root, moved);
  try {
    const second = await ensureDefaultAssets(opts({ mirror: 'http://127.0.0.1:9/unreachable' }));
    assert.deepEqual(second, first);
  } finally {
    renameSync(moved, fake.root);
  }
});

test('corrupted cache entries are rebuilt from the cached package or fetched again', async () => {
  const first = await ensureDefaultAssets(opts());
  writeFileSync(first.kernelPath, 'garbage');
  writeFileSync(first.initrdPath, 'garbage');
  const fixed = await ensureDefaultAssets(opts());
  assert.equal(fixed.kernelPath, first.kernelPath);
  assert.ok(isRiscvImage(readFileSync(fixed.kernelPath)));
  assert.equal(fixed.initrdPath, first.initrdPath);
  assert.ok(readCpio(gunzipSync(readFileSync(fixed.initrdPath))).length > 10);
});

test('asking for another module set re-reads the kernel package', async () => {
  const a = await ensureDefaultAssets(opts({ modules: ['virtio_mmio'] }));
  assert.deepEqual(a.modules, ['virtio_mmio']);
  const b = await ensureDefaultAssets(opts({ modules: [] }));
  assert.deepEqual(b.modules, []);
  assert.notEqual(a.initrdPath, b.initrdPath);
});

test('refresh picks up a newer kernel; without it the cached set stays', async () => {
  fake.publish({ packages: packages('6.1.0-2-riscv64', '6.1.2-1') });
  try {
    assert.equal((await ensureDefaultAssets(opts())).kernelVersion, '6.1.0-1-riscv64');
    const r = await ensureDefaultAssets(opts({ refresh: true }));
    assert.equal(r.kernelVersion, '6.1.0-2-riscv64');
    assert.equal(r.packages.kernelMeta.version, '6.1.2-1');
    assert.equal((await ensureDefaultAssets(opts())).kernelVersion, '6.1.0-2-riscv64');
  } finally {
    fake.publish({ packages: packages('6.1.0-1-riscv64', '6.1.1-1') });
  }
});

test('an empty cache and no archive is a clear error', async () => {
  await assert.rejects(
    ensureDefaultAssets(
      opts({ cacheDir: join(cacheDir, 'empty'), mirror: 'file:///nonexistent/debian' }),
    ),
    (e: unknown) =>
      e instanceof ImageError &&
      /InRelease|Release/.test(e.message) &&
      /--suite|--mirror/.test(e.message),
  );
});
