// Restores of a snapshot of a booted Debian guest (snapshotBoot.test.ts writes it) in `berth run`
// VMM processes on the host clock, as clones are made: each gets a new VM generation ID, its RTC
// at the host's time, and the MAC its configuration names.
//   1. From the snapshot, with MAC A: the vmgenid device is bound, the image's handler ran, the
//      guest's clock is the host's (the snapshot's was the deterministic run's, 2026-01-01 plus
//      its uptime), eth0 has MAC A. Snapshot it on the control socket; quit.
//   2. LAY seconds later, from that snapshot with MAC B: random bytes at once; once the handler
//      ran (on the MAC key), the clock within SLACK seconds of the host's (without the new
//      generation it would be LAY seconds behind), eth0 has MAC B.
//   3. From the same snapshot with MAC A (its own): other random bytes than 2's; eth0 keeps A.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { controlRequest } from '../../src/vmm/controlClient.js';
import { ConsoleSession } from './session.js';
import { sleep, until } from '../support/wait.js';
import { existsSync } from 'node:fs';

const MAC_A = '52:54:00:5a:00:0a';
const MAC_B = '52:54:00:5a:00:0b';
/** Seconds the second snapshot lies on disk before its restores. */
const LAY = 20;
/** Seconds a restored guest's clock may be off the host's. */
const SLACK = 3;

interface Restored {
  session: ConsoleSession;
  sock: string;
}

async function restore(file: string, dir: string, name: string, mac: string): Promise<Restored> {
  const sock = join(dir, `${name}.sock`);
  const session = ConsoleSession.berth([
    ...['--restore', file, '--memory', '256M', '--cpus', '2', '--net', 'user', '--mac', mac],
    ...['--control', sock, '--name', name],
  ]);
  await until(
    `${name} to answer`,
    () => existsSync(sock) || session.child.exitCode !== null,
    60_000,
  );
  assert.equal(session.child.exitCode, null, session.stderr);
  return { session, sock };
}

async function quit(r: Restored): Promise<void> {
  try {
    await controlRequest(r.sock, { cmd: 'quit' });
    await r.session.exited;
  } finally {
    r.session.kill();
  }
}

/**
 * Waits until the handler has run for the `n`th generation (it notes eth0 last; the log is in
 * the guest's RAM, so a snapshot carries its earlier lines) and returns that run's lines.
 */
async function handlerLog(s: ConsoleSession, n: number): Promise<string> {
  const log = await s.run(
    `L=/run/berth-generation.log; for i in $(seq 30); do ` +
      `[ "$(grep -c 'generation: eth0' $L)" -ge ${n} ] && break; sleep 1; done; cat $L`,
  );
  // The handler's kernel-log copies of its lines ("[  23.99] berth-generation: ...", debug level)
  // show on the console only where the console prints debug messages:
  // only the file's lines count.
  const lines = log.replace(/^\[\s*\d+\.\d+\] berth-generation: .*\n?/gm, '');
  const start = 'berth-generation: new VM generation';
  const runs = lines.split(new RegExp(`(?=${start})`)).filter((r) => r.startsWith(start));
  assert.equal(runs.length, n, log);
  return runs[n - 1];
}

async function guestSeconds(s: ConsoleSession): Promise<{ guest: number; host: number }> {
  // The handler's kernel-log lines may come between where the console prints debug messages.
  const out = await s.run('date +%s');
  const guest = Number(/^\d{9,}$/m.exec(out)?.[0]);
  return { guest, host: Date.now() / 1000 };
}

async function randomBytes(s: ConsoleSession): Promise<string> {
  const out = await s.run('head -c 16 /dev/urandom | md5sum');
  const m = /^[0-9a-f]{32}/m.exec(out);
  assert.ok(m, out);
  return m[0];
}

export async function restoredGuests(file: string, dir: string, parentMac: string): Promise<void> {
  const second = join(dir, 'restored.snap');
  const r1 = await restore(file, dir, 'clone1', MAC_A);
  let savedAt = 0;
  try {
    const s = r1.session;
    const log = await handlerLog(s, 1);
    assert.match(log, /berth-generation: new VM generation \(mac\)/);
    assert.match(log, /berth-generation: clock set from the RTC/);
    assert.match(log, new RegExp(`berth-generation: eth0: MAC ${parentMac} -> ${MAC_A}`));
    assert.match(await s.run('ls /sys/bus/platform/drivers/vmgenid/'), /10200000\.rng/);
    assert.equal((await s.run('cat /sys/class/net/eth0/address')).trim(), MAC_A);
    const t = await guestSeconds(s);
    assert.ok(Math.abs(t.guest - t.host) <= SLACK, `guest ${t.guest}, host ${t.host}`);
    console.log(`# clone 1: guest clock ${t.guest}, host ${t.host.toFixed(1)}`);
    await controlRequest(r1.sock, { cmd: 'snapshot', path: second });
    savedAt = Date.now();
  } finally {
    await quit(r1);
  }
  await sleep(Math.max(0, savedAt + LAY * 1000 - Date.now()));
  const r2 = await restore(second, dir, 'clone2', MAC_B);
  let bytes2 = '';
  try {
    const s = r2.session;
    bytes2 = await randomBytes(s);
    // Once the handler ran (acpid starts it on the MAC key), the clock is the host's.
    const log = await handlerLog(s, 2);
    assert.match(log, /berth-generation: new VM generation \(mac\)/);
    assert.match(log, new RegExp(`berth-generation: eth0: MAC ${MAC_A} -> ${MAC_B}`));
    const t = await guestSeconds(s);
    const lay = t.host - savedAt / 1000;
    assert.ok(lay >= LAY, `the snapshot lay ${lay} s`);
    assert.ok(Math.abs(t.guest - t.host) <= SLACK, `guest ${t.guest}, host ${t.host}`);
    console.log(
      `# clone 2, ${lay.toFixed(1)} s after its snapshot: guest clock ${t.guest}, host ${t.host.toFixed(1)}`,
    );
    assert.equal((await s.run('cat /sys/class/net/eth0/address')).trim(), MAC_B);
  } finally {
    await quit(r2);
  }
  const r3 = await restore(second, dir, 'clone3', MAC_A);
  try {
    const s = r3.session;
    const bytes3 = await randomBytes(s);
    assert.notEqual(bytes3, bytes2, 'two restores of one snapshot read different random bytes');
    console.log(`# clones 2 and 3 of one snapshot: random bytes ${bytes2} and ${bytes3}`);
    const log = await handlerLog(s, 2);
    assert.match(
      log,
      /berth-generation: new VM generation\r?\n/,
      'the generation key, not the MAC key',
    );
    assert.match(log, new RegExp(`berth-generation: eth0 keeps its MAC ${MAC_A}`));
    assert.equal((await s.run('cat /sys/class/net/eth0/address')).trim(), MAC_A);
  } finally {
    await quit(r3);
  }
}
