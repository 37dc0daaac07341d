// Tests of the default initramfs layout: busybox and applet links, device nodes, /init, modules
// in dependency order, and a gzip stream the kernel can unpack.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { readCpio } from './cpio.js';
import {
  buildInitramfs,
  initScript,
  type KernelModule,
  moduleLoadOrder,
  READY_BANNER,
} from './initramfs.js';
import {
  GENERATION_ACPI_MAP,
  GENERATION_ACPID_CONF,
  generationActions,
  generationHandlerScript,
} from './guestEvents.js';
import { fakeElf } from './testSupport.js';

const BUSYBOX = fakeElf('busybox');
const mod = (name: string, path: string, depends: string[]): KernelModule => ({
  name,
  path,
  depends,
  data: Buffer.from(name),
});
const MODULES = [
  mod('virtio_net', 'kernel/drivers/net/virtio_net.ko', ['net_failover']),
  mod('net_failover', 'kernel/drivers/net/net_failover.ko', ['failover']),
  mod('failover', 'kernel/net/core/failover.ko', []),
  mod('virtio_mmio', 'kernel/drivers/virtio/virtio_mmio.ko', []),
];

test('layout: busybox, applets, device nodes, /init', () => {
  const entries = readCpio(gunzipSync(buildInitramfs({ busybox: BUSYBOX })));
  const by = new Map(entries.map((e) => [e.path, e]));
  assert.ok(by.get('bin/busybox')?.data?.equals(BUSYBOX));
  assert.equal(by.get('bin/busybox')?.mode, 0o755);
  for (const a of [
    'sh',
    'mount',
    'poweroff',
    'reboot',
    'date',
    'sha256sum',
    'cat',
    'echo',
    'ls',
    'uname',
    'dd',
    'setsid',
    'cttyhack',
  ]) {
    assert.equal(by.get(`bin/${a}`)?.linkTarget, 'busybox', a);
  }
  assert.deepEqual(
    [by.get('dev/console')?.type, by.get('dev/console')?.major, by.get('dev/console')?.minor],
    ['chardev', 5, 1],
  );
  assert.deepEqual(
    [by.get('dev/null')?.type, by.get('dev/null')?.major, by.get('dev/null')?.minor],
    ['chardev', 1, 3],
  );
  const init = by.get('init');
  assert.equal(init?.mode, 0o755);
  const text = init?.data?.toString() ?? '';
  assert.match(text, /^#!\/bin\/sh\n/);
  assert.match(text, /mount -t proc proc \/proc/);
  assert.match(text, /mount -t sysfs sysfs \/sys/);
  assert.match(text, /mount -t devtmpfs devtmpfs \/dev/);
  assert.ok(text.includes(READY_BANNER));
  assert.match(text, /setsid cttyhack sh/);
  assert.match(text, /poweroff -f/);
  assert.equal(by.get('tmp')?.mode, 0o1777);
  // Parents come before children, as the kernel's unpacker needs.
  const seen = new Set<string>();
  for (const e of entries) {
    const parent = e.path.split('/').slice(0, -1).join('/');
    if (parent) assert.ok(seen.has(parent), `${e.path} after its parent`);
    seen.add(e.path);
  }
});

test('the archive is the same bytes from run to run', () => {
  assert.ok(buildInitramfs({ busybox: BUSYBOX }).equals(buildInitramfs({ busybox: BUSYBOX })));
});

test('modules: files, modules.dep, and a load list with dependencies first', () => {
  assert.deepEqual(
    moduleLoadOrder(MODULES, ['virtio_net', 'virtio_mmio', 'absent']).map((m) => m.name),
    ['failover', 'net_failover', 'virtio_net', 'virtio_mmio'],
  );
  const entries = readCpio(
    gunzipSync(buildInitramfs({ busybox: BUSYBOX, modules: MODULES, kernelVersion: '6.1.0-test' })),
  );
  const by = new Map(entries.map((e) => [e.path, e]));
  assert.equal(
    by.get('lib/modules/6.1.0-test/kernel/drivers/net/virtio_net.ko')?.data?.toString(),
    'virtio_net',
  );
  const dep = by.get('lib/modules/6.1.0-test/modules.dep')?.data?.toString() ?? '';
  assert.match(
    dep,
    /^kernel\/drivers\/net\/virtio_net\.ko: kernel\/drivers\/net\/net_failover\.ko kernel\/net\/core\/failover\.ko$/m,
  );
  assert.match(dep, /^kernel\/drivers\/virtio\/virtio_mmio\.ko:$/m);
  assert.equal(
    by.get('etc/berth/modules')?.data?.toString(),
    'kernel/net/core/failover.ko\nkernel/drivers/net/net_failover.ko\nkernel/drivers/net/virtio_net.ko\nkernel/drivers/virtio/virtio_mmio.ko\n',
  );
});

test("the handler of a new VM generation and acpid's map, table and actions are in it", () => {
  const entries = readCpio(gunzipSync(buildInitramfs({ busybox: BUSYBOX })));
  const by = new Map(entries.map((e) => [e.path, e]));
  const h = by.get('etc/berth/generation');
  assert.equal(h?.mode, 0o755);
  assert.equal(h?.data?.toString(), generationHandlerScript());
  assert.equal(by.get('etc/acpi.map')?.data?.toString(), GENERATION_ACPI_MAP);
  assert.equal(by.get('etc/acpid.conf')?.data?.toString(), GENERATION_ACPID_CONF);
  // The kernel makes no parent folders while it unpacks: each comes before what it holds.
  const at = (p: string): number => entries.findIndex((e) => e.path === p);
  for (const a of generationActions()) {
    assert.equal(by.get(a.path)?.mode, 0o755);
    assert.equal(by.get(a.path)?.data?.toString(), a.script);
    assert.ok(at('etc/acpi') < at('etc/acpi/berth') && at('etc/acpi/berth') < at(a.path));
  }
  assert.equal(by.has('etc/berth/uevent'), false);
});

test('a script replaces the interactive shell', () => {
  const entries = readCpio(gunzipSync(buildInitramfs({ busybox: BUSYBOX, script: 'echo hi' })));
  const script = entries.find((e) => e.path === 'etc/berth/script');
  assert.equal(script?.data?.toString(), '#!/bin/sh\necho hi\n');
  assert.equal(script?.mode, 0o755);
});

test('/init is valid shell syntax', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-init-'));
  try {
    writeFileSync(join(dir, 'init'), initScript());
    execFileSync('sh', ['-n', join(dir, 'init')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
