// Clones through a real daemon with an echo guest (`berth clone`): the clone runs on from the
// parent's state in a VMM of its own without booting, on copy-on-write layers over the disk
// frozen at the clone's instant (the parent writes on into a layer of its own), with its own
// MAC address (on PCI, as the parent's) and none of the parent's published ports; a stopped parent gives a stopped
// clone; bad requests change nothing; deleting both leaves no layer and gives the disk back.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoGuestElf } from '../vmm/echoGuest.js';
import { freePort } from '../support/wait.js';
import { berthCli, DaemonProcess, killAndRemove, openGuestConsole, until } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bhcl-'));
const socket = join(dir, 'api.sock');
const disk = join(dir, 'data.img');
const layers = join(dir, 'layers');
let daemon: DaemonProcess;

before(async () => {
  chmodSync(dir, 0o711);
  writeFileSync(disk, Buffer.alloc(1 << 20, 0x5a));
  chmodSync(disk, 0o644);
  daemon = await new DaemonProcess(dir, socket).ready();
  const c = await daemon.api('POST', '/v1/guests', {
    name: 'pa',
    memory: '32M',
    boot: { firmware: echoGuestElf() },
    disks: [{ path: disk }],
    network: { kind: 'user', forwards: [`127.0.0.1/${await freePort()}:22`], bus: 'pci' },
  });
  assert.equal(c.status, 201, c.text);
});

after(async () => {
  await daemon.stop();
  killAndRemove(dir);
});

const backingOf = (image: string): string =>
  JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-U', image]).toString())[
    'full-backing-filename'
  ];

async function console(name: string, text: string): Promise<string> {
  let out = '';
  const ws = await openGuestConsole(socket, name, (t) => (out += t));
  try {
    ws.send(Buffer.from(text));
    await until(`the echo of ${text} by ${name}`, () => out.includes(text));
    return out;
  } finally {
    ws.close();
  }
}

test('a running guest cloned: the clone runs on from its state with disks and a card of its own', async () => {
  const op = await daemon.act('pa', { action: 'start' });
  assert.equal(op.status, 'Success', op.err);
  await console('pa', 'ab');
  const before = (await daemon.guest('pa')).status.instructions;
  const r = berthCli(socket, 'clone', 'pa', 'ch');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'ch: cloned from pa\n');
  const [pa, ch] = [await daemon.guest('pa'), await daemon.guest('ch')];
  assert.deepEqual([pa.state, ch.state, ch.reason], ['running', 'running', 'cloned']);
  assert.notEqual(ch.pid, pa.pid, 'a VMM of its own');
  assert.ok(ch.status.instructions >= before, 'it goes on from the parent, not from a boot');
  const seen = await console('ch', 'xy');
  assert.doesNotMatch(seen, /echo ready/, 'the clone did not boot');
  await console('pa', 'cd'); // the parent runs on too
  const [pDisk, cDisk] = [pa.status.disks[0].path, ch.status.disks[0].path];
  assert.ok(pDisk.startsWith(`${layers}/`) && cDisk.startsWith(`${layers}/`), `${pDisk} ${cDisk}`);
  assert.notEqual(pDisk, cDisk);
  assert.equal(backingOf(pDisk), disk, 'both write on layers over the frozen disk');
  assert.equal(backingOf(cDisk), disk);
  assert.notEqual(ch.status.net.mac, pa.status.net.mac, 'the clone has a MAC of its own');
  assert.deepEqual(ch.spec.network.forwards, [], "the parent's ports stay the parent's");
  assert.equal(
    ch.spec.network.bus,
    'pci',
    "the card stays on PCI, where the parent's state has it",
  );
  const events = (await daemon.api('GET', '/v1/events?guest=ch')).body.metadata.map(
    (e: { type: string; reason: string }) => `${e.type}/${e.reason}`,
  );
  assert.deepEqual(events, ['created/user', 'cloned/user', 'starting/cloned', 'running/cloned']);
});

test('bad clones are refused and change nothing; a stopped parent gives a stopped clone', async () => {
  const taken = berthCli(socket, 'clone', 'pa', 'ch');
  assert.equal(taken.code, 1);
  assert.match(taken.err, /a guest named 'ch' exists already/);
  const bad = await daemon.api('POST', '/v1/guests/pa/clone', { name: 'No_Good' });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(berthCli(socket, 'clone', 'ghost', 'x').code, 1);
  assert.equal(berthCli(socket, 'clone', 'pa').code, 2);
  const names = (await daemon.api('GET', '/v1/guests')).body.metadata.map(
    (g: { name: string }) => g.name,
  );
  assert.deepEqual(names, ['ch', 'pa']);
  for (const n of ['pa', 'ch']) {
    const s = await daemon.act(n, { action: 'stop', force: true });
    assert.equal(s.status, 'Success', s.err);
  }
  const cold = berthCli(socket, 'clone', 'ch', 'ch2');
  assert.equal(cold.code, 0, cold.err);
  assert.equal((await daemon.guest('ch2')).state, 'stopped');
  for (const n of ['ch2', 'ch', 'pa']) {
    const d = await daemon.api('DELETE', `/v1/guests/${n}?force=true`);
    assert.equal(d.status, 200, d.text);
  }
  assert.deepEqual(
    readdirSync(layers).filter((f) => f.endsWith('.qcow2')),
    [],
  );
  assert.equal(statSync(disk).mode & 0o777, 0o644, 'the disk file has its mode back');
  const { dev, ino } = statSync(disk);
  assert.equal(
    existsSync(join(tmpdir(), 'berth-disk-locks', `${dev}-${ino}`)),
    false,
    "no lock folder of the disk is left (the clone's VMM, another user, could not remove it)",
  );
});
