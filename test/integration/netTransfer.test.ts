// Bulk TCP through a booted guest's network, with a CPU-bound process beside
// the VMM: 32 MiB from the guest to a host listener and 32 MiB from the host
// into the guest, sha256 compared on both ends, over --net user (libslirp in
// the VMM; the host end on loopback, the guest's end at 10.0.2.2 and through a
// forwarded port) and over --net tap (a bridge in a network namespace the
// test makes). Over --net user a guest connection that stays silent for 40 s
// and then says "hello" must arrive (passt 2023's reset it at 24 s), and the
// VMM's network thread is measured while the guest boots with a client
// already knocking on its forwarded port. Finally a VMM stopped by SIGTERM or
// SIGKILL leaves no process, no bound port and no TAP device behind.

import { before, after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BERTH_CLI, ConsoleSession } from './session.js';
import { buildImage, type DirectImageBuildResult } from '../../src/images/imageBuild.js';
import { GUEST_READY_BANNER } from '../../src/images/rootfs.js';
import { PLAIN_CONSOLE_ARG } from '../../src/images/initramfs.js';
import { listenOnce, sendStream, type StreamResult } from '../support/streamPeer.js';
import { BRIDGE_IP, Netns, tapSkipReason } from '../support/netns.js';
import { freePort } from '../support/wait.js';

const BOOT_MS = 600_000;
const PROMPT = /# (?:\x1b\[6n)?$/m;
// Far beyond every buffer on the way (socket buffers, virtqueues, libslirp windows): a
// transfer that loses or reorders data shows it in the checksums long before this.
const MIB = 32;
const GUEST_PORT = 5001;
const PEER = join(dirname(fileURLToPath(import.meta.url)), '..', 'support', 'streamPeer.js');
const GUEST_IP = '10.213.0.2';

let dir = '';
let image: DirectImageBuildResult;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-net-transfer-'));
  image = await buildImage({ outDir: dir, sizeBytes: 128 << 20, progress: false, log: () => {} });
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function guestArgs(disk = image.rootfsPath): string[] {
  const m = image.manifest;
  return [
    ...['--memory', '256M', '--kernel', m.kernelPath, '--firmware', m.firmwarePath],
    ...['--initrd', image.initrdPath, '--append', `${m.cmdline} ${PLAIN_CONSOLE_ARG}`],
    ...['--disk', disk],
  ];
}

function hog(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) of process `pid`, or of its thread named `thread`. */
function cpuSeconds(pid: number, thread?: string): number {
  const ticks = (stat: string): number => {
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  if (thread === undefined) return ticks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / 100;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === thread) {
      return ticks(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')) / 100;
    }
  }
  return NaN;
}

interface Ends {
  /** Starts a listener the guest sends to; returns the address and port the guest uses. */
  sink(): Promise<{ host: string; port: number; result: Promise<StreamResult> }>;
  /** Sends the host's stream to the guest's listener. */
  source(): Promise<StreamResult>;
}

const GUEST_TOOLS =
  'for t in nc sha256sum mkfifo tee dd; do type $t >/dev/null || echo missing $t; done';

/** 32 MiB each way between the guest on session `s` and the host ends; checksums compared. */
async function transfers(
  t: TestContext,
  s: ConsoleSession,
  ends: Ends,
  label: string,
): Promise<void> {
  assert.doesNotMatch(await s.run(GUEST_TOOLS), /missing/);
  // Guest to host: a 1 MiB random block sent MIB times, hashed on its way out.
  const up = await ends.sink();
  const t0 = performance.now();
  const guestUp = await s.run(
    'dd if=/dev/urandom of=/tmp/blk bs=65536 count=16 2>/dev/null; rm -f /tmp/f; mkfifo /tmp/f; ' +
      'sha256sum < /tmp/f > /tmp/up.sum & S=$!; ' +
      `i=0; while [ $i -lt ${MIB} ]; do cat /tmp/blk; i=$((i+1)); done | tee /tmp/f | ` +
      `nc ${up.host} ${up.port} > /dev/null; wait $S; cat /tmp/up.sum`,
    900_000,
  );
  const got = await up.result;
  const upSeconds = (performance.now() - t0) / 1000;
  assert.equal(got.error, undefined);
  assert.equal(got.bytes, MIB << 20, `${label}: bytes from the guest; it said: ${guestUp}`);
  assert.match(guestUp, new RegExp(`^${got.sha256}\\s`, 'm'), `${label}: sha256 guest to host`);

  // Host to guest: a seeded stream into `nc -l`, hashed in the guest.
  await s.run(
    'rm -f /tmp/down.sum; (nc -l -p 5001 < /dev/null | sha256sum > /tmp/down.part; ' +
      'mv /tmp/down.part /tmp/down.sum) > /dev/null 2>&1 & :',
  );
  await sleep(2000);
  const t1 = performance.now();
  const sent = await ends.source();
  const guestDown = await s.run(
    'while [ ! -f /tmp/down.sum ]; do sleep 1; done; cat /tmp/down.sum',
    900_000,
  );
  const downSeconds = (performance.now() - t1) / 1000;
  assert.equal(sent.bytes, MIB << 20);
  assert.match(guestDown, new RegExp(`^${sent.sha256}\\s`, 'm'), `${label}: sha256 host to guest`);
  t.diagnostic(
    `${label}: guest to host ${MIB} MiB in ${upSeconds.toFixed(1)} s ` +
      `(${(MIB / upSeconds).toFixed(2)} MiB/s, hashing included); host to guest ` +
      `${MIB} MiB in ${downSeconds.toFixed(1)} s (${(MIB / downSeconds).toFixed(2)} MiB/s)`,
  );
}

test(
  '--net user: 32 MiB each way beside a CPU hog, a 40 s silent connection, CPU while knocked on',
  { timeout: BOOT_MS + 1_800_000 },
  async (t) => {
    const fwd = await freePort();
    const knocked = await freePort();
    const s = ConsoleSession.berth([
      ...guestArgs(),
      ...['--net', 'user', '-p', `127.0.0.1/${fwd}:${GUEST_PORT}`, '-p', `${knocked}:7`],
    ]);
    const cpu = hog();
    // A client knocks on a forwarded port from the start: the guest has nothing listening there.
    let knocking = true;
    let knocks = 0;
    const knocker = (async () => {
      while (knocking) {
        const c = connect(knocked, '127.0.0.1');
        c.on('error', () => {});
        c.on('connect', () => knocks++);
        await sleep(200);
        c.destroy();
      }
    })();
    try {
      const pid = s.child.pid!;
      let netThread = NaN;
      for (let i = 0; i < 600 && Number.isNaN(netThread); i++) {
        await sleep(100);
        netThread = cpuSeconds(pid, 'berth-slirp');
      }
      const bootStart = performance.now();
      const [proc0, net0] = [cpuSeconds(pid), netThread];
      await s.expect(GUEST_READY_BANNER, BOOT_MS);
      const wall = (performance.now() - bootStart) / 1000;
      const [proc1, net1] = [cpuSeconds(pid), cpuSeconds(pid, 'berth-slirp')];
      knocking = false;
      await knocker;
      const netShare = (net1 - net0) / wall;
      t.diagnostic(
        `boot with a client knocking (${knocks} connections): ${wall.toFixed(1)} s; the VMM used ` +
          `${(((proc1 - proc0) / wall) * 100).toFixed(0)}% of a core (the guest's CPU), its ` +
          `network thread ${(netShare * 100).toFixed(1)}%`,
      );
      assert.ok(knocks > 0, 'the forwarded port accepted connections');
      assert.ok(
        netShare < 0.05,
        `the network thread used ${(netShare * 100).toFixed(1)}% of a core`,
      );

      await s.expect(PROMPT, 60_000);
      assert.match(await s.run('ip -4 addr show eth0'), /inet 10\.0\.2\.15\//);

      // The connection passt reset: guest-initiated, the host silent, 40 s before the guest speaks.
      const idle = await listenOnce('127.0.0.1', 0, true);
      await s.run(`(sleep 40; echo hello) | nc 10.0.2.2 ${idle.port} > /dev/null 2>&1 & :`);
      const idleStart = performance.now();

      await transfers(
        t,
        s,
        {
          sink: async () => ({ host: '10.0.2.2', ...(await listenOnce('127.0.0.1', 0)) }),
          source: () => sendStream('127.0.0.1', fwd, MIB),
        },
        '--net user',
      );

      const said = await idle.result;
      t.diagnostic(`the silent connection spoke after ${(said.silentMs! / 1000).toFixed(1)} s`);
      assert.equal(said.error, undefined);
      assert.equal(said.text, 'hello\n');
      assert.ok((performance.now() - idleStart) / 1000 >= 39);
      assert.ok(said.silentMs! >= 39_000, `silent for ${said.silentMs} ms`);

      s.send('poweroff -f\n');
      assert.equal(await s.exited, 0);
    } finally {
      knocking = false;
      cpu.kill('SIGKILL');
      s.kill();
    }
  },
);

/** Waits until connecting to 127.0.0.1:port succeeds (or the deadline passes). */
async function accepting(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
    if (ok) return true;
    await sleep(100);
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test(
  '--net user: after SIGTERM or SIGKILL no process is left and the ports bind at once',
  {
    timeout: 300_000,
  },
  async () => {
    const tcp = await freePort();
    const udp = await freePort();
    const args = [...guestArgs(), '--net', 'user', '-p', `${tcp}:22`, '-p', `${udp}:53/udp`];
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const s = ConsoleSession.berth(args);
      try {
        assert.ok(await accepting(tcp, 60_000), `the forwarded port is open (${signal} run)`);
        const pid = s.child.pid!;
        s.child.kill(signal);
        await s.exited;
        assert.equal(alive(pid), false);
        // A new VMM takes the same ports at once: they were the dead one's own sockets.
        const next = ConsoleSession.berth(args);
        try {
          assert.ok(await accepting(tcp, 60_000), `ports free at once after ${signal}`);
          assert.doesNotMatch(next.stderr, /cannot forward/);
        } finally {
          next.child.kill('SIGKILL');
          await next.exited;
        }
      } finally {
        s.kill();
      }
    }
    const p = spawnSync('pgrep', ['-f', `${tcp}:22`], { encoding: 'utf8' });
    assert.equal(p.stdout.trim(), '', 'no process with the forward is left');
  },
);

// --- the same over a TAP device on a bridge in a namespace of the test's own ---

const tapSkip = tapSkipReason();

/** streamPeer.js in the namespace; its JSON lines one by one. */
function peerIn(
  ns: Netns,
  args: string[],
): { line(): Promise<Record<string, unknown>>; child: ChildProcess } {
  const [cmd, a] = ns.wrap(process.execPath, [PEER, ...args]);
  const child = spawn(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  let err = '';
  const waiting: ((l: Record<string, unknown>) => void)[] = [];
  const lines: Record<string, unknown>[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return {
    child,
    line: () =>
      new Promise((resolve, reject) => {
        const l = lines.shift();
        if (l) return resolve(l);
        waiting.push(resolve);
        child.once('exit', (code) =>
          setTimeout(() => reject(new Error(`streamPeer exited (${code}): ${err}`)), 100),
        );
      }),
  };
}

test(
  '--net tap: 32 MiB each way beside a CPU hog',
  { skip: tapSkip, timeout: BOOT_MS + 1_800_000 },
  async (t) => {
    const ns = new Netns('xfer');
    let s: ConsoleSession | null = null;
    const cpu = hog();
    try {
      const [cmd, args] = ns.wrap(process.execPath, [
        BERTH_CLI,
        'run',
        ...guestArgs(),
        '--net',
        'tap',
        '--bridge',
        'br0',
      ]);
      s = new ConsoleSession(cmd, args);
      const session = s;
      await session.expect(GUEST_READY_BANNER, BOOT_MS);
      await session.expect(PROMPT, 60_000);
      await session.run(
        `killall udhcpc; ip -4 addr flush dev eth0; ip addr add ${GUEST_IP}/24 dev eth0; ip link set eth0 up`,
      );
      await transfers(
        t,
        session,
        {
          sink: async () => {
            const p = peerIn(ns, ['sink', BRIDGE_IP, '0']);
            const port = (await p.line()).listening as number;
            return {
              host: BRIDGE_IP,
              port,
              result: p.line().then((l) => l.result as StreamResult),
            };
          },
          source: async () =>
            (await peerIn(ns, ['source', GUEST_IP, String(GUEST_PORT), String(MIB)]).line())
              .result as StreamResult,
        },
        '--net tap',
      );
      session.send('poweroff -f\n');
      assert.equal(await session.exited, 0);
      assert.deepEqual(ns.bridgePorts(), [], 'the TAP device left with the VMM');
    } finally {
      cpu.kill('SIGKILL');
      s?.kill();
      ns.delete();
    }
  },
);

test(
  '--net tap: after SIGTERM or SIGKILL no process and no TAP device are left',
  { skip: tapSkip, timeout: 300_000 },
  async () => {
    const ns = new Netns('signals');
    try {
      for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
        const [cmd, args] = ns.wrap(process.execPath, [
          BERTH_CLI,
          'run',
          ...guestArgs(),
          '--net',
          'tap',
          '--bridge',
          'br0',
        ]);
        const s = new ConsoleSession(cmd, args);
        try {
          const deadline = Date.now() + 60_000;
          while (ns.bridgePorts().length === 0) {
            assert.ok(Date.now() < deadline, `the TAP device appears (${signal} run): ${s.stderr}`);
            await sleep(100);
          }
          const pid = s.child.pid!;
          s.child.kill(signal); // `ip netns exec` execs node: this is the VMM
          await s.exited;
          assert.equal(alive(pid), false);
          for (let i = 0; i < 50 && ns.bridgePorts().length > 0; i++) await sleep(100);
          assert.deepEqual(ns.bridgePorts(), [], `no TAP device after ${signal}`);
          const left = spawnSync('ip', ['netns', 'pids', ns.name], {
            encoding: 'utf8',
          }).stdout.trim();
          assert.equal(left, '', `no process left in the namespace after ${signal}`);
        } finally {
          s.kill();
        }
      }
    } finally {
      ns.delete();
    }
  },
);
