// The API over TCP with TLS and a bearer token (loopback only): the daemon makes a self-signed
// certificate and a 0600 token file and prints the fingerprint; a request without the token,
// or with a wrong one, is refused 401, with it answered 200; the CLI reaches the daemon pinned
// by fingerprint and refuses a daemon whose certificate has another one; bad flags are clear.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERTH_CLI, DaemonProcess, processesMentioning, until } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bhr-'));
const socket = join(dir, 'api.sock');
let daemon: DaemonProcess;
let port = 0;
let fingerprint = '';

before(async () => {
  daemon = await new DaemonProcess(dir, socket, ['--listen', '127.0.0.1:0']).ready();
  const m = await until(
    'the daemon to print its address and fingerprint',
    () =>
      /serving https:\/\/127\.0\.0\.1:(\d+) \(certificate SHA-256 fingerprint ([0-9A-F:]+);/.exec(
        daemon.output,
      ),
    10_000,
  );
  port = Number(m[1]);
  fingerprint = m[2];
});

after(async () => {
  await daemon?.stop();
  for (const p of processesMentioning(dir)) process.kill(p.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; fp: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers, rejectUnauthorized: false, agent: false },
      (res) => {
        let body = '';
        const fp = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fp }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const token = (): string => readFileSync(join(dir, 'token'), 'utf8').trim();

test('the token file is 0600 and the certificate is the one printed', async () => {
  assert.equal(statSync(join(dir, 'token')).mode & 0o777, 0o600);
  assert.match(token(), /^[0-9a-f]{64}$/);
  const r = await get('/v1');
  assert.equal(r.fp, fingerprint);
});

test('without the token 401, with a wrong one 401, with it 200', async () => {
  const none = await get('/v1/guests');
  assert.equal(none.status, 401);
  assert.match(JSON.parse(none.body).error, /Authorization: Bearer/);
  assert.equal((await get('/v1/guests', { authorization: 'Bearer nope' })).status, 401);
  assert.equal((await get('/metrics', { authorization: `Basic ${token()}` })).status, 401);
  const ok = await get('/v1/guests', { authorization: `Bearer ${token()}` });
  assert.equal(ok.status, 200, ok.body);
  assert.deepEqual(JSON.parse(ok.body).metadata, []);
});

function cli(
  args: string[],
  env: Record<string, string> = {},
): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [BERTH_CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, BERTH_SOCKET: join(dir, 'no.sock'), ...env },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('the CLI reaches the daemon pinned by fingerprint, and refuses another certificate', () => {
  const remote = `https://127.0.0.1:${port}`;
  const tokenFile = join(dir, 'token');
  const ok = cli([
    'ls',
    '--remote',
    remote,
    '--token-file',
    tokenFile,
    '--fingerprint',
    fingerprint,
  ]);
  assert.equal(ok.code, 0, ok.out);
  const viaEnv = cli(['ls', '--json'], {
    BERTH_REMOTE: remote,
    BERTH_TOKEN_FILE: tokenFile,
    BERTH_FINGERPRINT: `SHA256:${fingerprint.replace(/:/g, '').toLowerCase()}`,
  });
  assert.equal(viaEnv.code, 0, viaEnv.out);
  assert.deepEqual(JSON.parse(viaEnv.out), []);
  const wrong = 'AB'.repeat(32);
  const bad = cli(['ls', '--remote', remote, '--token-file', tokenFile, '--fingerprint', wrong]);
  assert.equal(bad.code, 3, bad.out);
  assert.match(bad.out, /not the pinned (AB)+: refusing/);
  const badToken = join(dir, 'bad-token');
  writeFileSync(badToken, 'x'.repeat(64));
  const refused = cli([
    'ls',
    '--remote',
    remote,
    '--token-file',
    badToken,
    '--fingerprint',
    fingerprint,
  ]);
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, /Bearer/);
  const noFp = cli(['ls', '--remote', remote, '--token-file', tokenFile]);
  assert.equal(noFp.code, 3);
  assert.match(noFp.out, /--fingerprint/);
});

test('a bad --listen is refused with a clear message', () => {
  const r = spawnSync(
    process.execPath,
    [BERTH_CLI, 'daemon', '--state-dir', join(dir, 'x'), '--listen', 'nowhere'],
    {
      encoding: 'utf8',
    },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--listen: give HOST:PORT/);
});
