// Cancelling operations (DELETE /v1/operations/ID) on a real daemon with echo guests, which
// ignore their power button: a graceful stop cancelled while it waits leaves the guest running
// in the same VMM (reason stop-cancelled); a restart cancelled in its stop part too; a start
// cancelled before its VMM answers leaves the guest stopped with no VMM; a finished operation,
// a forced stop, an unknown or malformed id each get a 4xx with a message and change nothing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { echoGuestElf } from '../vmm/echoGuest.js';
import { alive, DaemonProcess, killAndRemove, processesMentioning, until } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bhx-'));
const socket = join(dir, 'api.sock');
let daemon: DaemonProcess;
let echo: string;

before(async () => {
  echo = echoGuestElf();
  daemon = await new DaemonProcess(dir, socket).ready();
  for (const name of ['k1', 'k2']) {
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

const events = async (name: string): Promise<string[]> =>
  (await daemon.api('GET', `/v1/events?guest=${name}`)).body.metadata.map(
    (e: { type: string; reason: string }) => `${e.type}/${e.reason}`,
  );

test('a start cancelled before its VMM answers: Cancelled, the guest stopped, no VMM left', async () => {
  const r = await daemon.api('PUT', '/v1/guests/k1/state', { action: 'start' });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.metadata.mayCancel, true);
  const d = await daemon.api('DELETE', r.body.operation);
  assert.equal(d.status, 200, d.text);
  assert.equal(d.body.metadata.status, 'Cancelled');
  assert.match(d.body.metadata.err, /start of 'k1' was cancelled/);
  const g = await daemon.guest('k1');
  assert.deepEqual([g.state, g.reason, g.pid], ['stopped', 'start-cancelled', null]);
  await until('no VMM of k1', () => processesMentioning(join(dir, 'guests', 'k1')).length === 0);
  assert.deepEqual((await events('k1')).slice(-2), ['starting/user', 'stopped/start-cancelled']);
  // it starts as usual afterwards
  const again = await daemon.act('k1', { action: 'start' });
  assert.equal(again.status, 'Success', again.err);
});

test('a graceful stop cancelled while it waits for the power-off: the guest runs on', async () => {
  const before = await daemon.guest('k1');
  const r = await daemon.api('PUT', '/v1/guests/k1/state', { action: 'stop', timeout: 60 });
  assert.equal(r.status, 202, r.text);
  assert.equal((await daemon.guest('k1')).state, 'stopping');
  const op = (await daemon.api('GET', r.body.operation)).body.metadata;
  assert.deepEqual([op.status, op.mayCancel], ['Running', true]);
  const t0 = Date.now();
  const d = await daemon.api('DELETE', r.body.operation);
  assert.equal(d.status, 200, d.text);
  assert.ok(Date.now() - t0 < 5000, 'the cancel does not wait for the stop timeout');
  assert.equal(d.body.metadata.status, 'Cancelled');
  assert.match(d.body.metadata.err, /stop of 'k1' was cancelled; the guest runs on/);
  const g = await daemon.guest('k1');
  assert.deepEqual([g.state, g.reason, g.pid], ['running', 'stop-cancelled', before.pid]);
  assert.ok(alive(g.pid));
  const a = g.status.instructions;
  await until(
    'instructions to go on',
    async () => (await daemon.guest('k1')).status.instructions > a,
  );
  assert.deepEqual((await events('k1')).slice(-2), ['stopping/user', 'running/stop-cancelled']);
  // The wait answers at once for an ended operation, and a second cancel is refused.
  const w = await daemon.api('GET', `${r.body.operation}/wait?timeout=5`);
  assert.equal(w.body.metadata.status, 'Cancelled');
  const again = await daemon.api('DELETE', r.body.operation);
  assert.equal(again.status, 409, again.text);
  assert.match(again.body.error, /has ended \(Cancelled\); only a running operation is cancelled/);
});

test('a restart cancelled in its stop part: Cancelled, the guest runs on in its VMM', async () => {
  const before = await daemon.guest('k1');
  const r = await daemon.api('PUT', '/v1/guests/k1/state', { action: 'restart', timeout: 60 });
  assert.equal(r.status, 202, r.text);
  const d = await daemon.api('DELETE', r.body.operation);
  assert.equal(d.status, 200, d.text);
  assert.equal(d.body.metadata.status, 'Cancelled');
  assert.match(d.body.metadata.err, /restart of 'k1' was cancelled/);
  const g = await daemon.guest('k1');
  assert.deepEqual([g.state, g.pid], ['running', before.pid]);
  const ops = (await daemon.api('GET', '/v1/operations')).body.metadata;
  const stop = ops.filter((o: { description: string }) => o.description === 'Stopping guest k1');
  assert.equal(stop.at(-1).status, 'Cancelled', 'its stop was cancelled with it');
});

test('finished, forced, unknown and malformed operations: 4xx with a message, nothing changes', async () => {
  const start = await daemon.api('PUT', '/v1/guests/k2/state', { action: 'start' });
  const done = await daemon.api('GET', `${start.body.operation}/wait?timeout=60`);
  assert.equal(done.body.metadata.status, 'Success', done.text);
  const k2 = await daemon.guest('k2');
  const ended = await daemon.api('DELETE', start.body.operation);
  assert.equal(ended.status, 409, ended.text);
  assert.equal(ended.body.error_code, 409);
  assert.match(ended.body.error, /\(Starting guest k2\) has ended \(Success\)/);
  const unknown = await daemon.api('DELETE', `/v1/operations/${randomUUID()}`);
  assert.equal(unknown.status, 404, unknown.text);
  assert.match(unknown.body.error, /no such operation/);
  const bad = await daemon.api('DELETE', '/v1/operations/nope');
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.body.error, /UUID/);
  const after = await daemon.guest('k2');
  assert.deepEqual([after.state, after.pid, after.reason], [k2.state, k2.pid, k2.reason]);

  // A forced stop is not cancelled: while the graceful stop of k2 waits, a forced one takes
  // over; the graceful one then refuses a cancel, and the forced one ends the guest.
  const graceful = await daemon.api('PUT', '/v1/guests/k2/state', { action: 'stop', timeout: 60 });
  const forced = await daemon.api('PUT', '/v1/guests/k2/state', { action: 'stop', force: true });
  assert.equal(forced.status, 202, forced.text);
  // (each is refused, or has ended already: both are right, neither is cancelled)
  const g = await daemon.api('DELETE', graceful.body.operation);
  assert.equal(g.status, 409, g.text);
  assert.match(g.body.error, /cannot be cancelled now: a forced stop is under way|has ended/);
  const f0 = await daemon.api('DELETE', forced.body.operation);
  assert.equal(f0.status, 409, f0.text);
  assert.match(f0.body.error, /a forced stop \(of 'k2'\) is not cancelled|has ended/);
  const f = await daemon.api('GET', `${forced.body.operation}/wait?timeout=30`);
  assert.equal(f.body.metadata.status, 'Success', f.text);
  assert.equal((await daemon.guest('k2')).state, 'stopped');
});

test('SIGTERM while a graceful stop waits: the daemon ends at once; the next one finishes the stop', async () => {
  const k1 = await daemon.guest('k1');
  assert.equal(k1.state, 'running');
  const r = await daemon.api('PUT', '/v1/guests/k1/state', { action: 'stop', timeout: 120 });
  assert.equal(r.status, 202, r.text);
  const t0 = Date.now();
  assert.equal(await daemon.stop(10_000), 0);
  const took = Date.now() - t0;
  assert.ok(took < 5000, `the daemon took ${took} ms to end (its stop waits 120 s)`);
  assert.ok(alive(k1.pid), 'the VMM outlives the daemon');
  daemon = await new DaemonProcess(dir, socket).ready();
  const g = await until('k1 to be stopped by the next daemon', async () => {
    const now = await daemon.guest('k1');
    return now.state === 'stopped' ? now : null;
  });
  assert.equal(alive(k1.pid), false);
  assert.deepEqual((await events('k1')).slice(-2), [`stopping/adopted`, `stopped/${g.reason}`]);
});

test('the OpenAPI document lists the cancel and the state resource', async () => {
  const o = (await daemon.api('GET', '/v1/openapi.json')).body;
  assert.ok(o.paths['/v1/operations/{id}'].delete, 'DELETE /v1/operations/{id}');
  assert.ok(o.paths['/v1/operations/{id}/wait'].get);
  assert.ok(o.paths['/v1/guests/{name}/state'].get);
  assert.ok(o.components.schemas.GuestState.properties.network);
  assert.ok(o.components.schemas.Operation.properties.status.enum.includes('Cancelled'));
});

test('cleanup: nothing of this test is left running', async () => {
  assert.equal(await daemon.stop(), 0);
  await until('no process of ours', () => processesMentioning(dir).length === 0, 5000);
});
