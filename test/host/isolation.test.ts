// Each VMM's cgroup and user, against the real kernel (needs root and cgroups; skipped
// otherwise): a busy guest with twice the CPU weight of another gets about twice the CPU when
// both share one core; a guest whose VMM passes its cgroup memory limit is killed alone and
// marked crashed; each VMM runs as a UID of its own that can open its own disk but not another
// guest's, nor the daemon's state; disks are given back when the guest stops; a disk the VMM
// could not reach is refused with a clear message and nothing changes.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { echoGuestElf } from '../vmm/echoGuest.js';
import { asUser, DaemonProcess, processesMentioning, sleep, until, type Json } from './harness.js';

const root = process.getuid?.() === 0;
const skip = root ? false : 'needs root (cgroups and other users)';
const dir = mkdtempSync(join(tmpdir(), 'bhi-'));
const socket = join(dir, 'api.sock');
const disks = join(dir, 'disks');
let daemon: DaemonProcess;
let echo: string;

before(async () => {
  if (!root) return;
  echo = echoGuestElf();
  mkdirSync(disks);
  chmodSync(dir, 0o711); // VMMs may pass to the disks, not list them
  chmodSync(disks, 0o711);
  daemon = await new DaemonProcess(dir, socket).ready();
});

after(async () => {
  if (daemon) {
    await daemon.stop();
  }
  for (const p of processesMentioning(dir)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

async function startEcho(name: string, extra: Record<string, unknown> = {}): Promise<Json> {
  const c = await daemon.api('POST', '/v1/guests', {
    name,
    memory: '32M',
    boot: { firmware: echo },
    ...extra,
  });
  assert.equal(c.status, 201, c.text);
  const op = await daemon.act(name, { action: 'start' });
  assert.equal(op.status, 'Success', op.err);
  return daemon.guest(name);
}

const cgroupFile = (g: Json, file: string): string => {
  const d = (g.cgroup.dirs as string[]).find((x) => {
    try {
      statSync(join(x, file));
      return true;
    } catch {
      return false;
    }
  });
  assert.ok(d, `a cgroup folder of ${g.name} has ${file}`);
  return join(d, file);
};

test(
  'twice the CPU weight gets about twice the CPU on a shared core',
  { skip, timeout: 120_000 },
  async () => {
    const heavy = await startEcho('w200', { cpuWeight: 200 });
    const light = await startEcho('w100', { cpuWeight: 100 });
    assert.equal(readFileSync(cgroupFile(heavy, 'cpu.shares'), 'utf8').trim(), '2048');
    assert.equal(readFileSync(cgroupFile(light, 'cpu.shares'), 'utf8').trim(), '1024');
    for (const g of [heavy, light]) {
      const t = spawnSync('taskset', ['-a', '-p', '-c', '0', String(g.pid)], { encoding: 'utf8' });
      assert.equal(t.status, 0, t.stderr);
    }
    await sleep(1000);
    const usage = (g: Json): number => Number(readFileSync(cgroupFile(g, 'cpuacct.usage'), 'utf8'));
    const h0 = usage(heavy);
    const l0 = usage(light);
    await sleep(10_000);
    const h = usage(heavy) - h0;
    const l = usage(light) - l0;
    const ratio = h / l;
    process.stderr.write(
      `# cpu over 10 s: weight 200 ${(h / 1e9).toFixed(2)} s, weight 100 ${(l / 1e9).toFixed(2)} s, ratio ${ratio.toFixed(2)}\n`,
    );
    assert.ok(ratio > 1.5 && ratio < 2.7, `ratio ${ratio}`);
    for (const n of ['w200', 'w100']) await daemon.act(n, { action: 'stop', force: true });
  },
);

test(
  'a VMM past its cgroup memory limit is killed alone and marked crashed',
  { skip, timeout: 120_000 },
  async () => {
    const calm = await startEcho('calm');
    const hog = await startEcho('hog', { memory: '64M', vmmMemoryLimit: '64M' });
    const limit = Number(readFileSync(cgroupFile(hog, 'memory.limit_in_bytes'), 'utf8'));
    assert.equal(limit, 64 << 20);
    const ws = new WebSocket(`ws+unix://${socket}:/v1/guests/hog/console`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(Buffer.from([0x14])); // Ctrl-T: touch 56 MiB of guest RAM
    const g = await until(
      'the hog to be marked crashed',
      async () => {
        const v = await daemon.guest('hog');
        return v.state === 'crashed' ? v : null;
      },
      60_000,
      100,
    );
    ws.close();
    assert.equal(g.reason, 'crashed');
    const ev = (await daemon.api('GET', '/v1/events?guest=hog')).body.metadata as Json[];
    const crash = ev.find((e) => e.type === 'crashed');
    assert.match(
      crash.detail,
      /signal 9: the kernel killed the VMM: it passed its cgroup's memory limit of 64 MiB/,
    );
    const c = await daemon.guest('calm');
    assert.equal(c.state, 'running');
    assert.equal(c.pid, calm.pid);
    await until(
      'the hog cgroup to be removed',
      () =>
        !g.cgroup &&
        (hog.cgroup.dirs as string[]).every((d: string) => {
          try {
            statSync(d);
            return false;
          } catch {
            return true;
          }
        }),
      10_000,
    );
    await daemon.act('calm', { action: 'stop', force: true });
  },
);

const tryOpen = (path: string): string =>
  `try { require('fs').closeSync(require('fs').openSync(${JSON.stringify(path)}, 'r+')); console.log('opened') } catch (e) { console.log(e.code) }`;

test(
  "each VMM runs as a UID of its own and cannot open another guest's disk",
  { skip, timeout: 120_000 },
  async () => {
    const d1 = join(disks, 'one.img');
    const d2 = join(disks, 'two.img');
    for (const d of [d1, d2]) writeFileSync(d, Buffer.alloc(1 << 20), { mode: 0o644 });
    const g1 = await startEcho('u1', { disks: [{ path: d1 }] });
    const g2 = await startEcho('u2', { disks: [{ path: d2 }] });
    const status = (pid: number): Record<string, string> =>
      Object.fromEntries(
        readFileSync(`/proc/${pid}/status`, 'utf8')
          .split('\n')
          .map((l) => l.split(':\t')),
      );
    const s1 = status(g1.pid);
    const s2 = status(g2.pid);
    const uid1 = Number(s1.Uid.split('\t')[0]);
    const uid2 = Number(s2.Uid.split('\t')[0]);
    const gid = Number(s1.Gid.split('\t')[0]);
    assert.notEqual(uid1, 0);
    assert.notEqual(uid2, 0);
    assert.notEqual(uid1, uid2);
    assert.equal(uid1, g1.uid);
    assert.equal(s1.Uid, `${uid1}\t${uid1}\t${uid1}\t${uid1}`, 'all four UIDs dropped');
    assert.equal(s1.Groups.trim(), '');
    assert.equal(s1.CapEff, '0000000000000000');
    assert.equal(statSync(d1).uid, uid1);
    assert.equal(statSync(d1).mode & 0o777, 0o600);
    assert.equal(asUser(uid2, gid, tryOpen(d2)), 'opened');
    assert.equal(asUser(uid2, gid, tryOpen(d1)), 'EACCES');
    assert.equal(asUser(uid2, gid, tryOpen(join(dir, 'berth.db'))), 'EACCES');
    assert.equal(
      asUser(
        uid2,
        gid,
        `try { require('fs').readdirSync(${JSON.stringify(dir)}); console.log('listed') } catch (e) { console.log(e.code) }`,
      ),
      'EACCES',
    );
    for (const n of ['u1', 'u2']) await daemon.act(n, { action: 'stop', force: true });
    await until('the disk to be given back', () => statSync(d1).uid === 0, 5000);
    assert.equal(statSync(d1).mode & 0o777, 0o644);
  },
);

test(
  'a disk the VMM could not reach is refused and nothing changes',
  { skip, timeout: 60_000 },
  async () => {
    const closed = join(dir, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    chmodSync(closed, 0o700);
    const d = join(closed, 'x.img');
    writeFileSync(d, Buffer.alloc(4096), { mode: 0o644 });
    const c = await daemon.api('POST', '/v1/guests', {
      name: 'shut',
      memory: '32M',
      boot: { firmware: echo },
      disks: [{ path: d }],
    });
    assert.equal(c.status, 201, c.text);
    const op = await daemon.act('shut', { action: 'start' });
    assert.equal(op.status, 'Failure');
    assert.match(
      op.err,
      /cannot pass the folder .*closed \(mode 0700\); let others through it \(chmod o\+x/,
    );
    assert.equal(statSync(d).uid, 0);
    assert.equal(statSync(d).mode & 0o777, 0o644);
    assert.equal((await daemon.guest('shut')).state, 'stopped');
  },
);
