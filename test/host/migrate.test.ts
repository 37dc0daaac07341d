// Live migration between two real daemons on one machine (loopback, each with its own state
// folder and its API over TLS): a running echo guest moves from daemon A to daemon B while it
// runs; B runs it (reason migrated) and it echoes there, A forgets it and its VMM is gone; the
// operation carries the migration's statistics. Refusals leave the guest running on A in the
// same VMM: a destination that has a guest of that name, a wrong certificate fingerprint, a bad
// URL, a guest that is not running. `berth migrate` does the same from the command line.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { echoGuestElf } from '../vmm/echoGuest.js';
import {
  alive,
  berthCli,
  type Json,
  killAndRemove,
  openGuestConsole,
  processesMentioning,
  sleep,
  until,
} from './harness.js';
import { destination, startRemoteHost, toFlags, type RemoteHost } from './remoteHosts.js';

type Host = RemoteHost;
const hosts: Host[] = [];
let echo: string;

/** A daemon on a new state folder, or again on `old`'s (a restart: it adopts what runs). */
async function startHost(prefix: string, old?: Host): Promise<Host> {
  const h = await startRemoteHost(prefix, old);
  if (!old) hosts.push(h);
  return h;
}

let a: Host;
let b: Host;

before(async () => {
  echo = echoGuestElf();
  a = await startHost('bhm-a-');
  b = await startHost('bhm-b-');
});

after(async () => {
  for (const h of hosts) {
    await h.daemon.stop().catch(() => null);
    killAndRemove(h.dir);
  }
});

const to = destination;

async function runningEcho(h: Host, name: string): Promise<{ pid: number }> {
  const c = await h.daemon.api('POST', '/v1/guests', {
    name,
    memory: '32M',
    boot: { firmware: echo },
  });
  assert.equal(c.status, 201, c.text);
  const op = await h.daemon.act(name, { action: 'start' });
  assert.equal(op.status, 'Success', op.err);
  return h.daemon.guest(name);
}

/** Types `text` on the guest's console and waits for it to come back (the echo guest). */
async function echoes(h: Host, name: string, text: string): Promise<void> {
  let out = '';
  const ws = await openGuestConsole(h.socket, name, (t) => (out += t), '?replay=false');
  try {
    await sleep(200);
    ws.send(Buffer.from(text));
    await until(`${name} to echo ${text}`, () => out.includes(text), 10_000);
  } finally {
    ws.close();
  }
}

async function migrate(name: string, body: Record<string, unknown>): Promise<Json> {
  const r = await a.daemon.api('POST', `/v1/guests/${name}/migrate`, body);
  assert.equal(r.status, 202, r.text);
  const w = await a.daemon.api('GET', `${r.body.operation}/wait?timeout=60`);
  return w.body.metadata;
}

/**
 * Waits until A's migration operation `op` has pages on the wire (B's VMM started, the stream
 * paced at a few KiB/s): a while on a loaded host, where starting B's VMM alone takes seconds.
 */
async function streamFlows(op: string): Promise<void> {
  await until(
    'the stream to flow',
    async () => {
      const m = (await a.daemon.api('GET', op)).body.metadata.metadata;
      return m?.status === 'active' && m.bytesSent > 0;
    },
    60_000,
  );
}

/** Waits for `name` to run on B (reason migrated) and for A to forget it. */
async function movedToB(name: string): Promise<void> {
  const there = await until(
    `${name} to run on B`,
    async () => {
      const v = await b.daemon.guest(name);
      return v?.state === 'running' ? v : null;
    },
    60_000,
    200,
  );
  assert.equal(there.reason, 'migrated');
  await until(
    `A to forget ${name}`,
    async () => (await a.daemon.api('GET', `/v1/guests/${name}`)).status === 404,
    60_000,
    200,
  );
}

test('a running guest moves to the other daemon: it echoes there, the source forgets it', async () => {
  const g = await runningEcho(a, 'm1');
  await echoes(a, 'm1', 'before-move');
  const op = await migrate('m1', to(b));
  assert.equal(op.status, 'Success', op.err);
  const stats = op.metadata;
  assert.equal(stats.status, 'completed');
  assert.equal(stats.direction, 'out');
  assert.equal(stats.tls, true, "the stream went over TLS pinned to B's certificate");
  assert.ok(stats.bytesSent > 0 && stats.rounds >= 1, JSON.stringify(stats));
  assert.equal(typeof stats.downtimeMs, 'number');
  process.stderr.write(
    `# daemon migration: ${stats.rounds} rounds, ${stats.bytesSent} bytes, ` +
      `total ${stats.totalMs} ms, downtime ${stats.downtimeMs} ms\n`,
  );

  // The operation ends once B shows the guest running.
  const there = await b.daemon.guest('m1');
  assert.equal(there.state, 'running');
  assert.equal(there.reason, 'migrated');
  assert.ok(alive(there.pid));
  await echoes(b, 'm1', 'after-move');
  const i0 = there.status.instructions;
  await until(
    'instructions to go on at B',
    async () => (await b.daemon.guest('m1')).status.instructions > i0,
  );

  assert.equal((await a.daemon.api('GET', '/v1/guests/m1')).status, 404);
  await until('the source VMM to end', () => !alive(g.pid), 10_000);
  const ev = (await a.daemon.api('GET', '/v1/events?guest=m1')).body.metadata.map(
    (e: { type: string; reason: string }) => `${e.type}/${e.reason}`,
  );
  assert.deepEqual(ev.slice(-3), ['migrating/user', 'stopped/migrated', 'deleted/migrated']);
  const evB = (await b.daemon.api('GET', '/v1/events?guest=m1')).body.metadata.map(
    (e: { type: string; reason: string }) => `${e.type}/${e.reason}`,
  );
  assert.deepEqual(evB, ['created/user', 'migrating/incoming', 'running/migrated']);
});

test('refused migrations leave the guest running on the source in the same VMM', async () => {
  const g = await runningEcho(a, 'm2');
  // B has a guest of that name already
  const c = await b.daemon.api('POST', '/v1/guests', {
    name: 'm2',
    memory: '32M',
    boot: { firmware: echo },
  });
  assert.equal(c.status, 201, c.text);
  const taken = await migrate('m2', to(b));
  assert.equal(taken.status, 'Failure');
  assert.match(
    taken.err,
    /cannot migrate 'm2': a guest named 'm2' exists already; it runs on here/,
  );
  // a certificate of another fingerprint: refused before the token is sent
  const other = await migrate('m2', to(b, { fingerprint: 'AB'.repeat(32) }));
  assert.equal(other.status, 'Failure');
  assert.match(other.err, /fingerprint/);
  for (const [body, msg] of [
    [to(b, { url: 'http://127.0.0.1:1' }), /https:\/\/HOST:PORT/],
    [to(b, { fingerprint: 'xyz' }), /64 hex digits/],
    [{ url: b.url }, /token/],
    [to(b, { downtimeMs: 0 }), /downtimeMs/],
  ] as const) {
    const r = await a.daemon.api('POST', '/v1/guests/m2/migrate', body);
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.error, msg);
  }
  const now = await a.daemon.guest('m2');
  assert.deepEqual([now.state, now.pid], ['running', g.pid]);
  await echoes(a, 'm2', 'still-here');
  assert.equal((await b.daemon.guest('m2')).state, 'stopped', "B's own guest is untouched");

  const st = await a.daemon.act('m2', { action: 'stop', force: true });
  assert.equal(st.status, 'Success', st.err);
  const stopped = await a.daemon.api('POST', '/v1/guests/m2/migrate', to(b));
  assert.equal(stopped.status, 409, stopped.text);
  assert.match(stopped.body.error, /only a running guest migrates/);
});

test('a destination VMM killed mid-way, or a cancel: the guest runs on here, the destination forgets it', async () => {
  const g = await runningEcho(a, 'm4');
  for (const how of ['kill', 'cancel'] as const) {
    // 4 KiB/s: its 18 KiB take seconds, time enough to act while the stream flows
    const r = await a.daemon.api('POST', '/v1/guests/m4/migrate', to(b, { maxBandwidth: 4096 }));
    assert.equal(r.status, 202, r.text);
    const incoming = await until('m4 to be migrating in at B', async () => {
      const v = await b.daemon.guest('m4');
      return v?.state === 'migrating' && v.pid ? v : null;
    });
    await streamFlows(r.body.operation);
    if (how === 'kill') process.kill(incoming.pid, 'SIGKILL');
    else assert.equal((await a.daemon.api('DELETE', r.body.operation)).status, 200);
    const op = (await a.daemon.api('GET', `${r.body.operation}/wait?timeout=30`)).body.metadata;
    assert.equal(op.status, how === 'kill' ? 'Failure' : 'Cancelled', JSON.stringify(op));
    assert.match(op.err, /it runs on here/);
    const now = await a.daemon.guest('m4');
    assert.deepEqual([now.state, now.reason, now.pid], ['running', 'migration-failed', g.pid]);
    await until(
      'B to forget m4',
      async () => (await b.daemon.api('GET', '/v1/guests/m4')).status === 404,
    );
    const evB = (await b.daemon.api('GET', '/v1/events?guest=m4')).body.metadata;
    assert.deepEqual(
      evB.slice(-2).map((e: { type: string; reason: string }) => `${e.type}/${e.reason}`),
      ['stopped/migration-failed', 'deleted/migration-failed'],
    );
  }
  await echoes(a, 'm4', 'still-running');
  assert.equal((await a.daemon.act('m4', { action: 'stop', force: true })).status, 'Success');
});

test('a source VMM that stops answering mid-way: the operation gives up on it; the guest moves once it goes on', async () => {
  const g = await runningEcho(a, 'm6');
  const r = await a.daemon.api('POST', '/v1/guests/m6/migrate', to(b, { maxBandwidth: 4096 }));
  assert.equal(r.status, 202, r.text);
  await streamFlows(r.body.operation);
  process.kill(g.pid, 'SIGSTOP');
  const t0 = Date.now();
  try {
    const op = (await a.daemon.api('GET', `${r.body.operation}/wait?timeout=60`)).body.metadata;
    assert.equal(op.status, 'Failure', JSON.stringify(op));
    assert.match(op.err, /has not answered for 20 s \(last seen: active\)/);
    assert.ok(Date.now() - t0 < 40_000, `gave up after ${Date.now() - t0} ms`);
    assert.equal((await a.daemon.guest('m6')).state, 'migrating');
  } finally {
    process.kill(g.pid, 'SIGCONT');
  }
  // Going on, the VMM finishes the move; the watcher reads it and A forgets the guest.
  await movedToB('m6');
  await echoes(b, 'm6', 'went-on');
});

test('berth migrate moves a guest from the command line and prints what it took', async () => {
  await runningEcho(a, 'm3');
  const r = berthCli(a.socket, 'migrate', 'm3', ...toFlags(b), '--downtime', '200');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /m3 migrated to https:\/\/127\.0\.0\.1:\d+: \d+ rounds?, .* downtime \d+ ms/);
  assert.equal((await b.daemon.guest('m3')).state, 'running', 'B shows it running when it ends');
  const bad = berthCli(a.socket, 'migrate', 'm3', '--to', b.url);
  assert.equal(bad.code, 2, bad.err);
  assert.match(bad.err, /--to-token-file/);
});

test('a drain moves every running guest; the host starts none meanwhile', async () => {
  await runningEcho(a, 'd1');
  await runningEcho(a, 'd2');
  const c = await a.daemon.api('POST', '/v1/guests', {
    name: 'd3',
    memory: '32M',
    boot: { firmware: echo },
  });
  assert.equal(c.status, 201, c.text);
  const r = await a.daemon.api('POST', '/v1/host/drain', to(b, { maxBandwidth: 8192 }));
  assert.equal(r.status, 202, r.text);
  const refused = await a.daemon.api('PUT', '/v1/guests/d3/state', { action: 'start' });
  assert.equal(refused.status, 409, refused.text);
  assert.match(refused.body.error, /the host is being drained/);
  const again = await a.daemon.api('POST', '/v1/host/drain', to(b));
  assert.equal(again.status, 409, again.text);
  const w = await a.daemon.api('GET', `${r.body.operation}/wait?timeout=60`);
  const op = w.body.metadata;
  assert.equal(op.status, 'Success', op.err);
  assert.deepEqual(
    op.metadata.guests.map((g: { guest: string; status: string }) => `${g.guest} ${g.status}`),
    ['d1 Success', 'd2 Success'],
  );
  for (const n of ['d1', 'd2']) {
    assert.equal((await b.daemon.guest(n)).state, 'running', n);
    assert.equal((await a.daemon.api('GET', `/v1/guests/${n}`)).status, 404, n);
  }
  assert.equal((await a.daemon.act('d3', { action: 'start' })).status, 'Success');
  await a.daemon.act('d3', { action: 'stop', force: true });
  const cli = berthCli(a.socket, 'host', 'drain', ...toFlags(b));
  assert.equal(cli.code, 0, cli.err);
  assert.match(cli.out, /drained: 0 guests migrated/);
});

test('a guest migrating in whose stream never comes is given up; the host forgets it', async () => {
  const r = await b.daemon.api('POST', '/v1/migrations/incoming', {
    spec: { name: 'lone', memory: '32M', boot: { firmware: echo } },
  });
  assert.equal(r.status, 201, r.text);
  assert.ok(r.body.metadata.port > 0);
  assert.match(r.body.metadata.token, /^[0-9a-f]{64}$/, 'a token for its one stream');
  const g = await b.daemon.guest('lone');
  assert.deepEqual([g.state, g.reason], ['migrating', 'incoming']);
  await until(
    'B to give lone up',
    async () => (await b.daemon.api('GET', '/v1/guests/lone')).status === 404,
    20_000,
    200,
  );
  const ev = (await b.daemon.api('GET', '/v1/events?guest=lone')).body.metadata;
  assert.equal(ev.at(-1).type, 'deleted');
  assert.equal(ev.at(-1).reason, 'migration-failed');
  await until('its VMM to end', () => !alive(g.pid), 10_000);
  const bad = await b.daemon.api('POST', '/v1/migrations/incoming', {
    spec: { name: 'x', memory: 'lots' },
  });
  assert.equal(bad.status, 400, bad.text);
  assert.equal((await b.daemon.api('GET', '/v1/guests/x')).status, 404, 'a bad spec makes nothing');
});

test('both daemons killed mid-way: the VMMs finish the migration; the new daemons adopt both sides', async () => {
  const g = await runningEcho(a, 'm5');
  const r = await a.daemon.api('POST', '/v1/guests/m5/migrate', to(b, { maxBandwidth: 4096 }));
  assert.equal(r.status, 202, r.text);
  await streamFlows(r.body.operation);
  for (const h of [a, b]) {
    h.daemon.child.kill('SIGKILL');
    await h.daemon.exited;
  }
  await startHost('', a);
  await startHost('', b);
  await movedToB('m5');
  await until('the source VMM to end', () => !alive(g.pid), 10_000);
  await echoes(b, 'm5', 'adopted-and-moved');
});

test('cleanup: both daemons stop and nothing of this test is left running', async () => {
  for (const h of [a, b]) {
    for (const g of (await h.daemon.api('GET', '/v1/guests')).body.metadata) {
      if (g.state !== 'stopped') await h.daemon.act(g.name, { action: 'stop', force: true });
    }
    assert.equal(await h.daemon.stop(), 0);
    await until('no process of ours', () => processesMentioning(h.dir).length === 0, 10_000);
  }
});
