// The guest's handler of a new VM generation: valid shell, ignores every other uevent, and is
// started at boot by the default initramfs and by the root file system of `berth image build`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { START_UEVENT, ueventHandlerScript } from './guestEvents.js';
import { initScript } from './initramfs.js';
import { rcS } from './rootfs.js';

test('the handler is valid shell and leaves every other uevent alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-uevent-'));
  try {
    const path = join(dir, 'uevent');
    writeFileSync(path, ueventHandlerScript(), { mode: 0o755 });
    execFileSync('sh', ['-n', path]);
    const r = spawnSync('/bin/sh', [path], {
      env: { ACTION: 'add', SUBSYSTEM: 'net', PATH: '/nonexistent' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0);
    assert.equal(r.stdout + r.stderr, '', 'nothing done, nothing said');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const h = ueventHandlerScript();
  assert.match(h, /^\[ "\$NEW_VMGENID" = 1 \] \|\| exit 0$/m);
  assert.match(h, /hwclock -s -u/);
  assert.match(h, /devmem \$\(\(base \+ 0x100 \+ i\)\) 8/, 'the MAC from virtio-net config space');
  assert.match(h, /echo "\$dev" >\$drv\/unbind\n\s*echo "\$dev" >\$drv\/bind/);
});

test('the initramfs /init and the image rcS start busybox uevent with the handler', () => {
  assert.equal(START_UEVENT, 'uevent /etc/berth/uevent >/dev/null 2>&1 &');
  const init = initScript();
  assert.ok(init.includes(START_UEVENT));
  assert.ok(init.indexOf(START_UEVENT) < init.indexOf('initramfs ready'), 'before the banner');
  assert.ok(rcS().includes(START_UEVENT));
});
