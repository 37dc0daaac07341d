// A daemon-managed guest's snapshot taken before virtio slots followed QEMU's plugging order
// restores after the upgrade: the guest spec has no slots, so the VMM places the devices as
// the snapshot has them. The machine file is the one a VMM of the fixed-slot Berth wrote
// (test/fixtures/snapshot/echo-vmm-fixed-slots.snap: rng in slot 0, network card 2, power
// button 3, disks 7 and 6), put where the daemon keeps the snapshot's machine, as the daemon
// before the upgrade left it; the restored guest echoes on without booting.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoGuestElf } from '../vmm/echoGuest.js';
import { berthCli, DaemonProcess, killAndRemove, openGuestConsole, until } from './harness.js';

const FIXTURE = join(
  dirname(fileURLToPath(import.meta.url)),
  ...'../../../test/fixtures/snapshot/echo-vmm-fixed-slots.snap'.split('/'),
);
const dir = mkdtempSync(join(tmpdir(), 'bhss-'));
const socket = join(dir, 'api.sock');
let daemon: DaemonProcess;

before(async () => {
  chmodSync(dir, 0o711);
  const disks = [
    { path: join(dir, 'a.img'), bytes: 1 << 20, readOnly: false },
    { path: join(dir, 'b.img'), bytes: 2 << 20, readOnly: true },
  ];
  for (const d of disks) {
    writeFileSync(d.path, Buffer.alloc(d.bytes));
    chmodSync(d.path, 0o644);
  }
  daemon = await new DaemonProcess(dir, socket).ready();
  const c = await daemon.api('POST', '/v1/guests', {
    name: 'old',
    memory: '32M',
    boot: { firmware: echoGuestElf() },
    disks: disks.map((d) => ({ path: d.path, readOnly: d.readOnly })),
    network: { kind: 'user' },
  });
  assert.equal(c.status, 201, c.text);
});

after(async () => {
  try {
    // Stopped before the daemon stops, so that the daemon removes its cgroup.
    const stop = await daemon.act('old', { action: 'stop', force: true });
    assert.equal(stop.status, 'Success', stop.err);
  } finally {
    await daemon.stop();
    killAndRemove(dir);
  }
});

test("a snapshot of the fixed-slot Berth's VMM restores through the daemon and the guest echoes on", async () => {
  const op = await daemon.act('old', { action: 'start' });
  assert.equal(op.status, 'Success', op.err);
  const took = berthCli(socket, 'snapshot', 'create', 'old', 's1');
  assert.equal(took.code, 0, took.err);
  const [s1] = JSON.parse(berthCli(socket, 'snapshot', 'ls', 'old', '--json').out);
  copyFileSync(FIXTURE, s1.file); // the machine as the Berth before the upgrade saved it
  const back = berthCli(socket, 'snapshot', 'restore', 'old', 's1');
  assert.equal(back.code, 0, back.err);
  const r = await daemon.guest('old');
  assert.deepEqual([r.state, r.reason], ['running', 'restored']);
  assert.ok(r.status.instructions >= 2_600_000, `${r.status.instructions} go on from 2,600,000`);
  let out = '';
  const ws = await openGuestConsole(socket, 'old', (t) => (out += t));
  try {
    ws.send(Buffer.from('xy'));
    await until('the echo of xy', () => out.includes('xy'));
  } finally {
    ws.close();
  }
  assert.equal(out, 'xy', 'no boot banner: the guest went on from the snapshot');
});
