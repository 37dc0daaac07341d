// Live migration between two VMMs over TCP on 127.0.0.1 (src/vmm/migration/): the echo guest
// moves while it runs and echoes on at the destination; a guest that keeps dirtying memory
// moves under a small bandwidth only because its throttle went up; a destination killed
// mid-way, a stream with one flipped byte, a destination of another memory size: each is
// refused or noticed, and the source guest runs on, whole. Over TLS with a token: it moves; a
// wrong token, a wrong certificate fingerprint, a source without TLS are refused with the
// source running on and the destination still waiting for the right source; connections that
// send nothing do not keep that source out.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest, openConsole } from '../../src/vmm/controlClient.js';
import { parseVmmConfig } from '../../src/vmm/config.js';
import { ADMIT_MS } from '../../src/vmm/migration/destination.js';
import type { MigrationStats } from '../../src/vmm/migration/stats.js';
import { FrameReader, MSG_ERROR, parseJsonPayload } from '../../src/vmm/migration/wire.js';
import type { VmmStatus } from '../../src/vmm/status.js';
import { BERTH_CLI } from '../integration/session.js';
import { echoGuestElf } from './echoGuest.js';
import { migrationEnded, printFigures, startEcho, typeInto, type EchoVmm } from './echoVmm.js';
import { flipRelay } from './flipRelay.js';
import { freePort, sleep, until } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-vmm-mig-'));
after(() => rmSync(dir, { recursive: true, force: true }));
chmodSync(dir, 0o755);

const status = (sock: string): Promise<VmmStatus> =>
  controlRequest<VmmStatus>(sock, { cmd: 'status' });

async function send(sock: string, bytes: string): Promise<void> {
  const c = await openConsole(sock, { replay: false });
  c.socket.write(bytes);
  await sleep(50);
  c.socket.destroy();
}

async function incoming(
  name: string,
  extra: Record<string, unknown> = {},
): Promise<EchoVmm & { addr: string }> {
  const b = await startEcho(dir, name, { incoming: { listen: '127.0.0.1:0' }, ...extra });
  return { ...b, addr: b.vmm.incoming!.address };
}

/** A source that keeps running after a failed migration: it echoes and counts on. */
async function runsOn(a: EchoVmm): Promise<void> {
  const s1 = await status(a.sock);
  assert.equal(s1.state, 'running');
  await typeInto(a.sock, 'zz', a.out);
  const s2 = await status(a.sock);
  assert.ok(s2.instructions > s1.instructions, 'the source guest runs on');
}

test('an idle guest migrates on loopback: the destination echoes on from where it was, the source exits 0', async () => {
  const a = await startEcho(dir, 'idle-a');
  const b = await incoming('idle-b');
  try {
    assert.equal((await status(b.sock)).state, 'incoming');
    await typeInto(a.sock, 'ab', a.out);
    const before = (await status(a.sock)).instructions;
    const r = await controlRequest<MigrationStats>(a.sock, {
      cmd: 'migrate',
      to: b.addr,
      downtimeMs: 300,
    });
    assert.equal(r.direction, 'out');
    const m = await migrationEnded(a);
    assert.deepEqual(await a.done, { kind: 'migrated', code: 0 });
    assert.equal(m.status, 'completed', m.error);
    assert.ok(m.downtimeMs !== null && m.downtimeMs < 1000, `downtime ${m.downtimeMs} ms`);
    printFigures('idle guest, 32 MiB', m);
    const s = await status(b.sock);
    assert.equal(s.state, 'running');
    assert.ok(s.instructions > before, `${s.instructions} instructions go on from ${before}`);
    assert.equal(s.migration?.status, 'completed');
    await typeInto(b.sock, 'xy', b.out);
    assert.equal(b.out(), 'xy', 'no boot banner: the guest went on from the source');
  } finally {
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

test('a guest dirtying memory migrates under a small bandwidth because its throttle goes up', async () => {
  const a = await startEcho(dir, 'dirty-a');
  const b = await incoming('dirty-b');
  try {
    await send(a.sock, '\x17');
    await sleep(300);
    await controlRequest(a.sock, {
      cmd: 'migrate',
      to: b.addr,
      downtimeMs: 300,
      maxBandwidth: 4 << 20,
      timeoutS: 90,
    });
    const m = await migrationEnded(a, 100_000);
    printFigures('guest dirtying 4 MiB in a loop, 4 MiB/s', m);
    assert.equal(m.status, 'completed', m.error);
    assert.ok(m.maxThrottlePercent >= 20, `throttle reached ${m.maxThrottlePercent}%`);
    assert.ok(m.rounds >= 3, `${m.rounds} rounds`);
    assert.deepEqual(await a.done, { kind: 'migrated', code: 0 });
    await typeInto(b.sock, 'k', b.out); // the byte ends the loop and is echoed
    assert.equal(b.out(), 'k');
  } finally {
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

test('a destination killed mid-way leaves the source guest running', async () => {
  const port = await freePort();
  const sockB = join(dir, 'kill-b.sock');
  const cfg = join(dir, 'kill-b.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      name: 'kill-b',
      memory: '32M',
      firmware: echoGuestElf(),
      controlSocket: sockB,
      incoming: { listen: `127.0.0.1:${port}` },
    }),
  );
  const child = spawn(process.execPath, [BERTH_CLI, 'vmm', '--config', cfg], { stdio: 'ignore' });
  const a = await startEcho(dir, 'kill-a');
  try {
    await until('the destination to listen', () => existsSync(sockB));
    await send(a.sock, '\x17');
    await controlRequest(a.sock, {
      cmd: 'migrate',
      to: `127.0.0.1:${port}`,
      maxBandwidth: 4 << 20,
    });
    await until(
      'the first round to be under way',
      async () => ((await status(a.sock)).migration?.pagesSent ?? 0) > 500,
    );
    child.kill('SIGKILL');
    const m = await migrationEnded(a);
    printFigures('destination killed', m);
    assert.equal(m.status, 'failed');
    assert.match(m.error ?? '', /closed|cut short|broke/);
    assert.equal(m.throttlePercent, 0);
    await runsOn(a);
  } finally {
    child.kill('SIGKILL');
    a.vmm.quit();
    await a.done;
  }
});

test('a stream with one flipped byte is refused; the destination starts nothing, the source runs on', async () => {
  const a = await startEcho(dir, 'flip-a');
  const b = await incoming('flip-b');
  const relay = await flipRelay(b.addr, () => 3000); // inside round 1's first batch of pages
  try {
    await controlRequest(a.sock, { cmd: 'migrate', to: relay.address });
    const m = await migrationEnded(a);
    printFigures('one flipped byte', m);
    assert.equal(m.status, 'failed');
    assert.match(m.error ?? '', /refused.*(checksum|damaged)/);
    const exit = await b.done;
    assert.equal(exit.kind, 'incoming-failed');
    assert.equal(exit.code, 1);
    assert.equal(b.out(), '', 'the destination never ran the guest');
    await runsOn(a);
  } finally {
    relay.server.close();
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

/** Whether something listens on 127.0.0.1:`port` (a connection is taken). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ host: '127.0.0.1', port });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

const userNet = (...ports: number[]) => ({
  net: {
    kind: 'user',
    forwards: ports.map((p) => ({
      proto: 'tcp',
      hostPort: p,
      guestPort: 80,
      hostAddress: '127.0.0.1',
    })),
  },
});

test('port forwards move at the switch: a destination on the same host binds them once the source let them go', async () => {
  const port = await freePort();
  const a = await startEcho(dir, 'fwd-a', userNet(port));
  let b: Awaited<ReturnType<typeof incoming>> | null = null;
  try {
    // The destination starts while the source holds the port (it used to fail here: in use).
    b = await incoming('fwd-b', userNet(port));
    assert.ok(await listening(port), 'the source holds the forwarded port');
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr });
    const m = await migrationEnded(a);
    assert.equal(m.status, 'completed', m.error);
    assert.deepEqual(await a.done, { kind: 'migrated', code: 0 });
    assert.equal((await status(b.sock)).state, 'running');
    assert.ok(await listening(port), 'the destination holds the forwarded port now');
    await typeInto(b.sock, 'fw', b.out);
  } finally {
    a.vmm.quit();
    b?.vmm.quit();
    await Promise.all([a.done, b?.done]);
  }
  assert.equal(await listening(port), false, 'the port is free once both VMMs ended');
});

test('a destination that cannot bind its port forwards refuses the switch; the source runs on with its own', async () => {
  const [mine, taken] = [await freePort(), await freePort()];
  const squatter = createServer();
  await new Promise<void>((r) => squatter.listen(taken, '127.0.0.1', r));
  const a = await startEcho(dir, 'fwdx-a', userNet(mine));
  let b: Awaited<ReturnType<typeof incoming>> | null = null;
  try {
    b = await incoming('fwdx-b', userNet(taken));
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr });
    const m = await migrationEnded(a);
    assert.equal(m.status, 'failed');
    assert.match(m.error ?? '', /port forwards cannot be bound here.*in use/);
    assert.equal((await b.done).kind, 'incoming-failed');
    await runsOn(a);
    assert.ok(await listening(mine), 'the source bound its forward again');
  } finally {
    squatter.close();
    a.vmm.quit();
    b?.vmm.quit();
    await Promise.all([a.done, b?.done]);
  }
});

test('a destination of another memory size refuses at hello', async () => {
  const a = await startEcho(dir, 'mem-a');
  const b = await incoming('mem-b', { memory: '64M' });
  try {
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr });
    const m = await migrationEnded(a);
    assert.equal(m.status, 'failed');
    assert.match(
      m.error ?? '',
      /refused: memory: the source's guest has 33554432 bytes, this VMM 67108864/,
    );
    assert.equal(m.rounds, 0);
    assert.equal((await b.done).code, 1);
    await runsOn(a);
    const bad = await controlRequest(a.sock, { cmd: 'migrate', to: 'nowhere' }).catch(
      (e: Error) => e,
    );
    assert.match(String(bad), /HOST:PORT/);
  } finally {
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

/** A self-signed certificate (P-256) for a destination, and its SHA-256 fingerprint. */
function selfSigned(name: string): { cert: string; key: string; fingerprint: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
      '-days',
      '1',
      '-subj',
      '/CN=berth-test',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]),
    { stdio: 'ignore' },
  );
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  return { cert, key, fingerprint: new X509Certificate(cert).fingerprint256 };
}

const cert = selfSigned('dest');
const token = randomBytes(32).toString('hex');
const secure = { tls: { fingerprint: cert.fingerprint }, token };

/** A destination waiting for a stream over TLS (with `cert`) that carries `token`. */
async function secureIncoming(
  name: string,
  opts: { tls?: boolean; token?: boolean } = { tls: true, token: true },
): Promise<EchoVmm & { addr: string }> {
  const b = await startEcho(dir, name, {
    incoming: {
      listen: '127.0.0.1:0',
      ...(opts.tls ? { tls: { cert: cert.cert, key: cert.key } } : {}),
      ...(opts.token ? { token } : {}),
    },
  });
  return { ...b, addr: b.vmm.incoming!.address };
}

/** The destination still waits for its stream, having turned `refused` connections away. */
async function stillWaiting(b: EchoVmm, refused: number): Promise<void> {
  await until('the destination to count the refused connection', async () => {
    const m = (await status(b.sock)).migration;
    return (m?.refused ?? 0) >= refused;
  });
  const s = await status(b.sock);
  assert.equal(s.state, 'incoming');
  assert.equal(s.migration?.status, 'setup');
  assert.equal(s.migration?.refused, refused);
  assert.equal(b.out(), '', 'the destination runs nothing');
}

/** Migrates `a` into `b` with `opts`; checks that the guest echoes on at `b`. */
async function moveInto(a: EchoVmm, b: EchoVmm & { addr: string }, what: string, opts = secure) {
  await typeInto(a.sock, 'ab', a.out);
  await controlRequest(a.sock, { cmd: 'migrate', to: b.addr, ...opts });
  const m = await migrationEnded(a);
  printFigures(what, m);
  assert.equal(m.status, 'completed', m.error);
  assert.deepEqual(await a.done, { kind: 'migrated', code: 0 });
  assert.equal((await status(b.sock)).state, 'running');
  await typeInto(b.sock, 'xy', b.out);
  assert.equal(b.out(), 'xy', 'the guest went on from the source');
  return m;
}

test('an idle guest migrates over TLS with a token; the destination echoes on', async () => {
  const a = await startEcho(dir, 'tls-a');
  const b = await secureIncoming('tls-b');
  try {
    const m = await moveInto(a, b, 'idle guest, 32 MiB, over TLS with a token');
    assert.equal(m.tls, true);
    const mb = (await status(b.sock)).migration;
    assert.equal(mb?.status, 'completed');
    assert.equal(mb?.tls, true);
    assert.equal(mb?.refused, 0);
  } finally {
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

test('a wrong or missing token is refused; the destination waits on and takes the right source', async () => {
  const a = await startEcho(dir, 'tok-a');
  const b = await secureIncoming('tok-b');
  try {
    const wrong = randomBytes(32).toString('hex');
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr, ...secure, token: wrong });
    const m = await migrationEnded(a);
    assert.equal(m.status, 'failed');
    process.stdout.write(`# wrong token: ${m.error}\n`);
    assert.match(m.error ?? '', /refused: wrong migration token/);
    assert.equal(m.rounds, 0);
    await runsOn(a);
    await stillWaiting(b, 1);
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr, tls: secure.tls });
    assert.match((await migrationEnded(a)).error ?? '', /refused: wrong migration token/);
    await runsOn(a);
    await stillWaiting(b, 2);
    await moveInto(a, b, 'right token after two wrong ones');
  } finally {
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

test('a destination certificate of another fingerprint is refused before anything is sent', async () => {
  const a = await startEcho(dir, 'fp-a');
  const b = await secureIncoming('fp-b');
  try {
    const other = selfSigned('other').fingerprint;
    await controlRequest(a.sock, {
      cmd: 'migrate',
      to: b.addr,
      token,
      tls: { fingerprint: other.replace(/:/g, '').toLowerCase() },
    });
    const m = await migrationEnded(a);
    assert.equal(m.status, 'failed');
    assert.equal(
      m.error,
      `the destination's certificate has fingerprint ${cert.fingerprint}, not ${other}`,
    );
    assert.equal(m.bytesSent, 0, 'nothing was sent');
    await runsOn(a);
    await stillWaiting(b, 1); // a TLS connection closed before any hello
    for (const tls of [{ fingerprint: 'ab:cd' }, { fingerprint: other, pin: true }, 'x']) {
      const bad = await controlRequest(a.sock, { cmd: 'migrate', to: b.addr, tls }).catch(
        (e: Error) => e,
      );
      assert.match(String(bad), /"tls" must be \{"fingerprint"/);
    }
    const short = await controlRequest(a.sock, { cmd: 'migrate', to: b.addr, token: 'ab12' }).catch(
      (e: Error) => e,
    );
    assert.match(String(short), /"token" must be hex/);
  } finally {
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

test('a source without TLS against a TLS destination, and the other way round, fail cleanly', async () => {
  const a = await startEcho(dir, 'plain-a');
  const b = await secureIncoming('plain-b');
  const c = await incoming('plain-c');
  try {
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr, token });
    const m = await migrationEnded(a);
    assert.equal(m.status, 'failed');
    process.stdout.write(`# plain source, TLS destination: ${m.error}\n`);
    assert.match(m.error ?? '', /(closed the stream|broke).*does it take TLS only/);
    await runsOn(a);
    await stillWaiting(b, 1); // its TLS handshake failed
    // A TLS source against a plain destination: the handshake fails; that destination took
    // the connection as its stream and refuses it, as a plain one does any stranger.
    await controlRequest(a.sock, { cmd: 'migrate', to: c.addr, ...secure });
    const m2 = await migrationEnded(a);
    assert.equal(m2.status, 'failed');
    process.stdout.write(`# TLS source, plain destination: ${m2.error}\n`);
    assert.match(m2.error ?? '', /TLS handshake with .* failed: .*does it listen without TLS/);
    assert.equal(m2.bytesSent, 0);
    await runsOn(a);
    const exit = await c.done;
    assert.equal(exit.kind, 'incoming-failed');
    assert.equal(c.out(), '');
  } finally {
    a.vmm.quit();
    b.vmm.quit();
    c.vmm.quit();
    await Promise.all([a.done, b.done, c.done]);
  }
});

test('connections that send nothing do not keep the right source out', async () => {
  const a = await startEcho(dir, 'mute-a');
  const b = await secureIncoming('mute-b');
  const [host, port] = b.addr.split(':');
  const mute = (): Promise<{ closed: Promise<number>; error: Promise<string> }> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const s = tlsConnect({ host, port: Number(port), rejectUnauthorized: false }, () => {
        const reader = new FrameReader(s, 'the destination');
        const error = reader.next().then((f) => {
          assert.equal(f.type, MSG_ERROR);
          return String(parseJsonPayload(f, 'error').message);
        });
        error.catch(() => {});
        const closed = new Promise<number>((r) => s.on('close', () => r(performance.now() - t0)));
        resolve({ closed, error });
      });
      s.on('error', reject);
    });
  let raw: Socket | null = null;
  try {
    const first = await mute();
    assert.equal(await first.error, `no hello within ${ADMIT_MS / 1000} s`);
    const waited = await first.closed;
    assert.ok(waited >= ADMIT_MS - 100, `a mute connection was cut after ${waited} ms`);
    await stillWaiting(b, 1);
    raw = connect({ host, port: Number(port) }); // not even a TLS handshake
    raw.on('error', () => {});
    const second = await mute();
    const third = await mute();
    const m = await moveInto(a, b, 'with mute connections open');
    assert.equal(m.status, 'completed');
    // They were closed as the right source came in, not after waiting their time out.
    for (const c of [second, third]) {
      const ms = await c.closed;
      assert.ok(ms < ADMIT_MS - 1000, `a mute connection stayed ${ms} ms`);
    }
  } finally {
    raw?.destroy();
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

test('the incoming tls and token are checked with the config', () => {
  const base = { memory: '32M', firmware: echoGuestElf() };
  const bad = (incoming: unknown): string => {
    try {
      parseVmmConfig({ ...base, incoming });
      return 'accepted';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.equal(
    bad({ listen: '127.0.0.1:0', token: 'abc' }),
    'incoming.token: hex, at least 32 digits',
  );
  assert.match(
    bad({ listen: '127.0.0.1:0', tls: { cert: 'x', key: cert.key } }),
    /incoming\.tls\.cert: a PEM certificate/,
  );
  assert.equal(
    bad({ listen: '127.0.0.1:0', tls: { cert: cert.cert, key: cert.key }, token }),
    'accepted',
  );
});
