// Snapshots through a real daemon with an echo guest (`berth snapshot`): a running guest's
// snapshot holds its machine and freezes its writable disk (the guest writes on into a disk
// layer, qcow2, backed by the frozen file); a restore stops the guest and runs it on from the
// snapshot in a new VMM without booting (no banner, the instruction count goes on) on a new
// layer over the frozen disk; a stopped guest's snapshot holds its disks alone; rm and the
// guest's deletion remove snapshots and the layers nothing reads any more and give the user's
// disk file back as it was; bad names, unknown snapshots and duplicates are refused.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoGuestElf } from '../vmm/echoGuest.js';
import {
  berthCli,
  DaemonProcess,
  killAndRemove,
  openGuestConsole,
  processesMentioning,
  until,
} from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bhsn-'));
const socket = join(dir, 'api.sock');
const disk = join(dir, 'data.img');
const ro = join(dir, 'ro.img');
const layers = join(dir, 'layers');
let daemon: DaemonProcess;

before(async () => {
  chmodSync(dir, 0o711);
  writeFileSync(disk, Buffer.alloc(1 << 20, 0x5a));
  chmodSync(disk, 0o644);
  writeFileSync(ro, Buffer.alloc(1 << 20, 0x11));
  chmodSync(ro, 0o644);
  daemon = await new DaemonProcess(dir, socket).ready();
  const c = await daemon.api('POST', '/v1/guests', {
    name: 'sn',
    memory: '32M',
    boot: { firmware: echoGuestElf() },
    disks: [{ path: disk }, { path: ro, readOnly: true }],
  });
  assert.equal(c.status, 201, c.text);
});

after(async () => {
  await daemon.stop();
  killAndRemove(dir);
});

const cli = (...args: string[]): { code: number | null; out: string; err: string } =>
  berthCli(socket, 'snapshot', ...args);

const backingOf = (image: string): string =>
  JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-U', image]).toString())[
    'full-backing-filename'
  ];

async function typeAndSee(text: string): Promise<string> {
  let out = '';
  const ws = await openGuestConsole(socket, 'sn', (t) => (out += t));
  try {
    ws.send(Buffer.from(text));
    await until(`the echo of ${text}`, () => out.includes(text));
    return out;
  } finally {
    ws.close();
  }
}

test('a running guest: snapshot of machine and disks, then a restore runs on from it', async () => {
  const baseBefore = statSync(disk);
  const op = await daemon.act('sn', { action: 'start' });
  assert.equal(op.status, 'Success', op.err);
  await typeAndSee('ab');
  // The daemon's last status of the VMM was taken before the snapshot's instant.
  const saved = (await daemon.guest('sn')).status.instructions;
  const took = cli('create', 'sn', 's1');
  assert.equal(took.code, 0, took.err);
  assert.equal(took.out, 'sn: snapshot s1 taken\n');
  const g = await daemon.guest('sn');
  assert.equal(g.state, 'running', 'the guest runs on after its snapshot');
  const [layer1, roPath] = g.status.disks.map((d: { path: string }) => d.path);
  assert.equal(roPath, ro, 'a read-only disk is not frozen');
  assert.ok(layer1.startsWith(`${layers}/`), `the guest writes to a layer now: ${layer1}`);
  assert.equal(backingOf(layer1), disk, 'backed by the frozen disk');
  if (process.getuid?.() === 0) {
    const st = statSync(disk);
    assert.equal(st.mode & 0o777, 0o640, "the frozen disk is readable by the VMMs' group");
    assert.equal(st.uid, baseBefore.uid, 'and keeps its owner');
  }
  const ls = JSON.parse(cli('ls', 'sn', '--json').out);
  assert.equal(ls.length, 1);
  assert.deepEqual([ls[0].name, ls[0].stateful, ls[0].disks], ['s1', true, [disk, ro]]);
  assert.ok(ls[0].bytes > 0 && ls[0].bytes < 256 * 1024, `${ls[0].bytes} bytes`);
  assert.ok(existsSync(ls[0].file));
  assert.match(cli('ls', 'sn').out, /^NAME +TAKEN +HOLDS +MACHINE\ns1 +\S+ +machine\+disks +\d/);

  await typeAndSee('cd'); // the guest goes on past the snapshot
  const oldPid = g.pid;
  const back = cli('restore', 'sn', 's1');
  assert.equal(back.code, 0, back.err);
  assert.equal(back.out, 'sn: restored to s1\n');
  const r = await daemon.guest('sn');
  assert.deepEqual([r.state, r.reason], ['running', 'restored']);
  assert.notEqual(r.pid, oldPid, 'a new VMM');
  assert.ok(r.status.instructions >= saved, `${r.status.instructions} go on from ${saved}`);
  const seen = await typeAndSee('xy');
  assert.doesNotMatch(seen, /echo ready/, 'the restored guest did not boot again');
  const layer2 = r.status.disks[0].path;
  assert.ok(layer2 !== layer1 && layer2.startsWith(`${layers}/`), layer2);
  assert.equal(backingOf(layer2), disk, "a new layer on the snapshot's frozen disk");
  assert.equal(existsSync(layer1), false, 'the layer nothing reads any more is deleted');
  const events = (await daemon.api('GET', '/v1/events?guest=sn')).body.metadata.map(
    (e: { type: string; reason: string; detail: string | null }) =>
      `${e.type}/${e.reason}${e.type.startsWith('snapshot') ? `/${e.detail}` : ''}`,
  );
  assert.deepEqual(events.slice(-5), [
    'stopping/user',
    'stopped/user',
    'snapshot-restored/user/s1',
    'starting/restored',
    'running/restored',
  ]);
  assert.ok(events.includes('snapshot-created/user/s1'));
});

test('refusals: bad names, duplicates, unknown snapshots and guests; nothing changes', async () => {
  const dup = cli('create', 'sn', 's1');
  assert.equal(dup.code, 1);
  assert.match(dup.err, /guest 'sn' has a snapshot named 's1' already/);
  const bad = await daemon.api('POST', '/v1/guests/sn/snapshots', { name: 'Bad_Name' });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.body.error, /name/);
  const none = cli('restore', 'sn', 'nope');
  assert.equal(none.code, 1);
  assert.match(none.err, /guest 'sn' has no snapshot named 'nope'/);
  assert.match(cli('ls', 'ghost').err, /no guest named 'ghost'/);
  const usage = cli('create', 'sn');
  assert.equal(usage.code, 2);
  assert.match(usage.err, /takes GUEST NAME/);
  assert.equal(cli('frobnicate').code, 2);
  assert.equal(JSON.parse(cli('ls', 'sn', '--json').out).length, 1);
});

test('a stopped guest: a disk-only snapshot; rm and deleting the guest leave nothing behind', async () => {
  const stop = await daemon.act('sn', { action: 'stop', force: true });
  assert.equal(stop.status, 'Success', stop.err);
  const took = cli('create', 'sn', 's2');
  assert.equal(took.code, 0, took.err);
  const s2 = JSON.parse(cli('ls', 'sn', '--json').out)[1];
  assert.deepEqual([s2.name, s2.stateful, s2.bytes, s2.file], ['s2', false, 0, null]);
  assert.ok(s2.disks[0].startsWith(`${layers}/`), 'it froze the layer the guest wrote to');
  const restore = cli('restore', 'sn', 's2');
  assert.equal(restore.code, 0, restore.err);
  assert.equal((await daemon.guest('sn')).state, 'stopped', 'a disk-only restore boots nothing');
  assert.equal(cli('rm', 'sn', 's1').code, 0);
  assert.equal(existsSync(join(dir, 'guests', 'sn', 'snapshots', 's1.snap')), false);
  assert.deepEqual(
    JSON.parse(cli('ls', 'sn', '--json').out).map((s: { name: string }) => s.name),
    ['s2'],
  );
  assert.ok(readdirSync(layers).length >= 2, 'the layers s2 and the guest read through stay');
  const kept = await daemon.api('DELETE', '/v1/guests/sn');
  assert.equal(kept.status, 409, 'its writes since the first snapshot are in its layers');
  assert.match(kept.body.error, /has 1 snapshot\(s\) and disk layers .* add force/);
  const del = await daemon.api('DELETE', '/v1/guests/sn?force=true');
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(
    readdirSync(layers).filter((f) => f.endsWith('.qcow2')),
    [],
    'no layer is left',
  );
  const st = statSync(disk);
  assert.equal(st.mode & 0o777, 0o644, "the user's disk file has its mode back");
  assert.equal(st.gid, process.getgid?.(), 'and its group');
  await until('no process of ours', () => processesMentioning(join(dir, 'guests')).length === 0);
});
