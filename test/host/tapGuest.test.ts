// Guests with TAP cards through a real daemon (root): the echo guest has no network stack, so
// what is checked is the host's side. Each guest's TAP device is on the bridge, held by its
// VMM (which runs as a UID of its own, no capabilities) and its wrapper alone, described as the
// guest's in `ip link`, and named in the VMM's status with the card's MAC (derived from the
// guest's name unless given; no two TAP cards share one). The device is gone after a stop,
// after kill -9 of the VMM, and after kill -9 of the VMM and its wrapper with no daemon
// running; the next daemon adopts a running guest with its card. A bridge gone since the
// guest was created fails its start with the reason; a daemon that is not root refuses TAP
// cards. The bridges are made by the test with names of its own and removed after.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { echoGuestElf } from '../vmm/echoGuest.js';
import { tapSkipReason } from '../support/netns.js';
import { guestMac, tapDeviceName } from '../../src/host/guestNetwork.js';
import { alive, DaemonProcess, killAndRemove, until, type Json } from './harness.js';

const skip = tapSkipReason();
const dir = mkdtempSync(join(tmpdir(), 'bht-'));
const socket = join(dir, 'api.sock');
const BRIDGE = `bbr${process.pid}`.slice(0, 15);
const GONE = `bbg${process.pid}`.slice(0, 15);
const NOBODY = 65534;
let daemon: DaemonProcess;
let echo: string;

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const sysNet = (dev: string, file = ''): string => join('/sys/class/net', dev, file);

before(async () => {
  if (skip) return;
  echo = echoGuestElf();
  ip('link', 'add', BRIDGE, 'type', 'bridge');
  ip('link', 'set', BRIDGE, 'up');
  daemon = await new DaemonProcess(dir, socket).ready();
});

after(async () => {
  if (daemon) {
    await daemon.stop(); // it removes its cgroup folder
  }
  killAndRemove(dir);
  for (const b of [BRIDGE, GONE]) spawnSync('ip', ['link', 'del', b], { stdio: 'ignore' });
});

/** PIDs of the processes holding a descriptor of TAP device `dev` (the kernel's fdinfo says). */
function holders(dev: string): number[] {
  const found = new Set<number>();
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').includes(`iff:\t${dev}\n`)) {
          found.add(Number(pid));
        }
      } catch {
        // gone
      }
    }
  }
  return [...found].sort((a, b) => a - b);
}

function procStatus(pid: number): { uid: number; ppid: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    uid: Number(/^Uid:\s+(\d+)/m.exec(s)![1]),
    ppid: Number(/^PPid:\s+(\d+)/m.exec(s)![1]),
  };
}

async function create(name: string, network: Record<string, unknown>): Promise<Json> {
  const r = await daemon.api('POST', '/v1/guests', {
    name,
    memory: '32M',
    boot: { firmware: echo },
    network,
  });
  assert.equal(r.status, 201, r.text);
  return r.body.metadata;
}

/** Starts a guest and waits until its status names its card. */
async function start(name: string): Promise<Json> {
  const op = await daemon.act(name, { action: 'start' });
  assert.equal(op.status, 'Success', op.err);
  return until(`the status of ${name}`, async () => {
    const g = await daemon.guest(name);
    return g.status?.net ? g : null;
  });
}

/** The card as the VMM shows it, and its device as the kernel does. */
function checkCard(g: Json): string {
  const dev = tapDeviceName(dir, g.name);
  const { kind, mac, device, bridge } = g.status.net;
  assert.deepEqual(
    { kind, mac, device, bridge },
    { kind: 'tap', mac: g.spec.network.mac, device: dev, bridge: BRIDGE },
  );
  assert.equal(basename(readlinkSync(sysNet(dev, 'master'))), BRIDGE, 'on the bridge');
  assert.equal(Number(readFileSync(sysNet(dev, 'tun_flags'), 'utf8')) & 0x1002, 0x1002, 'TAP');
  assert.equal(readFileSync(sysNet(dev, 'ifalias'), 'utf8').trim(), `berth guest ${g.name}`);
  const vmm = procStatus(g.pid);
  assert.equal(vmm.uid, g.uid);
  assert.notEqual(vmm.uid, 0);
  assert.deepEqual(
    holders(dev),
    [vmm.ppid, g.pid].sort((a, b) => a - b),
    'VMM and wrapper',
  );
  assert.equal(procStatus(vmm.ppid).uid, 0, 'the wrapper is the daemon’s');
  return dev;
}

test(
  'TAP cards: on the bridge, held by the VMM, in its status; gone after stop and kill -9',
  { skip, timeout: 120_000 },
  async () => {
    const t1 = await create('t1', { kind: 'tap', bridge: BRIDGE });
    assert.equal(t1.spec.network.mac, guestMac('t1'), 'derived from the name');
    const mac2 = '52:54:00:aa:bb:02';
    await create('t2', { kind: 'tap', bridge: BRIDGE, mac: mac2.toUpperCase() });
    const clash = await daemon.api('POST', '/v1/guests', {
      name: 't3',
      boot: { firmware: echo },
      network: { kind: 'tap', bridge: BRIDGE, mac: guestMac('t1') },
    });
    assert.equal(clash.status, 409, clash.text);
    assert.match(clash.body.error, /^network\.mac: 52:54:00:.* is the card of guest 't1' already/);

    const g1 = await start('t1');
    const g2 = await start('t2');
    assert.equal(g2.status.net.mac, mac2);
    const dev1 = checkCard(g1);
    const dev2 = checkCard(g2);
    assert.notEqual(dev1, dev2);
    const ports = ip('-o', 'link', 'show', 'master', BRIDGE);
    for (const d of [dev1, dev2]) assert.match(ports, new RegExp(`: ${d}:`));

    assert.equal((await daemon.act('t1', { action: 'stop', force: true })).status, 'Success');
    await until('the TAP device of a stopped guest to go', () => !existsSync(sysNet(dev1)), 5000);

    process.kill(g2.pid, 'SIGKILL');
    await until('t2 crashed', async () => (await daemon.guest('t2')).state === 'crashed', 5000);
    await until('the TAP device of a killed VMM to go', () => !existsSync(sysNet(dev2)), 5000);
  },
);

test(
  'no daemon: kill -9 of the VMM and its wrapper leaves no device; the next daemon adopts cards',
  { skip, timeout: 120_000 },
  async () => {
    const dev = tapDeviceName(dir, 't2');
    const g = await start('t2');
    checkCard(g);
    const wrapper = procStatus(g.pid).ppid;
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    process.kill(g.pid, 'SIGKILL');
    process.kill(wrapper, 'SIGKILL');
    await until('the VMM and its wrapper to end', () => !alive(g.pid) && !alive(wrapper), 5000);
    await until('the TAP device to go with no daemon', () => !existsSync(sysNet(dev)), 5000);

    daemon = await new DaemonProcess(dir, socket).ready();
    assert.equal((await daemon.guest('t2')).state, 'crashed');
    const again = await start('t2');
    checkCard(again);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    daemon = await new DaemonProcess(dir, socket).ready();
    const adopted = await until('t2 adopted with its card', async () => {
      const v = await daemon.guest('t2');
      return v.reason === 'adopted' && v.status?.net ? v : null;
    });
    assert.equal(adopted.pid, again.pid);
    checkCard(adopted);
    assert.equal((await daemon.act('t2', { action: 'stop', force: true })).status, 'Success');
    await until('the TAP device to go', () => !existsSync(sysNet(dev)), 5000);
  },
);

test(
  'a bridge gone since the guest was created: the start fails with the reason',
  { skip, timeout: 60_000 },
  async () => {
    ip('link', 'add', GONE, 'type', 'bridge');
    await create('t4', { kind: 'tap', bridge: GONE });
    ip('link', 'del', GONE);
    const op = await daemon.act('t4', { action: 'start' });
    assert.equal(op.status, 'Failure');
    assert.match(op.err, new RegExp(`network\\.bridge: there is no bridge "${GONE}"`));
    const g = await daemon.guest('t4');
    assert.deepEqual([g.state, g.reason, g.pid], ['stopped', 'start-failed', null]);
    assert.ok(!existsSync(sysNet(tapDeviceName(dir, 't4'))));
  },
);

test('a daemon that is not root refuses TAP cards', { skip, timeout: 60_000 }, async () => {
  const nd = mkdtempSync(join(tmpdir(), 'bhn-'));
  chownSync(nd, NOBODY, NOBODY);
  const asNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
  const d = await new DaemonProcess(nd, join(nd, 'api.sock'), [], asNobody).ready();
  try {
    const tap = await d.api('POST', '/v1/guests', {
      name: 'x',
      network: { kind: 'tap', bridge: BRIDGE },
    });
    assert.equal(tap.status, 400, tap.text);
    assert.match(
      tap.body.error,
      /^network: a tap card needs the daemon to run as root .* runs as UID 65534; use \{"kind": "user"\}/,
    );
    const user = await d.api('POST', '/v1/guests', { name: 'x', network: { kind: 'user' } });
    assert.equal(user.status, 201, user.text);
    assert.equal(user.body.metadata.spec.network.mac, guestMac('x'));
  } finally {
    d.child.kill('SIGKILL');
    await d.exited;
    killAndRemove(nd);
  }
});
