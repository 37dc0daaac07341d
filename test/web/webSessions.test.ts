// Browser sessions on the daemon's TCP API (src/host/webSessions.ts), against a real daemon in
// this process serving HTTPS: the page and its assets without a token; everything else 401
// without the bearer token or a session; the login refuses a wrong token and a foreign origin,
// and sets a Secure, HttpOnly, SameSite=Strict cookie with a Max-Age; under a session an unsafe
// method without the CSRF header (or with a wrong one) is 403 and changes nothing; a WebSocket
// from another origin is refused; logout and expiry end the session; the bearer token works as
// before; the UNIX socket is as it was (no token, no page).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startDaemon, type Daemon } from '../../src/host/daemon.js';
import { http, killAndRemove, sleep } from '../host/harness.js';

const TTL_MS = 3000;
const dir = mkdtempSync(join(tmpdir(), 'bws-'));
let daemon: Daemon;
let origin = '';
let token = '';

before(async () => {
  daemon = await startDaemon({
    stateDir: dir,
    socket: join(dir, 'api.sock'),
    cgroups: null,
    account: null,
    listen: { host: '127.0.0.1', port: 0, sessionTtlMs: TTL_MS },
    log: () => {},
  });
  origin = `https://127.0.0.1:${daemon.remote!.port}`;
  token = readFileSync(join(dir, 'token'), 'utf8').trim();
});

after(async () => {
  await daemon?.close();
  killAndRemove(dir);
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

function call(
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${origin}${path}`,
      {
        method,
        rejectUnauthorized: false,
        agent: false,
        headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Logs in; the cookie header to send and the CSRF token. */
async function login(): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const r = await call('POST', '/web/login', { body: { token }, headers: { origin } });
  assert.equal(r.status, 200, r.text);
  const setCookie = String((r.headers['set-cookie'] as string[])[0]);
  return { cookie: setCookie.split(';')[0], csrf: r.json.csrf, setCookie };
}

/** Opens a WebSocket; resolves to 'open' or the refusal's HTTP status. */
function openWs(path: string, headers: Record<string, string>): Promise<string | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`wss://127.0.0.1:${daemon.remote!.port}${path}`, {
      headers,
      rejectUnauthorized: false,
    });
    ws.on('open', () => (ws.close(), resolve('open')));
    ws.on('unexpected-response', (_req, res) => (res.resume(), resolve(res.statusCode ?? 0)));
    ws.on('error', () => {});
  });
}

test('the page and its assets are served without a token; the API is not', async () => {
  const page = await call('GET', '/');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page.text);
  assert.ok(asset, 'the page names its script');
  const js = await call('GET', asset[1]);
  assert.equal(js.status, 200);
  assert.match(String(js.headers['content-type']), /javascript/);
  assert.equal(page.text.includes('http://') || page.text.includes('https://'), false, 'no CDN');
  for (const path of ['/v1/guests', '/v1/openapi.json', '/metrics', '/web/session']) {
    const r = await call('GET', path);
    assert.equal(r.status, 401, path);
    assert.match(r.json.error, /Bearer TOKEN/);
  }
  assert.equal((await call('GET', '/assets/../../token')).status, 401, 'nothing outside');
  assert.equal((await call('GET', '/assets/%2e%2e/token')).status, 401, 'nothing outside');
});

test('a wrong token, a missing token and a foreign origin get no session', async () => {
  const wrong = await call('POST', '/web/login', { body: { token: 'nope' } });
  assert.equal(wrong.status, 401);
  assert.match(wrong.json.error, /wrong token/);
  assert.equal(wrong.headers['set-cookie'], undefined);
  const none = await call('POST', '/web/login', { body: {} });
  assert.equal(none.status, 400);
  assert.match(none.json.error, /token/);
  const foreign = await call('POST', '/web/login', {
    body: { token },
    headers: { origin: 'https://evil.example' },
  });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.headers['set-cookie'], undefined);
});

test('the session cookie is Secure, HttpOnly, SameSite=Strict and expires', async () => {
  const { setCookie, cookie, csrf } = await login();
  assert.match(setCookie, /^berth_session=[0-9a-f]{64};/);
  assert.match(setCookie, /; Secure/);
  assert.match(setCookie, /; HttpOnly/);
  assert.match(setCookie, /; SameSite=Strict/);
  assert.match(setCookie, new RegExp(`; Max-Age=${TTL_MS / 1000}`));
  const s = await call('GET', '/web/session', { headers: { cookie } });
  assert.equal(s.status, 200);
  assert.equal(s.json.csrf, csrf);
  assert.equal((await call('GET', '/v1/guests', { headers: { cookie } })).status, 200);
});

test('an unsafe method under a session needs the CSRF header, and changes nothing without', async () => {
  const { cookie, csrf } = await login();
  const body = { name: 'csrf1', memory: '128M' };
  const bare = await call('POST', '/v1/guests', { body, headers: { cookie } });
  assert.equal(bare.status, 403);
  assert.match(bare.json.error, /x-berth-csrf/);
  const wrong = await call('POST', '/v1/guests', {
    body,
    headers: { cookie, 'x-berth-csrf': 'f'.repeat(48) },
  });
  assert.equal(wrong.status, 403);
  const list = await call('GET', '/v1/guests', { headers: { cookie } });
  assert.deepEqual(list.json.metadata, [], 'nothing made');
  const ok = await call('POST', '/v1/guests', {
    body,
    headers: { cookie, 'x-berth-csrf': csrf },
  });
  assert.equal(ok.status, 201, ok.text);
  const del = await call('DELETE', '/v1/guests/csrf1', { headers: { cookie } });
  assert.equal(del.status, 403, 'DELETE is unsafe too');
  const gone = await call('DELETE', '/v1/guests/csrf1', {
    headers: { cookie, 'x-berth-csrf': csrf },
  });
  assert.equal(gone.status, 200, gone.text);
});

test('WebSocket upgrades from another origin are refused', async () => {
  const { cookie } = await login();
  assert.equal(await openWs('/v1/events', { cookie, origin }), 'open');
  assert.equal(await openWs('/v1/events', { cookie, origin: 'https://evil.example' }), 403);
  assert.equal(
    await openWs('/v1/events', { authorization: `Bearer ${token}`, origin: 'null' }),
    403,
    'not even with the token',
  );
  assert.equal(await openWs('/v1/events', { origin }), 401, 'no session');
  assert.equal(await openWs('/v1/events', { authorization: `Bearer ${token}` }), 'open');
});

test('logout ends the session; an expired session is refused', async () => {
  const a = await login();
  const out = await call('POST', '/web/logout', { headers: { cookie: a.cookie } });
  assert.equal(out.status, 403, 'logout is unsafe: it needs the CSRF header');
  const out2 = await call('POST', '/web/logout', {
    headers: { cookie: a.cookie, 'x-berth-csrf': a.csrf },
  });
  assert.equal(out2.status, 200);
  assert.match(String((out2.headers['set-cookie'] as string[])[0]), /^berth_session=;/);
  assert.equal((await call('GET', '/v1/guests', { headers: { cookie: a.cookie } })).status, 401);

  const b = await login();
  assert.equal((await call('GET', '/v1/guests', { headers: { cookie: b.cookie } })).status, 200);
  await sleep(TTL_MS + 200);
  const late = await call('GET', '/v1/guests', { headers: { cookie: b.cookie } });
  assert.equal(late.status, 401);
  assert.match(late.json.error, /expired/);
});

test('the bearer token works as before, with no CSRF header; the UNIX socket is unchanged', async () => {
  const bearer = { authorization: `Bearer ${token}` };
  const c = await call('POST', '/v1/guests', { body: { name: 'cli1' }, headers: bearer });
  assert.equal(c.status, 201, c.text);
  assert.equal((await call('DELETE', '/v1/guests/cli1', { headers: bearer })).status, 200);
  const sock = join(dir, 'api.sock');
  assert.equal((await http(sock, 'GET', '/v1/guests')).status, 200, 'no token on the socket');
  assert.equal((await http(sock, 'GET', '/')).status, 404, 'no page on the socket');
  const h = await http(sock, 'GET', '/v1/schemas/guest-spec');
  assert.equal(h.status, 200);
  assert.equal(h.body.metadata.properties.name.type, 'string');
});
