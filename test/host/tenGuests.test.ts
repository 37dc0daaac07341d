// Ten guests at once through a real daemon, created and started together, all reach their
// shell (Debian kernel and busybox initramfs, 128 MiB: the default boot) and answer on their
// consoles; then `kill -9` of one VMM is seen as a crash within 2 s, the on-failure policy runs
// it again, and the other nine keep their VMMs (same PIDs). BERTH_TEST_DEBIAN=N makes only N of
// the ten Debian guests and the rest bare-metal echo guests (quicker, for working on the test).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDefaultAssets, READY_BANNER } from '../../src/images/assets.js';
import { echoGuestElf } from '../vmm/echoGuest.js';
import {
  alive,
  DaemonProcess,
  processesMentioning,
  http,
  sleep,
  until,
  killAndRemove,
  openGuestConsole,
} from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bht-'));
const socket = join(dir, 'api.sock');
const DEBIAN = Math.min(10, Number(process.env.BERTH_TEST_DEBIAN ?? 10));

after(() => killAndRemove(dir));

/**
 * Talks to a guest on its console: waits for `ready`, sends `cmd`, waits for `answer`, all
 * within `ms`. A console the daemon closes (it stops trying to reach a VMM that has not answered
 * for a minute) is opened again, as a user would run `berth console` again; each close is kept
 * for the message of a failure. Returns the seconds from `t0` to the answer.
 */
async function converse(
  name: string,
  ready: (out: string) => boolean,
  cmd: string,
  answer: string,
  ms: number,
  t0: number,
): Promise<number> {
  const deadline = Date.now() + ms;
  const closes: string[] = [];
  let out = '';
  let sent = false;
  const failure = (what: string): Error =>
    new Error(
      `${name}: ${what} in ${ms} ms; console closes: ${JSON.stringify(closes)}; ` +
        `its console so far: ${JSON.stringify(out.slice(-400))}`,
    );
  while (Date.now() < deadline) {
    let closed = false;
    const opening = Date.now();
    const ws = await openGuestConsole(
      socket,
      name,
      (t) => (out += t),
      sent ? '?replay=false' : '',
    ).catch(async (e: Error) => {
      // Does the daemon answer plain requests meanwhile? Said with the failure, tried again.
      const t = Date.now();
      const r = await http(socket, 'GET', '/v1').catch((x: Error) => ({ status: x.message }));
      const s = (x: number): string => ((x - t0) / 1000).toFixed(1);
      closes.push(
        `${s(opening)} s: open failed at ${s(t)} s (${e.message}); GET /v1 then: ${r.status} ` +
          `in ${Date.now() - t} ms`,
      );
      return null;
    });
    if (ws === null) continue;
    ws.on('close', (code, why) => {
      closed = true;
      closes.push(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${code} ${why.toString()}`);
    });
    try {
      while (!closed && Date.now() < deadline) {
        if (!sent && ready(out)) {
          ws.send(Buffer.from(cmd));
          sent = true;
        }
        if (sent && out.includes(answer)) return (Date.now() - t0) / 1000;
        await sleep(100);
      }
    } finally {
      ws.close();
    }
    if (!closed) break;
    await sleep(1000);
  }
  throw failure(sent ? `no answer to ${JSON.stringify(cmd)}` : 'not ready');
}

test(
  `ten guests (${DEBIAN} Debian) start at once, answer on their consoles; kill -9 of one crashes and restarts it alone`,
  { timeout: 900_000 },
  async () => {
    await ensureDefaultAssets({ progress: false });
    const echo = echoGuestElf();
    const daemon = await new DaemonProcess(dir, socket).ready();
    try {
      const names = Array.from({ length: 10 }, (_, i) => (i < DEBIAN ? `deb${i}` : `echo${i}`));
      for (const name of names) {
        const spec = name.startsWith('deb')
          ? { name, memory: '128M', restart: 'on-failure' }
          : { name, memory: '32M', boot: { firmware: echo }, restart: 'on-failure' };
        const c = await daemon.api('POST', '/v1/guests', spec);
        assert.equal(c.status, 201, c.text);
      }
      const t0 = Date.now();
      // The daemon answers its API all along while the ten boot (once, with the guests' group
      // weighing the sum of their weights, it waited for the CPU for up to 36 s).
      let slowest = 0;
      let booting = true;
      const api = (async () => {
        while (booting && daemon.child.exitCode === null) {
          const t = Date.now();
          await daemon.api('GET', '/v1').catch(() => null);
          slowest = Math.max(slowest, Date.now() - t);
          await sleep(500);
        }
      })();
      const ops = await Promise.all(names.map((n) => daemon.act(n, { action: 'start' })));
      for (const op of ops) assert.equal(op.status, 'Success', op.err);
      const say = (what: string): boolean =>
        process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`);
      say('all ten started');
      const answered = await Promise.allSettled(
        names.map((n) =>
          n.startsWith('deb')
            ? converse(
                n,
                (o) => o.includes(READY_BANNER) && /# (?:\x1b\[6n)?$/m.test(o),
                `echo $((6 * 7))-${n}\n`,
                `42-${n}`,
                600_000,
                t0,
              )
            : converse(n, (o) => o.includes('echo ready'), `hi-${n}`, `hi-${n}`, 60_000, t0),
        ),
      );
      const failed = answered.filter((a) => a.status === 'rejected');
      if (failed.length > 0) {
        const states = await Promise.all(
          names.map(async (n) => `${n} ${(await daemon.guest(n)).state}`),
        );
        assert.fail(
          `${failed.length} of ten did not answer: ${failed.map((f) => String(f.reason)).join('; ')}; ` +
            `states: ${states.join(', ')}; the daemon printed: ${daemon.output.slice(-1500)}`,
        );
      }
      const bootS = (Date.now() - t0) / 1000;
      booting = false;
      await api;
      process.stderr.write(
        `# ten guests (${DEBIAN} Debian) answered ${bootS.toFixed(1)} s after the start ` +
          `(first ${Math.min(...answered.map((a) => (a.status === 'fulfilled' ? a.value : Infinity))).toFixed(1)} s); ` +
          `the daemon's slowest answer meanwhile ${slowest} ms\n`,
      );
      assert.ok(
        slowest < 10_000,
        `the daemon took ${slowest} ms to answer while the guests booted`,
      );

      const before = new Map<string, number>();
      for (const n of names) before.set(n, (await daemon.guest(n)).pid);
      const victim = names[0];
      const vpid = before.get(victim)!;
      const killedAt = Date.now();
      process.kill(vpid, 'SIGKILL');
      const crashed = await until(
        `${victim} to be marked crashed`,
        async () => {
          const ev = (await daemon.api('GET', `/v1/events?guest=${victim}`)).body.metadata as {
            type: string;
            time: string;
          }[];
          return ev.find((e) => e.type === 'crashed' && Date.parse(e.time) >= killedAt - 50);
        },
        10_000,
        50,
      );
      const seenIn = Date.parse(crashed.time) - killedAt;
      assert.ok(seenIn <= 2000, `crash seen after ${seenIn} ms`);
      const again = await until(
        `${victim} to run again`,
        async () => {
          const g = await daemon.guest(victim);
          return g.state === 'running' && g.pid && g.pid !== vpid ? g : null;
        },
        120_000,
        100,
      );
      assert.ok(alive(again.pid));
      for (const n of names.slice(1)) {
        const g = await daemon.guest(n);
        assert.equal(g.state, 'running', n);
        assert.equal(g.pid, before.get(n), `${n} kept its VMM`);
        assert.ok(alive(g.pid));
      }
      for (const n of names) await daemon.act(n, { action: 'stop', force: true });
    } finally {
      await daemon.stop();
    }
    await until('no process of ours', () => processesMentioning(dir).length === 0, 10_000);
    // The daemon removed the groups of its stopped guests and its own, though it stopped right
    // after them, while their VMMs' reapers were still ending.
    const group = /each VMM in a group of its own under (\S+)/.exec(daemon.output)?.[1];
    if (group) assert.equal(existsSync(group), false, `${group} is left`);
  },
);
