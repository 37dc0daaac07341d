// Live migration between two VMMs over TCP on 127.0.0.1 (src/vmm/migration/): the echo guest
// moves while it runs and echoes on at the destination; a guest that keeps dirtying memory
// moves under a small bandwidth only because its throttle went up; a destination killed
// mid-way, a stream with one flipped byte, a destination of another memory size: each is
// refused or noticed, and the source guest runs on, whole.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest, openConsole } from '../../src/vmm/controlClient.js';
import type { MigrationStats } from '../../src/vmm/migration/stats.js';
import type { VmmStatus } from '../../src/vmm/status.js';
import { BERTH_CLI } from '../integration/session.js';
import { echoGuestElf } from './echoGuest.js';
import { startEcho, typeInto, type EchoVmm } from './echoVmm.js';
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

async function migrated(a: EchoVmm, ms = 60_000): Promise<MigrationStats> {
  let last: MigrationStats | null = null;
  await until(
    'the migration to end',
    () => {
      last = a.vmm.migrationStats();
      return last !== null && !['setup', 'active', 'device'].includes(last.status);
    },
    ms,
  );
  return last!;
}

function figures(what: string, m: MigrationStats): void {
  process.stdout.write(
    `# ${what}: ${m.status}, ${m.rounds} rounds, ${m.bytesSent} bytes, ${m.pagesSent} pages, ` +
      `total ${m.totalMs} ms, downtime ${m.downtimeMs} ms (expected ${m.expectedDowntimeMs}), ` +
      `throughput ${m.throughputBytesPerSecond} B/s, dirty ${m.dirtyBytesPerSecond} B/s, ` +
      `max throttle ${m.maxThrottlePercent}%\n`,
  );
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
    const m = await migrated(a);
    assert.deepEqual(await a.done, { kind: 'migrated', code: 0 });
    assert.equal(m.status, 'completed', m.error);
    assert.ok(m.downtimeMs !== null && m.downtimeMs < 1000, `downtime ${m.downtimeMs} ms`);
    figures('idle guest, 32 MiB', m);
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
      maxBandwidth: 8 << 20,
      timeoutS: 90,
    });
    const m = await migrated(a, 100_000);
    figures('guest dirtying 4 MiB in a loop, 8 MiB/s', m);
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
      maxBandwidth: 2 << 20,
    });
    await until(
      'the first round to be under way',
      async () => ((await status(a.sock)).migration?.pagesSent ?? 0) > 500,
    );
    child.kill('SIGKILL');
    const m = await migrated(a);
    figures('destination killed', m);
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
  const [host, port] = b.addr.split(':');
  let seen = 0;
  const FLIP_AT = 3000; // inside round 1's first batch of pages
  const relay = createServer((inbound: Socket) => {
    const out = connect({ host, port: Number(port) });
    inbound.on('data', (d: Buffer) => {
      if (seen <= FLIP_AT && seen + d.length > FLIP_AT) d[FLIP_AT - seen] ^= 0x10;
      seen += d.length;
      out.write(d);
    });
    out.pipe(inbound);
    inbound.on('close', () => out.destroy());
    out.on('close', () => inbound.destroy());
    inbound.on('error', () => {});
    out.on('error', () => {});
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const relayPort = (relay.address() as { port: number }).port;
  try {
    await controlRequest(a.sock, { cmd: 'migrate', to: `127.0.0.1:${relayPort}` });
    const m = await migrated(a);
    figures('one flipped byte', m);
    assert.equal(m.status, 'failed');
    assert.match(m.error ?? '', /refused.*(checksum|damaged)/);
    const exit = await b.done;
    assert.equal(exit.kind, 'incoming-failed');
    assert.equal(exit.code, 1);
    assert.equal(b.out(), '', 'the destination never ran the guest');
    await runsOn(a);
  } finally {
    relay.close();
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

test('a destination of another memory size refuses at hello', async () => {
  const a = await startEcho(dir, 'mem-a');
  const b = await incoming('mem-b', { memory: '64M' });
  try {
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr });
    const m = await migrated(a);
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
