// Live migration with the guest's storage between two real daemons on one machine (loopback,
// each with its own state folder and its API over TLS): with copyStorage the destination makes
// its own disk in its state folder (disks/), names it in the guest's spec, and its VMM takes
// the source's disk over the stream while the guest runs; afterwards the copy holds what the
// source's disk holds, and the source's file is as it was. A read-only disk missing at the
// destination is refused, saying why; a migration cancelled mid-way leaves the guest running
// on the source and no copy at the destination. `berth migrate --copy-storage` moves it back.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoGuestElf } from '../vmm/echoGuest.js';
import { berthCli, killAndRemove, until } from './harness.js';
import { destination, startRemoteHost, toFlags, type RemoteHost } from './remoteHosts.js';

type Host = RemoteHost;

const MIB = 1 << 20;
const hosts: Host[] = [];
const files = mkdtempSync(join(tmpdir(), 'bhms-files-'));
let a: Host;
let b: Host;

async function startHost(prefix: string): Promise<Host> {
  const h = await startRemoteHost(prefix);
  hosts.push(h);
  return h;
}

before(async () => {
  chmodSync(files, 0o711); // the VMMs' users pass through to their disks
  a = await startHost('bhms-a-');
  b = await startHost('bhms-b-');
});

after(async () => {
  for (const h of hosts) {
    await h.daemon.stop().catch(() => null);
    killAndRemove(h.dir);
  }
  rmSync(files, { recursive: true, force: true });
});

const to = (h: Host, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  destination(h, { copyStorage: true, ...extra });

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A 4 MiB raw disk: 2 MiB of random data, then zeros. */
function disk(name: string): string {
  const p = join(files, name);
  writeFileSync(p, Buffer.concat([randomBytes(2 * MIB), Buffer.alloc(2 * MIB)]));
  chmodSync(p, 0o644);
  return p;
}

async function runningEcho(h: Host, name: string, disks: object[]): Promise<{ pid: number }> {
  const c = await h.daemon.api('POST', '/v1/guests', {
    name,
    memory: '32M',
    boot: { firmware: echoGuestElf() },
    disks,
  });
  assert.equal(c.status, 201, c.text);
  const op = await h.daemon.act(name, { action: 'start' });
  assert.equal(op.status, 'Success', op.err);
  return h.daemon.guest(name);
}

const copiesAt = (h: Host, name: string): string[] =>
  readdirSync(join(h.dir, 'disks')).filter((f) => f.startsWith(`${name}.`));

test('a guest moves with its disk: the destination runs it on a copy that holds the same bytes', async () => {
  const src = disk('c1.img');
  const before = sha256(readFileSync(src));
  await runningEcho(a, 'c1', [{ path: src }]);
  const r = await a.daemon.api('POST', '/v1/guests/c1/migrate', to(b));
  assert.equal(r.status, 202, r.text);
  const op = (await a.daemon.api('GET', `${r.body.operation}/wait?timeout=60`)).body.metadata;
  assert.equal(op.status, 'Success', op.err);
  const m = op.metadata;
  process.stderr.write(
    `# daemon migration with storage: ${m.rounds} rounds, ${m.bytesSent} bytes ` +
      `(disk ${m.diskBytesSent}), total ${m.totalMs} ms, downtime ${m.downtimeMs} ms\n`,
  );
  assert.ok(m.diskBytesSent > 2 * MIB, `${m.diskBytesSent} disk bytes sent`);
  const there = await until('c1 to run on B', async () => {
    const v = await b.daemon.guest('c1');
    return v?.state === 'running' ? v : null;
  });
  assert.equal(there.reason, 'migrated');
  const copy = join(b.dir, 'disks', 'c1.0.img');
  const spec = (await b.daemon.api('GET', '/v1/guests/c1')).body.metadata.spec;
  assert.deepEqual(
    spec.disks.map((d: { path: string }) => d.path),
    [copy],
  );
  assert.equal(sha256(readFileSync(copy)), before, "B's copy holds the source's disk");
  assert.equal(sha256(readFileSync(src)), before, "the source's disk is as it was");
  await until(
    'A to forget c1',
    async () => (await a.daemon.api('GET', '/v1/guests/c1')).status === 404,
  );

  // Back with the command line: A makes its own copy of B's.
  const cli = berthCli(b.socket, 'migrate', 'c1', ...toFlags(a), '--copy-storage');
  assert.equal(cli.code, 0, cli.err);
  assert.match(cli.out, /c1 migrated to .*, \S+ sent \(2MiB of disk\), total/);
  const back = join(a.dir, 'disks', 'c1.0.img');
  await until('c1 to run on A', async () => (await a.daemon.guest('c1'))?.state === 'running');
  assert.equal(sha256(readFileSync(back)), before, "A's copy of B's copy");
  assert.equal((await a.daemon.act('c1', { action: 'stop', force: true })).status, 'Success');
});

test('a read-only disk missing at the destination is refused: the guest runs on, no copy is left', async () => {
  const ro = disk('c2-ro.img');
  const g = await runningEcho(a, 'c2', [{ path: disk('c2.img') }, { path: ro, readOnly: true }]);
  rmSync(ro); // its VMM holds it open; the destination looks for it at the same path
  const r = await a.daemon.api('POST', '/v1/guests/c2/migrate', to(b));
  assert.equal(r.status, 202, r.text);
  const op = (await a.daemon.api('GET', `${r.body.operation}/wait?timeout=60`)).body.metadata;
  assert.equal(op.status, 'Failure');
  assert.match(
    op.err,
    /read-only disk .*c2-ro\.img is not on this host: read-only disks are not copied, they must be at the same path on both hosts.*it runs on here/,
  );
  const now = await a.daemon.guest('c2');
  assert.deepEqual([now.state, now.pid], ['running', g.pid]);
  assert.deepEqual(copiesAt(b, 'c2'), [], 'B made no copy');
  assert.equal((await a.daemon.act('c2', { action: 'stop', force: true })).status, 'Success');
});

test('a migration with storage cancelled mid-way: the guest runs on here, the copy is deleted', async () => {
  const g = await runningEcho(a, 'c3', [{ path: disk('c3.img') }]);
  // 16 KiB/s: its 2 MiB of disk take minutes, time enough to cancel while the stream flows
  const r = await a.daemon.api('POST', '/v1/guests/c3/migrate', to(b, { maxBandwidth: 16384 }));
  assert.equal(r.status, 202, r.text);
  await until('the disk to flow', async () => {
    const op = (await a.daemon.api('GET', r.body.operation)).body.metadata;
    return op.metadata?.status === 'active' && op.metadata.diskBytesSent > 0;
  });
  assert.deepEqual(copiesAt(b, 'c3'), ['c3.0.img'], 'B writes its copy meanwhile');
  assert.equal((await a.daemon.api('DELETE', r.body.operation)).status, 200);
  const op = (await a.daemon.api('GET', `${r.body.operation}/wait?timeout=30`)).body.metadata;
  assert.equal(op.status, 'Cancelled', JSON.stringify(op));
  const now = await a.daemon.guest('c3');
  assert.deepEqual([now.state, now.pid], ['running', g.pid]);
  await until(
    'B to forget c3',
    async () => (await b.daemon.api('GET', '/v1/guests/c3')).status === 404,
  );
  assert.deepEqual(copiesAt(b, 'c3'), [], 'B deleted its partial copy');
  assert.equal((await a.daemon.act('c3', { action: 'stop', force: true })).status, 'Success');
});
