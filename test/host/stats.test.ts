// `berth stats` and `berth ls` against a real daemon running the echo guest (which spins, so its
// instructions and CPU time grow, and which touches 56 MiB on Ctrl-T, so its VMM's RSS grows),
// with a disk and user networking with a published port: the human tables and --json, once
// and with --watch, the figures read from the real VMM; and the progress line of a stop.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoGuestElf } from '../vmm/echoGuest.js';
import { freePort } from '../support/wait.js';
import {
  BERTH_CLI,
  berthCli,
  DaemonProcess,
  killAndRemove,
  processesMentioning,
  until,
  type Json,
  openGuestConsole,
} from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bhs-'));
const socket = join(dir, 'api.sock');
const disk = join(dir, 'data.img');
const MIB = 1024 * 1024;
let daemon: DaemonProcess;
let port: number;

const berth = (...args: string[]) => berthCli(socket, ...args);
const statsJson = (...names: string[]): Json[] => {
  const r = berth('stats', ...names, '--json');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
};

before(async () => {
  chmodSync(dir, 0o711); // the VMM's own user passes to the disk
  writeFileSync(disk, Buffer.alloc(MIB));
  port = await freePort();
  daemon = await new DaemonProcess(dir, socket).ready();
  const c = berth(
    ...['create', 's1', '--memory', '64M', '--firmware', echoGuestElf()],
    ...['--disk', disk, '--net', 'user', '-p', `127.0.0.1/${port}:22`],
  );
  assert.equal(c.code, 0, c.err);
  assert.equal(berth('create', 's2', '--memory', '32M', '--firmware', echoGuestElf()).code, 0);
  const s = berth('start', 's1');
  assert.equal(s.code, 0, s.err);
  assert.equal(s.out, 's1: running\n');
});

after(async () => {
  await daemon.stop();
  killAndRemove(dir);
});

test('berth ls: state, uptime, memory, CPU, RSS, PID and the published port', async () => {
  await until('a CPU share', async () => (await daemon.guest('s1')).cpuPercent !== null);
  const ls = berth('ls');
  assert.equal(ls.code, 0, ls.err);
  const [head, ...rows] = ls.out.trimEnd().split('\n');
  assert.match(head, /^NAME +STATE +REASON +UPTIME +MEMORY +CPU% +RSS +PID +ADDRESSES$/);
  const s1 = rows.find((r) => r.startsWith('s1 '));
  const pid = (await daemon.guest('s1')).pid;
  assert.match(
    s1 ?? '',
    new RegExp(
      `^s1 +running +booted +\\d+m?\\d*s +64MiB +\\d+\\.\\d +\\d+(?:\\.\\d)?MiB +${pid} +127\\.0\\.0\\.1:${port}->22/tcp$`,
    ),
  );
  assert.match(
    rows.find((r) => r.startsWith('s2 ')) ?? '',
    /^s2 +stopped +created +- +32MiB +- +- +- +-$/,
  );
  const json = JSON.parse(berth('ls', '--json').out);
  const j1 = json.find((g: Json) => g.name === 's1');
  assert.deepEqual(j1.net, { kind: 'user', address: null, ports: [`127.0.0.1:${port}->22/tcp`] });
  assert.ok(j1.cpuPercent > 0, `a spinning guest uses CPU: ${j1.cpuPercent}`);
  assert.equal(json.find((g: Json) => g.name === 's2').net, null);
});

test('berth stats --json: the real counters, growing between two calls', async () => {
  const [a] = statsJson('s1');
  await until('a later status', async () => {
    const [b] = statsJson('s1');
    return b.guest.instructions > a.guest.instructions;
  });
  const [b] = statsJson('s1');
  assert.equal(b.name, 's1');
  assert.equal(b.state, 'running');
  assert.ok(b.cpu.seconds > a.cpu.seconds, 'CPU time grows');
  assert.ok(b.cpu.percent > 0 && b.cpu.percent < 1000, `CPU % ${b.cpu.percent}`);
  assert.ok(b.uptimeSeconds > a.uptimeSeconds);
  assert.ok(b.guest.mips > 0);
  assert.equal(b.guest.boots, 1);
  assert.equal(b.memory.guestBytes, 64 * MIB);
  assert.ok(b.memory.rssBytes > 20 * MIB, `RSS ${b.memory.rssBytes}`);
  assert.ok(Date.parse(b.sampledAt) > Date.now() - 10_000);
  // the echo guest never touches its disk nor its network card
  assert.deepEqual(Object.keys(b.disk), ['vda']);
  assert.equal(b.disk.vda.path, disk);
  assert.equal(b.disk.vda.bytesRead + b.disk.vda.bytesWritten + b.disk.vda.reads, 0);
  assert.deepEqual(Object.keys(b.network), ['eth0']);
  const eth0 = b.network.eth0;
  assert.match(eth0.hwaddr, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.deepEqual(eth0.ports, [`127.0.0.1:${port}->22/tcp`]);
  assert.equal(eth0.address, null);
  assert.equal(eth0.counters.packetsSent + eth0.counters.packetsReceived, 0);
  // all guests with a VMM: s1, not the stopped s2; s2 by name, with no figures
  assert.deepEqual(
    statsJson().map((s) => s.name),
    ['s1'],
  );
  const [s2] = statsJson('s2');
  assert.deepEqual([s2.state, s2.cpu, s2.guest, s2.memory.rssBytes], ['stopped', null, null, null]);
  const nope = berth('stats', 'nope');
  assert.equal(nope.code, 1);
  assert.match(nope.err, /^berth stats: no guest named 'nope'/);
});

test("the VMM's RSS grows when the guest touches its memory", async () => {
  const [before] = statsJson('s1');
  let out = '';
  const ws = await openGuestConsole(socket, 's1', (t) => (out += t));
  try {
    ws.send(Buffer.from([0x14])); // Ctrl-T: the echo guest writes to 56 MiB of its RAM
    await until('the M', () => out.includes('M'), 30_000);
  } finally {
    ws.close();
  }
  const grown = await until('the RSS to grow', async () => {
    const [s] = statsJson('s1');
    return s.memory.rssBytes - before.memory.rssBytes > 40 * MIB ? s : null;
  });
  assert.ok(grown.memory.rssBytes <= grown.memory.limitBytes, 'within its cgroup limit');
});

test('berth stats: the human table', () => {
  const r = berth('stats', 's1', 's2');
  assert.equal(r.code, 0, r.err);
  const [head, s1, s2, ...rest] = r.out.trimEnd().split('\n');
  assert.deepEqual(rest, []);
  assert.match(
    head,
    /^NAME +STATE +CPU% +RSS +MEMORY +MIPS +INSTRUCTIONS +DISK READ\/WRITE +DISK OPS R\/W +NET RX\/TX +PACKETS RX\/TX$/,
  );
  assert.match(
    s1,
    /^s1 +running +\d+\.\d% +\d+(?:\.\d)?MiB +64MiB +\d+\.\d +\d+(?:\.\d+)?[kMGT]? +0B \/ 0B +0 \/ 0 +0B \/ 0B +0 \/ 0$/,
  );
  assert.match(s2, /^s2 +stopped +- +- +32MiB +- +- +- +- +- +-$/);
});

test('berth stats --watch: a frame a second until Ctrl-C', async () => {
  const bad = berth('stats', '--watch', '--no-stream');
  assert.equal(bad.code, 2);
  const child = spawn(
    process.execPath,
    [BERTH_CLI, 'stats', 's1', '--watch', '--json', '--socket', socket],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const frames = (): Json[][] =>
    out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
  await until('three frames', () => frames().length >= 3, 30_000);
  child.kill('SIGINT');
  assert.equal(await exited, 0, 'Ctrl-C ends it with status 0');
  const f = frames();
  const first = f[0][0].guest.instructions;
  const last = f.at(-1)![0].guest.instructions;
  assert.ok(last > first, `instructions grow from frame to frame: ${first} -> ${last}`);
});

test('berth stop says on stderr what it waits for; stdout keeps the result', () => {
  const r = berth('stop', 's1', '--timeout', '2');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 's1: stopped\n');
  assert.equal(r.err, 'waiting for s1 to power off (2 s before it is forced)...\n');
});

test('cleanup: nothing of this test is left running', async () => {
  assert.equal(await daemon.stop(), 0);
  await until('no process of ours', () => processesMentioning(dir).length === 0, 5000);
});
