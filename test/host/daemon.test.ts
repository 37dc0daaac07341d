// The host daemon as a user meets it: a real `berth daemon` on a temporary state folder runs
// real VMM processes (the bare-metal echo guest), marks a VMM killed with -9 crashed within
// 2 s and restarts it by its policy, pauses and resumes the instruction count, serves the
// console over a WebSocket, outlives nothing of its guests (they outlive it, and the next
// daemon adopts them and watches them), refuses bad requests (network cards among them: no
// bridge, a bad MAC, TAP without root) without changing anything,
// and leaves no process behind.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { echoGuestElf } from '../vmm/echoGuest.js';
import {
  alive,
  DaemonProcess,
  http,
  processesMentioning,
  sleep,
  until,
  openGuestConsole,
} from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bh-'));
const socket = join(dir, 'api.sock');
let daemon: DaemonProcess;
let echo: string;
const MEMORY_LIMIT = '100M'; // three 32M echo guests fit, a fourth does not
const root = process.getuid?.() === 0;
const NO_BRIDGE = `bnone${process.pid}`.slice(0, 15);
const NOT_ROOT = /^network: a tap card needs the daemon to run as root/;

const echoSpec = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  memory: '32M',
  boot: { firmware: echo },
  ...extra,
});

before(async () => {
  echo = echoGuestElf();
  daemon = await new DaemonProcess(dir, socket, ['--memory-limit', MEMORY_LIMIT]).ready();
});

after(async () => {
  // stop whatever is left, through the daemon when it is there, by signal otherwise
  for (const p of processesMentioning(dir)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

test('create and start three echo guests; each runs in a VMM process of its own', async () => {
  for (const [name, restart] of [
    ['e1', 'on-failure'],
    ['e2', 'no'],
    ['e3', 'no'],
  ]) {
    const c = await daemon.api('POST', '/v1/guests', echoSpec(name, { restart }));
    assert.equal(c.status, 201, c.text);
    assert.equal(c.body.metadata.state, 'stopped');
    const r = await daemon.api('PUT', `/v1/guests/${name}/state`, { action: 'start' });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.type, 'async');
    assert.match(r.body.operation, /^\/v1\/operations\/[0-9a-f-]{36}$/);
    const op = await daemon.api('GET', `${r.body.operation}/wait?timeout=60`);
    assert.equal(op.body.metadata.status, 'Success', op.text);
  }
  const list = (await daemon.api('GET', '/v1/guests')).body.metadata;
  assert.deepEqual(
    list.map((g: { name: string; state: string }) => [g.name, g.state]),
    [
      ['e1', 'running'],
      ['e2', 'running'],
      ['e3', 'running'],
    ],
  );
  const pids = new Set(list.map((g: { pid: number }) => g.pid));
  assert.equal(pids.size, 3, 'three VMM processes');
  for (const pid of pids) assert.ok(alive(pid as number));
  const g = await until('a status with instructions', async () => {
    const v = await daemon.guest('e2');
    return v.status?.instructions > 0 ? v : null;
  });
  assert.equal(g.status.memoryBytes, 32 << 20);
});

test('pause stops the instruction count; resume continues it', async () => {
  const p = await daemon.act('e2', { action: 'pause' });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.body.metadata.state, 'paused');
  await sleep(1200); // at least two status polls
  const a = (await daemon.guest('e2')).status.instructions;
  await sleep(1000);
  const b = await daemon.guest('e2');
  assert.equal(b.state, 'paused');
  assert.equal(b.status.instructions, a, 'no instruction retires while paused');
  const r = await daemon.act('e2', { action: 'resume' });
  assert.equal(r.body.metadata.state, 'running');
  await until('the count to go on', async () => (await daemon.guest('e2')).status.instructions > a);
});

test('kill -9 of a VMM: crashed within 2 s, restarted by on-failure, the others untouched', async () => {
  const before = Object.fromEntries(
    (await daemon.api('GET', '/v1/guests')).body.metadata.map(
      (g: { name: string; pid: number }) => [g.name, g.pid],
    ),
  );
  const killedAt = Date.now();
  process.kill(before.e1, 'SIGKILL');
  const crashed = await until(
    'the crash to be recorded',
    async () => {
      const ev = (await daemon.api('GET', '/v1/events?guest=e1')).body.metadata;
      return ev.find(
        (e: { type: string; time: string }) =>
          e.type === 'crashed' && Date.parse(e.time) >= killedAt - 5,
      );
    },
    2000,
    20,
  );
  assert.ok(Date.parse(crashed.time) - killedAt < 2000, 'crashed within 2 s');
  assert.equal(crashed.reason, 'crashed');
  assert.match(crashed.detail, /signal 9/);
  const back = await until('e1 to run again', async () => {
    const g = await daemon.guest('e1');
    return g.state === 'running' && g.pid !== before.e1 ? g : null;
  });
  assert.ok(alive(back.pid));
  const evs = (await daemon.api('GET', '/v1/events?guest=e1')).body.metadata;
  assert.ok(
    evs.some(
      (e: { type: string; reason: string }) => e.type === 'starting' && e.reason === 'restarted',
    ),
  );
  for (const n of ['e2', 'e3']) {
    const g = await daemon.guest(n);
    assert.equal(g.state, 'running', n);
    assert.equal(g.pid, before[n], `${n} keeps its VMM`);
  }
});

test('the console through the daemon: replay, input echoed back to every reader, one writer', async () => {
  let out = '';
  let seen = '';
  const ws = await openGuestConsole(socket, 'e3', (t) => (out += t));
  const reader = await openGuestConsole(socket, 'e3', (t) => (seen += t), '?write=false');
  try {
    await until('the replayed banner', () => out.includes('echo ready'), 5000);
    await until('the replay to the reader', () => seen.includes('echo ready'), 5000);
    // A second writer is refused while the first is attached (the WebSocket closes, 4009).
    const refused = await openGuestConsole(socket, 'e3', () => {});
    const [code, why] = await new Promise<[number, string]>((r) =>
      refused.once('close', (c: number, w: Buffer) => r([c, w.toString()])),
    );
    assert.equal(code, 4009);
    assert.match(why, /has a writer already/);
    reader.send(Buffer.from('ignored')); // a reader's input does not reach the guest
    ws.send(Buffer.from('hello through the daemon'));
    await until('the echo', () => out.includes('hello through the daemon'), 5000);
    await until('the same output to the reader', () => seen.includes('hello through'), 5000);
    assert.equal(out.includes('ignored'), false);
  } finally {
    ws.close();
    reader.close();
  }
  const stopped = await http(socket, 'GET', '/v1/guests/nope/console');
  assert.equal(stopped.status, 404);
});

test('the daemon dies, the guests run on; a new daemon adopts them and watches them', async () => {
  const before = (await daemon.api('GET', '/v1/guests')).body.metadata;
  daemon.child.kill('SIGKILL');
  await daemon.exited;
  await sleep(1000);
  for (const g of before) assert.ok(alive(g.pid), `${g.name} runs on without the daemon`);
  daemon = await new DaemonProcess(dir, socket, ['--memory-limit', MEMORY_LIMIT]).ready();
  const now = (await daemon.api('GET', '/v1/guests')).body.metadata;
  assert.deepEqual(
    now.map((g: { name: string; state: string; pid: number }) => [g.name, g.state, g.pid]),
    before.map((g: { name: string; state: string; pid: number }) => [g.name, g.state, g.pid]),
    'the same states and the same VMMs',
  );
  for (const g of now) assert.equal(g.reason, 'adopted');
  // a kill -9 of an adopted VMM is seen too; e3's policy is no, so it stays crashed
  const e3 = now.find((g: { name: string }) => g.name === 'e3');
  const killedAt = Date.now();
  process.kill(e3.pid, 'SIGKILL');
  await until('e3 crashed', async () => (await daemon.guest('e3')).state === 'crashed', 2000, 20);
  assert.ok(Date.now() - killedAt < 2000);
  await sleep(1000);
  assert.equal((await daemon.guest('e3')).state, 'crashed', 'restart policy no: it stays crashed');
});

test('the host refuses a start past its guest memory limit, with the numbers', async () => {
  // e1 and e2 run (64M); e3 is crashed. Two 32M guests more would pass 100M.
  assert.equal(
    (await daemon.api('POST', '/v1/guests', echoSpec('big', { memory: '48M' }))).status,
    201,
  );
  const eventsBefore = (await daemon.api('GET', '/v1/events?limit=10000')).body.metadata.length;
  const r = await daemon.api('PUT', '/v1/guests/big/state', { action: 'start' });
  assert.equal(r.status, 507, r.text);
  assert.match(r.body.error, /needs 48 MiB, running guests hold 64 MiB and the limit is 100 MiB/);
  assert.equal((await daemon.guest('big')).state, 'stopped');
  assert.equal(
    (await daemon.api('GET', '/v1/events?limit=10000')).body.metadata.length,
    eventsBefore,
  );
  assert.equal((await daemon.api('DELETE', '/v1/guests/big')).status, 200);
});

test('bad requests: each gets a 4xx with a message and changes nothing', async () => {
  const snapshot = async () => ({
    guests: (await daemon.api('GET', '/v1/guests')).body.metadata.map(
      (g: { name: string; state: string; pid: number; spec: unknown }) => [
        g.name,
        g.state,
        g.pid,
        g.spec,
      ],
    ),
    events: (await daemon.api('GET', '/v1/events?limit=10000')).body.metadata.length,
  });
  const was = await snapshot();
  const uuid = randomUUID();
  const post = (body: unknown) => ['POST', '/v1/guests', body] as const;
  const put = (name: string, body: unknown) => ['PUT', `/v1/guests/${name}/state`, body] as const;
  const cases: [string, string, unknown, number, RegExp, Record<string, string>?][] = [
    ['GET', '/v1/guests/nope', undefined, 404, /no guest named 'nope'/],
    ['GET', '/v1/guests/Bad_Name', undefined, 400, /name/],
    ['DELETE', '/v1/guests/nope', undefined, 404, /no guest/],
    ['DELETE', '/v1/guests/e2', undefined, 409, /running: stop it/],
    [...post({}), 400, /^name: /],
    [...post({ name: '-bad' }), 400, /^name: .*DNS label/],
    [...post({ name: 'a'.repeat(64) }), 400, /^name: /],
    [...post({ name: 'UPPER' }), 400, /^name: /],
    [...post({ name: 123 }), 400, /^name: /],
    [...post(echoSpec('e1')), 409, /exists already/],
    [...post(echoSpec('m1', { memory: '1M' })), 400, /^memory: /],
    [...post(echoSpec('m2', { memory: 'lots' })), 400, /^memory: .*lots/],
    [...post(echoSpec('m3', { memory: '8G' })), 400, /^memory: /],
    [...post(echoSpec('v1', { cpus: 9 })), 400, /^cpus: cpus is between 1 and 8/],
    [
      ...post(echoSpec('d1', { disks: [{ path: 'rel.img' }] })),
      400,
      /^disks\.0\.path: give an absolute path/,
    ],
    [
      ...post(echoSpec('d2', { disks: [{ path: '/no/such.img' }] })),
      400,
      /^disks\.0\.path: no such file/,
    ],
    [
      ...post(echoSpec('d3', { disks: Array.from({ length: 6 }, (_, i) => ({ path: `/d${i}` })) })),
      400,
      /^disks: at most 5/,
    ],
    [...post(echoSpec('n1', { network: { kind: 'wifi' } })), 400, /^network/],
    [
      ...post(echoSpec('n2', { network: { kind: 'user', forwards: ['99999:80'] } })),
      400,
      /^network\.forwards\.0: /,
    ],
    [...post(echoSpec('n3', { network: { kind: 'tap' } })), 400, /^network\.bridge: /],
    [
      ...post(echoSpec('n4', { network: { kind: 'tap', bridge: 'br 0' } })),
      400,
      /^network\.bridge: a Linux interface name/,
    ],
    [
      ...post(echoSpec('n5', { network: { kind: 'tap', bridge: NO_BRIDGE } })),
      400,
      root
        ? new RegExp(`^network\\.bridge: there is no bridge "${NO_BRIDGE}".*ip link add`)
        : NOT_ROOT,
    ],
    [
      ...post(echoSpec('n6', { network: { kind: 'tap', bridge: 'lo' } })),
      400,
      root ? /^network\.bridge: "lo" is a network interface but not a bridge/ : NOT_ROOT,
    ],
    [
      ...post(echoSpec('n7', { network: { kind: 'user', mac: '52:54:00:12:34' } })),
      400,
      /^network\.mac: .*not a MAC address/,
    ],
    [
      ...post(
        echoSpec('n8', { network: { kind: 'tap', bridge: 'br0', mac: '01:00:5e:00:00:01' } }),
      ),
      400,
      /^network\.mac: .*multicast/,
    ],
    [
      ...post(echoSpec('n9', { network: { kind: 'tap', bridge: 'br0', forwards: ['80'] } })),
      400,
      /^network.*forwards/,
    ],
    [
      ...post({ name: 'b1', boot: { image: '/no/such/dir' } }),
      400,
      /^boot\.image: no such directory/,
    ],
    [
      ...post({ name: 'b2', boot: { firmware: '/no/such/fw' } }),
      400,
      /^boot\.firmware: no such file/,
    ],
    [...post({ name: 'b3', boot: { kernel: '/x' } }), 400, /^boot\.firmware: /],
    [...post({ name: 'b4', boot: { image: '/tmp', firmware: '/x' } }), 400, /^boot: /],
    [...post(echoSpec('r1', { restart: 'sometimes' })), 400, /^restart: /],
    [...post(echoSpec('a1', { autostart: 'yes' })), 400, /^autostart: /],
    [...post(echoSpec('t1', { stopTimeout: 99999 })), 400, /^stopTimeout: /],
    [...post(echoSpec('f1', { frobnicate: 1 })), 400, /frobnicate/],
    ['POST', '/v1/guests', '{"name": "j1"', 400, /JSON/],
    ['POST', '/v1/guests', '[1, 2]', 400, /JSON object/],
    ['POST', '/v1/guests', 'name=x', 415, /JSON/, { 'content-type': 'text/plain' }],
    [...put('e2', { action: 'fly' }), 400, /^action: /],
    [...put('e2', {}), 400, /^action: /],
    [...put('e2', { action: 'start' }), 409, /running already/],
    [...put('e2', { action: 'resume' }), 409, /not paused/],
    [...put('e3', { action: 'pause' }), 409, /crashed, not running/],
    [...put('e3', { action: 'stop' }), 409, /crashed already/],
    [...put('e2', { action: 'stop', timeout: -1 }), 400, /^timeout: /],
    [...put('e2', { action: 'stop', force: 'yes' }), 400, /^force: /],
    [...put('e2', { action: 'pause', timeout: 5 }), 400, /timeout/],
    [...put('e2', { action: 'stop', extra: 1 }), 400, /extra/],
    [...put('nope', { action: 'start' }), 404, /no guest named/],
    ['GET', '/v1/operations/not-a-uuid', undefined, 400, /UUID/],
    ['GET', `/v1/operations/${uuid}`, undefined, 404, /no such operation/],
    ['GET', `/v1/operations/${uuid}/wait?timeout=abc`, undefined, 400, /^timeout: /],
    ['GET', '/v1/nothing', undefined, 404, /no such resource/],
    [
      'GET',
      '/v1/guests/e2/console?replay=false',
      undefined,
      400,
      /^replay, write, force: .*WebSocket/,
    ],
    [
      'GET',
      '/v1/guests/e2/console?force=true',
      undefined,
      400,
      /^replay, write, force: .*WebSocket/,
    ],
    ['GET', '/v1/guests/e2/console?write=maybe', undefined, 400, /write/],
    ['GET', '/v1/guests/e2/console?lines=0', undefined, 400, /^lines: /],
    ['GET', '/v1/events?limit=0', undefined, 400, /^limit: /],
    ['GET', '/v1/guests/nope/logs', undefined, 404, /no guest/],
  ];
  assert.ok(cases.length >= 30);
  const failures: string[] = [];
  for (const [method, path, body, status, message, headers] of cases) {
    const r = await http(socket, method, path, body, headers);
    const ok =
      r.status === status &&
      r.body?.type === 'error' &&
      r.body?.error_code === status &&
      typeof r.body?.error === 'string' &&
      message.test(r.body.error);
    if (!ok) failures.push(`${method} ${path} ${JSON.stringify(body)} → ${r.status} ${r.text}`);
  }
  assert.deepEqual(failures, [], failures.join('\n'));
  assert.deepEqual(await snapshot(), was, 'nothing changed');
});

test('the OpenAPI document and the metrics', async () => {
  const o = await daemon.api('GET', '/v1/openapi.json');
  assert.equal(o.status, 200);
  assert.equal(o.body.openapi, '3.0.3');
  for (const p of [
    '/v1/guests',
    '/v1/guests/{name}',
    '/v1/guests/{name}/state',
    '/v1/operations/{id}/wait',
  ]) {
    assert.ok(o.body.paths[p], p);
  }
  const consoleDoc = o.body.paths['/v1/guests/{name}/console'].get;
  assert.match(consoleDoc.description, /console log/);
  assert.deepEqual(
    consoleDoc.parameters
      .filter((x: { in: string }) => x.in === 'query')
      .map((x: { name: string }) => x.name)
      .sort(),
    ['force', 'lines', 'replay', 'write'],
  );
  assert.ok(o.body.paths['/v1/guests'].post.requestBody, 'the guest spec is documented');
  const m = await http(socket, 'GET', '/metrics');
  assert.equal(m.status, 200);
  // Read as Prometheus would: every guest has its state; every running one all its series.
  const families = new Map(parsePrometheusTextFormat(m.text).map((f) => [f.name, f]));
  const samples = (name: string): { value: string; labels?: Record<string, string> }[] => {
    const f = families.get(name);
    assert.ok(f, `no family ${name}`);
    assert.equal(f.type, 'GAUGE', name);
    return f.metrics;
  };
  const guests = (await daemon.api('GET', '/v1/guests')).body.metadata as {
    name: string;
    state: string;
  }[];
  const running = guests.filter((g) => g.state === 'running').map((g) => g.name);
  assert.equal(running.length, 2);
  assert.equal(
    samples('berth_guests').find((x) => x.labels?.state === 'running')?.value,
    String(running.length),
  );
  for (const g of guests) {
    const st = samples('berth_guest_state').filter((x) => x.labels?.guest === g.name);
    assert.deepEqual(
      st.map((x) => [x.labels?.state, x.value]),
      [[g.state, '1']],
      g.name,
    );
  }
  for (const name of [
    'berth_guest_instructions',
    'berth_guest_mips',
    'berth_guest_rss_bytes',
    'berth_guest_cpu_seconds',
    'berth_guest_memory_bytes',
    'berth_guest_disk_read_bytes',
    'berth_guest_disk_written_bytes',
    'berth_guest_disk_reads',
    'berth_guest_disk_writes',
  ]) {
    for (const g of running) {
      const x = samples(name).find((v) => v.labels?.guest === g);
      assert.ok(x && Number.isFinite(Number(x.value)), `${name} of ${g}`);
    }
  }
  for (const g of running) {
    const v = (name: string): number =>
      Number(samples(name).find((x) => x.labels?.guest === g)!.value);
    assert.ok(v('berth_guest_instructions') > 0, g);
    assert.ok(v('berth_guest_rss_bytes') > 16 << 20, g);
    assert.equal(v('berth_guest_memory_bytes'), 32 << 20, g);
  }
});

test('stop: graceful with a timeout (the echo guest ignores its power button), then forced; delete', async () => {
  const t0 = Date.now();
  const op = await daemon.act('e2', { action: 'stop', timeout: 1 });
  assert.equal(op.status, 'Success', op.err);
  assert.ok(Date.now() - t0 >= 1000, 'it waited for the power button first');
  const e2 = await daemon.guest('e2');
  assert.deepEqual([e2.state, e2.reason, e2.pid], ['stopped', 'user', null]);
  const op1 = await daemon.act('e1', { action: 'stop', force: true });
  assert.equal(op1.status, 'Success', op1.err);
  assert.equal((await daemon.guest('e1')).state, 'stopped');
  for (const n of ['e1', 'e2', 'e3'])
    assert.equal((await daemon.api('DELETE', `/v1/guests/${n}`)).status, 200);
  assert.deepEqual((await daemon.api('GET', '/v1/guests')).body.metadata, []);
});

test('a guest that powers off by itself: stopped (guest-shutdown); restart always boots it again', async () => {
  const quitFromConsole = async (name: string): Promise<void> => {
    const ws = new WebSocket(`ws+unix://${socket}:/v1/guests/${name}/console`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(Buffer.from('q')); // the echo guest powers off on q
    await new Promise((r) => ws.once('close', r));
  };
  for (const [name, restart] of [
    ['g1', 'always'],
    ['g2', 'no'],
  ]) {
    assert.equal((await daemon.api('POST', '/v1/guests', echoSpec(name, { restart }))).status, 201);
    assert.equal((await daemon.act(name, { action: 'start' })).status, 'Success');
  }
  const g1 = await daemon.guest('g1');
  await quitFromConsole('g1');
  await quitFromConsole('g2');
  await until('g1 back', async () => {
    const g = await daemon.guest('g1');
    return g.state === 'running' && g.pid !== g1.pid;
  });
  const ev = (await daemon.api('GET', '/v1/events?guest=g1')).body.metadata.map(
    (e: { type: string; reason: string }) => `${e.type}/${e.reason}`,
  );
  assert.deepEqual(ev.slice(-3), [
    'stopped/guest-shutdown',
    'starting/restarted',
    'running/booted',
  ]);
  const g2 = await until('g2 stopped', async () => {
    const g = await daemon.guest('g2');
    return g.state === 'stopped' ? g : null;
  });
  assert.equal(g2.reason, 'guest-shutdown');
  assert.equal((await daemon.act('g1', { action: 'stop', force: true })).status, 'Success');
  for (const n of ['g1', 'g2'])
    assert.equal((await daemon.api('DELETE', `/v1/guests/${n}`)).status, 200);
});

test('cleanup: the daemon stops on SIGTERM and nothing of this test is left running', async () => {
  assert.equal(await daemon.stop(), 0);
  await until('no process of ours', () => processesMentioning(dir).length === 0, 5000);
});
