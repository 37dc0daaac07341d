// The `berth` guest commands against a real daemon: human tables and --json, exit status 0
// when done, 1 when the daemon refuses, 2 on bad usage, 3 with no daemon; and the events
// WebSocket sees a start as it happens; --net, -p, --bridge and --mac become the spec's card.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { echoGuestElf } from '../vmm/echoGuest.js';
import { BERTH_CLI, berthCli, DaemonProcess, processesMentioning, until } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bhc-'));
const socket = join(dir, 'api.sock');
let daemon: DaemonProcess;

const berth = (...args: string[]) => berthCli(socket, ...args);

before(async () => {
  daemon = await new DaemonProcess(dir, socket).ready();
});

after(async () => {
  await daemon.stop();
  for (const p of processesMentioning(dir)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

test('no daemon: exit status 3 and a hint', () => {
  const r = spawnSync(process.execPath, [BERTH_CLI, 'ls', '--socket', join(dir, 'none.sock')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 3);
  assert.match(r.stderr, /cannot reach the berth daemon .*berth daemon/);
});

test('create, start, pause, resume, inspect, logs, events, stop, rm with their exit statuses', async () => {
  const echo = echoGuestElf();
  assert.equal(berth('create', 'c1', '--memory', '1M', '--firmware', echo).code, 1);
  const bad = berth('create', 'c1', '--memory', '1M', '--firmware', echo);
  assert.match(bad.err, /^berth create: memory: /);
  assert.equal(berth('create', 'c1', '--bogus').code, 2);
  assert.equal(berth('start').code, 2);

  const events = new WebSocket(`ws+unix://${socket}:/v1/events`);
  const seen: { guest: string; type: string; reason: string }[] = [];
  events.on('message', (d: Buffer) => seen.push(JSON.parse(d.toString())));
  await new Promise((r) => events.once('open', r));

  const c = berth('create', 'c1', '--memory', '32M', '--firmware', echo, '--restart', 'on-failure');
  assert.equal(c.code, 0, c.err);
  assert.equal(c.out, 'created c1\n');
  const s = berth('start', 'c1');
  assert.equal(s.code, 0, s.err);
  assert.equal(s.out, 'c1: running\n');
  assert.equal(berth('start', 'c1').code, 1, 'already running');

  const ls = berth('ls');
  assert.equal(ls.code, 0);
  assert.match(ls.out, /^NAME +STATE +REASON +UPTIME +MEMORY +CPU% +RSS +PID +ADDRESSES\n/);
  assert.match(
    ls.out,
    /\nc1 +running +booted +\d+m?\d*s +32MiB +(?:[\d.]+|-) +\d+(?:\.\d)?MiB +\d+ +-\n/,
  );
  const json = JSON.parse(berth('ls', '--json').out);
  assert.equal(json[0].name, 'c1');
  assert.equal(json[0].state, 'running');

  assert.equal(berth('pause', 'c1').out, 'c1: paused\n');
  assert.equal(berth('pause', 'c1').code, 1);
  assert.equal(berth('resume', 'c1').out, 'c1: running\n');
  assert.equal(JSON.parse(berth('inspect', 'c1').out).spec.restart, 'on-failure');
  assert.equal(berth('inspect', 'nope').code, 1);
  assert.match(berth('logs', 'c1').out, /--- berth: starting c1/);
  assert.equal(berth('rm', 'c1').code, 1, 'a running guest is not deleted');
  const st = berth('stop', 'c1', '--force');
  assert.equal(st.code, 0, st.err);
  assert.equal(st.out, 'c1: stopped\n');
  const ev = berth('events', 'c1');
  assert.match(ev.out, /c1 +starting +user/);
  assert.match(ev.out, /c1 +stopped +user/);
  assert.equal(berth('rm', 'c1').code, 0);
  assert.equal(berth('rm', 'c1').code, 1);

  await until('the events on the WebSocket', () =>
    seen.some((e) => e.guest === 'c1' && e.type === 'deleted'),
  );
  events.close();
  assert.deepEqual(
    seen.filter((e) => e.guest === 'c1').map((e) => `${e.type}/${e.reason}`),
    [
      'created/user',
      'starting/user',
      'running/booted',
      'paused/user',
      'running/user',
      'stopping/user',
      'stopped/user',
      'deleted/user',
    ],
  );
});

test('berth create --net, -p, --bridge, --mac: the card of the spec; bad combinations are usage errors', () => {
  const echo = echoGuestElf();
  const fw = ['--firmware', echo];
  const c = berth(
    'create',
    'n1',
    ...fw,
    '--net',
    'user',
    '-p',
    '8080:80',
    '--mac',
    '52:54:00:00:00:0A',
  );
  assert.equal(c.code, 0, c.err);
  assert.deepEqual(JSON.parse(berth('inspect', 'n1').out).spec.network, {
    kind: 'user',
    forwards: [{ proto: 'tcp', hostPort: 8080, guestPort: 80 }],
    mac: '52:54:00:00:00:0a',
  });
  const usage: [string[], RegExp][] = [
    [['--net', 'tap'], /--net tap needs --bridge NAME/],
    [['--bridge', 'br0', '-p', '80'], /-p needs --net user/],
    [['--net', 'user', '--bridge', 'br0'], /--bridge names the bridge for --net tap/],
    [['--net', 'none', '--mac', '52:54:00:00:00:01'], /--mac .* needs a card/],
    [['--mac', '52:54:00:00:00:01'], /--mac .* add --net/],
    [['--net', 'wifi'], /--net is none, user or tap, not 'wifi'/],
  ];
  for (const [args, message] of usage) {
    const r = berth('create', 'n2', ...fw, ...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, message);
  }
  const lo = berth('create', 'n2', ...fw, '--net', 'tap', '--bridge', 'lo');
  assert.equal(lo.code, 1);
  assert.match(
    lo.err,
    process.getuid?.() === 0
      ? /network\.bridge: "lo" is .* not a bridge/
      : /needs the daemon to run as root/,
  );
  assert.equal(berth('inspect', 'n2').code, 1, 'nothing was created');
  assert.equal(berth('rm', 'n1').code, 0);
});

test('berth create --disk PATH,bus=pci and --net user,bus=pci: on PCI in the spec; bad options are usage errors', () => {
  const fw = ['--firmware', echoGuestElf()];
  const img = join(dir, 'pci.img');
  writeFileSync(img, Buffer.alloc(4096));
  const c = berth('create', 'p1', ...fw, '--disk', `${img},bus=pci`, '--disk', `${img},bus=mmio`);
  assert.equal(c.code, 1, 'the same disk twice, whatever its bus');
  assert.match(c.err, /named twice/);
  const ok = berth('create', 'p1', ...fw, '--disk', `${img},bus=pci,ro`, '--net', 'user,bus=pci');
  assert.equal(ok.code, 0, ok.err);
  const spec = JSON.parse(berth('inspect', 'p1').out).spec;
  assert.deepEqual(spec.disks, [{ path: img, readOnly: true, bus: 'pci' }]);
  assert.equal(spec.network.bus, 'pci');
  const usage: [string[], RegExp][] = [
    [
      ['--disk', `${img},slot=3`],
      /--disk .*,slot=3: the daemon puts a guest's disks in virtio slots itself/,
    ],
    [['--net', 'user,bus=isa'], /--net user,bus=isa: unknown option 'bus=isa'/],
    [['--net', 'none,bus=pci'], /--net none: there is no card to put on a bus/],
  ];
  for (const [args, message] of usage) {
    const r = berth('create', 'p2', ...fw, ...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, message);
  }
  // A bus the daemon does not know is its refusal (exit 1), naming the field.
  const bad = berth('create', 'p2', ...fw, '--disk', `${img},bus=isa`);
  assert.equal(bad.code, 1, bad.err);
  assert.match(bad.err, /no such file: .*pci\.img,bus=isa/);
  assert.equal(berth('inspect', 'p2').code, 1, 'nothing was created');
  assert.equal(berth('rm', 'p1').code, 0);
});

test('berth run still works without a daemon', () => {
  const r = spawnSync(process.execPath, [BERTH_CLI, 'run', '--demo'], {
    encoding: 'utf8',
    input: '',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
});
