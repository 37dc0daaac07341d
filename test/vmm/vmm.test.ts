// The VMM driven by a config object, without the CLI: it boots a bare-metal guest that echoes
// its console, answers on its control socket (mode 0600) while the guest computes, stops the
// guest's instruction count on pause and goes on at resume, serves the console to several
// readers with replay, refuses bad requests and other users, and removes its socket when done.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseVmmConfig, VmmConfigError } from '../../src/vmm/config.js';
import { Vmm } from '../../src/vmm/vmm.js';
import { ControlServer, ControlSocketError } from '../../src/vmm/controlServer.js';
import { ConsoleRefused, controlRequest, openConsole } from '../../src/vmm/controlClient.js';
import type { VmmStatus } from '../../src/vmm/status.js';
import { echoGuestElf } from './echoGuest.js';
import { startEcho as startEchoIn, type EchoVmm } from './echoVmm.js';
import { sleep, until } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-vmm-'));
after(() => rmSync(dir, { recursive: true, force: true }));
chmodSync(dir, 0o755);

const startEcho = (name: string, extra: Record<string, unknown> = {}): Promise<EchoVmm> =>
  startEchoIn(dir, name, extra);

test('config: every field is checked before anything starts, with the field named', () => {
  const bad: [unknown, RegExp][] = [
    [{ firmware: 'f', memory: '1M' }, /^memory: must be a multiple of 4 KiB/],
    [{ firmware: 'f', memory: 'lots' }, /^memory: .*lots/],
    [{ firmware: 'f', harts: 0 }, /^harts:/],
    [{ firmware: 'f', jitThreshold: -1 }, /^jitThreshold:/],
    [{ firmware: 'f', console: 'vga' }, /^console:/],
    [{ firmware: 'f', net: { kind: 'wifi' } }, /^net/],
    [
      { firmware: 'f', net: { kind: 'user', forwards: ['99999:80'] } },
      /^net\.forwards\.0: .*not a port forward/,
    ],
    [{ firmware: 'f', net: { kind: 'tap' } }, /^net\.bridge:/],
    [{ firmware: 'f', net: { kind: 'user', mac: 'zz' } }, /^net\.mac:/],
    [
      { firmware: 'f', net: { kind: 'tap', bridge: 'br0', device: { fd: 2, name: 'tap0' } } },
      /^net\.device\.fd:/,
    ],
    [{ firmware: 'f', net: { kind: 'user', device: { fd: 3, name: 'tap0' } } }, /^net.*device/],
    [{ firmware: 'f', disks: [{ path: '' }] }, /^disks\.0\.path:/],
    [
      { firmware: 'f', disks: Array.from({ length: 7 }, (_, i) => ({ path: `d${i}` })) },
      /^virtio slots: the power button: no virtio slot is left; the board has 8 and 9 devices ask for one$/,
    ],
    [
      { firmware: 'f', disks: [{ path: 'a.img', slot: 2 }], slots: { rng: 2 } },
      /^virtio slots: disk 0 \(a\.img\) and virtio-rng both ask for virtio slot 2; give each its own slot$/,
    ],
    [
      { firmware: 'f', slots: { powerButton: 8 } },
      /^virtio slots: the power button: virtio slot 8 does not exist; the board has slots 0 to 7$/,
    ],
    [{ firmware: 'f', slots: { net: 1 } }, /^slots\.net: there is no network card \(net: none\)$/],
    [{ firmware: 'f', rng: false, slots: { rng: 1 } }, /^slots\.rng: there is no virtio-rng/],
    [{ firmware: 'f', slots: { console: 1 } }, /^slots\.console: the console is the UART/],
    [{ firmware: 'f', slots: { disk: 1 } }, /^slots: .*disk/],
    [{ firmware: 'f', disks: [{ path: 'a', slot: 'x' }] }, /^disks\.0\.slot:/],
    [{ firmware: 'f', frobnicate: 1 }, /frobnicate/],
    ['not an object', /config/],
  ];
  for (const [input, message] of bad) {
    assert.throws(
      () => parseVmmConfig(input),
      (e: unknown) => {
        assert.ok(e instanceof VmmConfigError, String(e));
        assert.match(e.message, message, JSON.stringify(input));
        return true;
      },
    );
  }
  const c = parseVmmConfig({
    firmware: 'f',
    memory: '64M',
    net: { kind: 'user', forwards: ['8080:80'] },
  });
  assert.equal(c.memory, 64 << 20);
  assert.deepEqual(c.net, {
    kind: 'user',
    forwards: [{ proto: 'tcp', hostPort: 8080, guestPort: 80 }],
  });
  const o = parseVmmConfig({
    firmware: 'f',
    net: { kind: 'user', forwards: [{ hostPort: 2222, guestPort: 22 }, '127.0.0.1/5353:53/udp'] },
  });
  assert.deepEqual(o.net.kind === 'user' && o.net.forwards, [
    { proto: 'tcp', hostPort: 2222, guestPort: 22 },
    { proto: 'udp', hostPort: 5353, guestPort: 53, hostAddress: '127.0.0.1' },
  ]);
  assert.throws(
    () =>
      parseVmmConfig({
        firmware: 'f',
        net: { kind: 'user', forwards: [{ hostPort: 0, guestPort: 22 }] },
      }),
    /^VmmConfigError: net\.forwards\.0: .*not a port forward/,
  );
  assert.equal(c.jitThreshold, 1000);
});

test('a VMM from a config: status while computing, pause stops the count, resume continues, quit cleans up', async () => {
  const { vmm, sock, done } = await startEcho('pause');
  try {
    assert.equal(statSync(sock).mode & 0o777, 0o600, 'the control socket is mode 0600');
    const s1 = await controlRequest<VmmStatus>(sock, { cmd: 'status' });
    await sleep(300);
    const s2 = await controlRequest<VmmStatus>(sock, { cmd: 'status' });
    assert.equal(s2.state, 'running');
    assert.equal(s2.name, 'pause');
    assert.equal(s2.pid, process.pid);
    assert.ok(s2.instructions > s1.instructions, 'the guest computes while status answers');
    assert.equal(s2.memoryBytes, 32 << 20);
    assert.ok(s2.rssBytes > 0 && s2.cpuSeconds > 0);

    assert.deepEqual(await controlRequest(sock, { cmd: 'pause' }), { state: 'paused' });
    const p1 = (await controlRequest<VmmStatus>(sock, { cmd: 'status' })).instructions;
    await sleep(400);
    const p2 = await controlRequest<VmmStatus>(sock, { cmd: 'status' });
    assert.equal(p2.state, 'paused');
    assert.equal(p2.instructions, p1, 'no instruction retires while paused');
    assert.equal(p2.mips, 0);

    assert.deepEqual(await controlRequest(sock, { cmd: 'resume' }), { state: 'running' });
    await sleep(1300);
    const r = await controlRequest<VmmStatus>(sock, { cmd: 'status' });
    assert.ok(r.instructions > p2.instructions, 'resume continues the count');
    assert.ok(r.mips > 0.1, `guest MIPS reported after resume (${r.mips})`);

    assert.deepEqual(await controlRequest(sock, { cmd: 'quit' }), { state: 'stopping' });
    assert.deepEqual(await done, { kind: 'quit', code: 0 });
    assert.equal(existsSync(sock), false, 'the socket file is removed');
  } finally {
    vmm.quit();
    await done;
  }
});

test('console on the control socket: readers see the same output with replay; one writer at a time', async () => {
  const { vmm, sock, out, done } = await startEcho('console');
  try {
    const a = await openConsole(sock);
    let seenA = a.early.toString('latin1');
    a.socket.on('data', (d: Buffer) => (seenA += d.toString('latin1')));
    a.socket.resume();
    await until('replay to the first reader', () => seenA.includes('echo ready'));
    await assert.rejects(openConsole(sock), (e: Error) => {
      assert.ok(e instanceof ConsoleRefused);
      assert.match(e.message, /has a writer already/);
      return true;
    });
    const b = await openConsole(sock, { write: false });
    let seenB = b.early.toString('latin1');
    b.socket.on('data', (d: Buffer) => (seenB += d.toString('latin1')));
    b.socket.resume();
    await until('replay to the second reader', () => seenB.includes('echo ready'));
    a.socket.write('abc');
    await until('echo to both', () => seenA.endsWith('abc') && seenB.endsWith('abc'));
    b.socket.write('zzz'); // a reader's input is ignored
    const c = await openConsole(sock, { replay: false, force: true }); // takes the input over
    let seenC = c.early.toString('latin1');
    c.socket.on('data', (d: Buffer) => (seenC += d.toString('latin1')));
    c.socket.resume();
    a.socket.write('www'); // the replaced writer's input is ignored too
    c.socket.write('xyz');
    await until(
      'echo of the new writer',
      () => seenA.endsWith('abcxyz') && seenB.endsWith('abcxyz') && seenC.endsWith('xyz'),
    );
    assert.ok(out().endsWith('abcxyz'), 'neither the reader nor the replaced writer was heard');
    assert.equal(seenC.includes('echo ready'), false, 'no replay when not asked');
    c.socket.write('q'); // the guest powers off
    assert.deepEqual(await done, { kind: 'poweroff', code: 0 });
    for (const s of [a.socket, b.socket, c.socket]) s.destroy();
  } finally {
    vmm.quit();
    await done;
  }
});

test('control socket: bad requests get an error and the connection stays usable; shutdown without a power button is refused', async () => {
  const { vmm, sock, done } = await startEcho('bad', { powerButton: false });
  try {
    const conn = connect(sock);
    let got = '';
    conn.on('data', (d: Buffer) => (got += d.toString()));
    await new Promise((r) => conn.once('connect', r));
    const lines = [
      'not json',
      '42',
      '{"nocmd":1}',
      '{"cmd":"frobnicate","id":7}',
      '{"cmd":"status","id":8}',
    ];
    conn.write(lines.join('\n') + '\n');
    await until('five answers', () => got.split('\n').filter(Boolean).length >= 5);
    const answers = got
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.match(answers[0].error, /not JSON/);
    assert.match(answers[1].error, /"cmd"/);
    assert.match(answers[2].error, /"cmd"/);
    assert.deepEqual([answers[3].id, answers[3].ok], [7, false]);
    assert.match(answers[3].error, /unknown command "frobnicate"/);
    assert.equal(answers[4].id, 8);
    assert.equal(answers[4].ok, true);
    assert.equal(answers[4].result.state, 'running');
    conn.write('x'.repeat(70 * 1024));
    await new Promise((r) => conn.once('close', r));
    assert.match(got, /request line over 65536 bytes/);
    await assert.rejects(
      controlRequest(sock, { cmd: 'shutdown' }),
      /the guest has no power button/,
    );
    assert.equal(
      (await controlRequest<VmmStatus>(sock, { cmd: 'status' })).state,
      'running',
      'still serving',
    );
  } finally {
    vmm.quit();
    await done;
  }
});

test('control socket: a live socket is not taken over, a stale one is, a non-socket is refused', async () => {
  const { vmm, sock, done } = await startEcho('stale');
  try {
    await assert.rejects(ControlServer.listen(sock, vmm), (e: unknown) => {
      assert.ok(e instanceof ControlSocketError);
      assert.match(e.message, /another VMM answers on the control socket/);
      return true;
    });
    const file = join(dir, 'plain');
    writeFileSync(file, 'x');
    await assert.rejects(ControlServer.listen(file, vmm), /a file that is not a socket is there/);
  } finally {
    vmm.quit();
    await done;
  }
  // A socket file left by a dead VMM: made by a child that is killed at once.
  const stale = join(dir, 'stale2.sock');
  spawnSync(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  assert.ok(existsSync(stale), 'the dead server left its socket file');
  const { vmm: v2, done: d2 } = await (async () => {
    const config = parseVmmConfig({
      firmware: echoGuestElf(),
      controlSocket: stale,
      memory: '32M',
    });
    const v = await Vmm.start(config, { console: { input: null, output: null }, log: () => {} });
    return { vmm: v, done: v.run() };
  })();
  assert.equal((await controlRequest<VmmStatus>(stale, { cmd: 'status' })).state, 'running');
  v2.quit();
  await d2;
  assert.equal(existsSync(stale), false);
});

test(
  'control socket: another user cannot connect',
  { skip: process.getuid?.() !== 0 ? 'needs root to run a client as another user' : false },
  async () => {
    const { vmm, sock, done } = await startEcho('user');
    try {
      const script = `const s = require('net').connect(${JSON.stringify(sock)});
        s.on('connect', () => { console.log('connected'); process.exit(0); });
        s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
      const r = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(r.stdout.trim(), 'EACCES', r.stderr);
      assert.equal((await controlRequest<VmmStatus>(sock, { cmd: 'status' })).state, 'running');
    } finally {
      vmm.quit();
      await done;
    }
  },
);
