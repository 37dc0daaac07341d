// A guest's console log through a real daemon: what the echo guest prints reaches
// guests/NAME/console/console.log, and comes back through GET /v1/guests/NAME/console (all of
// it, or ?lines=N) and `berth logs NAME --console`; a restarted VMM appends to it; it is
// there while the guest is stopped; as root the folder is its VMM's alone while it runs (another
// guest's VMM cannot read it) and the daemon's after; `berth rm` removes it with the guest.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { echoGuestElf } from '../vmm/echoGuest.js';
import {
  asUser,
  BERTH_CLI,
  DaemonProcess,
  http,
  killAndRemove,
  processesMentioning,
  until,
} from './harness.js';

const root = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'bhl-'));
const socket = join(dir, 'api.sock');
let daemon: DaemonProcess;

const CTRL_P = 0x10; // the echo guest prints 256 numbered lines
const lineNo = (n: number): string => `line ${n.toString(16).padStart(8, '0')}\n`;

function berth(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BERTH_CLI, ...args, '--socket', socket], {
    encoding: 'latin1',
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const consoleLog = async (name: string, query = ''): Promise<string> => {
  const r = await http(socket, 'GET', `/v1/guests/${name}/console${query}`);
  assert.equal(r.status, 200, r.text);
  return r.text;
};

/** Sends `bytes` on the guest's console and waits until its output ends with `until`. */
async function type(name: string, bytes: Buffer, expect: string): Promise<void> {
  const ws = new WebSocket(`ws+unix://${socket}:/v1/guests/${name}/console?replay=false`);
  let out = '';
  ws.on('message', (d: Buffer) => (out += d.toString('latin1')));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  try {
    ws.send(bytes);
    await until(`${name} to print ${JSON.stringify(expect)}`, () => out.endsWith(expect), 20_000);
  } finally {
    ws.close();
  }
}

before(async () => {
  const echo = echoGuestElf();
  daemon = await new DaemonProcess(dir, socket).ready();
  for (const name of ['l1', 'l2']) {
    const c = await daemon.api('POST', '/v1/guests', {
      name,
      memory: '32M',
      boot: { firmware: echo },
    });
    assert.equal(c.status, 201, c.text);
  }
});

after(async () => {
  await daemon.stop();
  killAndRemove(dir);
});

test('a guest never started has an empty console log; bad queries are refused', async () => {
  const r = await http(socket, 'GET', '/v1/guests/l1/console');
  assert.equal(r.status, 200);
  assert.equal(r.text, '');
  for (const [path, message] of [
    ['/v1/guests/l1/console?lines=0', /^lines: /],
    ['/v1/guests/l1/console?lines=abc', /^lines: /],
    ['/v1/guests/l1/console?replay=false', /^replay, write, force: only the WebSocket/],
    ['/v1/guests/l1/console?write=false', /^replay, write, force: only the WebSocket/],
    ['/v1/guests/l1/console?tail=3', /tail/],
  ] as const) {
    const b = await http(socket, 'GET', path);
    assert.equal(b.status, 400, path);
    assert.match(b.body.error, message, path);
  }
  assert.equal((await http(socket, 'GET', '/v1/guests/nope/console')).status, 404);
  const cli = berth('logs', 'nope', '--console');
  assert.equal(cli.code, 1);
  assert.match(cli.err, /^berth logs: no guest named 'nope'/);
});

test('what the guest prints comes back through the API and berth logs --console', async () => {
  for (const name of ['l1', 'l2']) {
    assert.equal((await daemon.act(name, { action: 'start' })).status, 'Success');
  }
  await until('the banner in the log', async () => (await consoleLog('l1')) === 'echo ready\n');
  await type('l1', Buffer.from([CTRL_P]), lineNo(255));
  const all = 'echo ready\n' + Array.from({ length: 256 }, (_, i) => lineNo(i)).join('');
  await until('all lines in the log', async () => (await consoleLog('l1')) === all);
  const r = await http(socket, 'GET', '/v1/guests/l1/console?lines=3');
  assert.match(String(r.text), /^line 000000fd\nline 000000fe\nline 000000ff\n$/);

  const cli = berth('logs', 'l1', '--console', '--lines', '2');
  assert.equal(cli.code, 0, cli.err);
  assert.equal(cli.out, lineNo(254) + lineNo(255));
  assert.equal(berth('logs', 'l1', '--console').out, all);
  assert.match(berth('logs', 'l1').out, /--- berth: starting l1/, "plain logs: the VMM's own");
  assert.equal(await consoleLog('l2'), 'echo ready\n', "the other guest's log is its own");
});

test(
  "as root the log's folder is its VMM's alone while it runs",
  { skip: root ? false : 'needs root (VMMs as other users)' },
  async () => {
    const g1 = await daemon.guest('l1');
    const g2 = await daemon.guest('l2');
    const folder = join(dir, 'guests', 'l1', 'console');
    const file = join(folder, 'console.log');
    assert.equal(statSync(folder).uid, g1.uid);
    assert.equal(statSync(folder).mode & 0o777, 0o700);
    assert.equal(statSync(file).uid, g1.uid);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const gid = statSync(file).gid;
    const read = (path: string): string =>
      `try { require('fs').readFileSync(${JSON.stringify(path)}); console.log('read') } catch (e) { console.log(e.code) }`;
    assert.equal(asUser(g1.uid, gid, read(file)), 'read');
    assert.equal(asUser(g2.uid, gid, read(file)), 'EACCES', "another guest's VMM cannot read it");
  },
);

test('a restarted VMM appends; the log stays while the guest is stopped; rm removes it', async () => {
  const before = await consoleLog('l1');
  const pid = (await daemon.guest('l1')).pid;
  assert.equal((await daemon.act('l1', { action: 'restart', force: true })).status, 'Success');
  const g = await daemon.guest('l1');
  assert.notEqual(g.pid, pid, 'a new VMM');
  await until('the new banner', async () => (await consoleLog('l1')) === before + 'echo ready\n');
  await type('l1', Buffer.from('hello again\n'), 'hello again\n');
  await until('the echo in the log', async () =>
    (await consoleLog('l1')).endsWith('hello again\n'),
  );
  assert.equal(
    await consoleLog('l1', '?lines=3'),
    lineNo(255) + 'echo ready\n' + 'hello again\n',
    'the second run follows the first',
  );

  for (const name of ['l1', 'l2']) {
    assert.equal((await daemon.act(name, { action: 'stop', force: true })).status, 'Success');
  }
  assert.equal((await daemon.guest('l1')).state, 'stopped');
  assert.ok((await consoleLog('l1')).endsWith(lineNo(255) + 'echo ready\nhello again\n'));
  const folder = join(dir, 'guests', 'l1', 'console');
  if (root) assert.equal(statSync(folder).uid, 0, "the folder is the daemon's again");

  for (const name of ['l1', 'l2']) {
    const rm = berth('rm', name);
    assert.equal(rm.code, 0, rm.err);
  }
  assert.ok(!existsSync(folder), 'berth rm removed the log');
  assert.ok(!existsSync(join(dir, 'guests', 'l1')));
  assert.equal((await http(socket, 'GET', '/v1/guests/l1/console')).status, 404);
  await until('no VMM left', () => processesMentioning(join(dir, 'guests')).length === 0, 5000);
});
