// The TAP backend's parts that need no device: interface names, the
// privilege check, executable lookup, start-up errors (missing ip, no
// bridge, not a bridge) and a descriptor handed over that is not the device.
// The TAP device itself, with frames both ways, backpressure and its cleanup,
// is tested in test/integration/tap.test.ts, inside a network namespace.

import { test } from 'node:test';
import { closeSync, openSync } from 'node:fs';
import assert from 'node:assert/strict';
import { MAX_IFNAME } from '../configSchemas.js';
import { TapBackend } from './tap.js';
import {
  checkIfName,
  checkPrivileges,
  defaultTapName,
  findExecutable,
  inheritTap,
  NOT_ROOT_MESSAGE,
  TapError,
} from './tapDevice.js';

const STATUS_ROOT = 'Name:\tnode\nCapEff:\t000001ffffffffff\n';
const STATUS_NO_NET_ADMIN = 'Name:\tnode\nCapEff:\t0000000000000000\n';

test('interface names: default TAP names fit in 15 characters; bad names are refused', () => {
  assert.equal(defaultTapName(1234, 0), 'berth1234-0');
  assert.equal(defaultTapName(4194304, 12), 'berth4194304-12');
  assert.ok(defaultTapName(4194304, 123).length <= MAX_IFNAME);
  for (const ok of ['br0', 'virbr0', 'lxcbr0', 'br-lan.10']) checkIfName(ok, 'bridge');
  for (const bad of ['', 'a'.repeat(16), 'br 0', 'br/0', '..', 'br:0', 'x;rm']) {
    assert.throws(() => checkIfName(bad, 'bridge'), TapError, bad);
  }
});

test('privileges: root with CAP_NET_ADMIN, anything else gets the advice to use --net user', () => {
  checkPrivileges(0, STATUS_ROOT);
  checkPrivileges(0, ''); // no /proc: the kernel has the last word
  assert.throws(() => checkPrivileges(1000, STATUS_ROOT), { message: NOT_ROOT_MESSAGE });
  assert.throws(() => checkPrivileges(undefined, STATUS_ROOT), TapError);
  assert.throws(() => checkPrivileges(0, STATUS_NO_NET_ADMIN), {
    message: '--net tap needs root (CAP_NET_ADMIN); use --net user',
  });
});

test('findExecutable: paths and PATH lookups', () => {
  assert.equal(findExecutable(process.execPath), process.execPath);
  assert.equal(findExecutable('/nonexistent/ip'), null);
  assert.equal(findExecutable('berth-no-such-tool-here'), null);
});

test('TapBackend.start: a missing ip or bridge is a TapError saying what to do', async () => {
  if (process.getuid?.() !== 0) {
    await assert.rejects(TapBackend.start({ bridge: 'br0' }), { message: NOT_ROOT_MESSAGE });
    return;
  }
  await assert.rejects(TapBackend.start({ bridge: 'br0', ip: '/nonexistent/ip' }), {
    message: /ip was not found.*Debian's iproute2 package: apt-get install iproute2/,
  });
  await assert.rejects(TapBackend.start({ bridge: 'berthnobr0' }), {
    message: /there is no bridge "berthnobr0".*ip link add berthnobr0 type bridge/,
  });
  await assert.rejects(
    TapBackend.start({ bridge: 'lo' }),
    /"lo" is a network interface but not a bridge/,
  );
});

test('inheritTap: a descriptor that is not open, or not the TAP device named, is refused', () => {
  assert.throws(() => inheritTap(1000, 'tap0'), {
    message: /^descriptor 1000 is not open: the process that starts the VMM hands it/,
  });
  const fd = openSync('/dev/null', 'r');
  try {
    assert.throws(() => inheritTap(fd, 'tap0'), {
      message: `descriptor ${fd} is not the TAP device tap0 (not a TAP device at all)`,
    });
  } finally {
    closeSync(fd);
  }
});
