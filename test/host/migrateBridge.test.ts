// Live migration of a Debian guest between two hosts on one bridged network: two network
// namespaces (host A 10.213.0.1, host B 10.213.0.3), each with its bridge br0 and its own Berth
// daemon (its API over TLS on its bridge address), the two bridges joined by a veth pair into
// one Ethernet segment. The guest (the stock kernel and busybox initramfs, 128 MiB) has a TAP
// card on A's bridge, the address 10.213.0.2 and a busybox web server. While a client in A's
// namespace keeps asking for its page by that address, the guest moves to B: no request fails,
// B's VMM announces the guest's MAC (RARP, seen on A's bridge) and A's bridge learns that the
// guest is now behind the veth. Then, over the veth slowed with tc, the guest writing memory in
// a loop moves back to A: it converges only because its throttle rose, and within its budget.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDefaultAssets, READY_BANNER } from '../../src/images/assets.js';
import { Netns, tapSkipReason } from '../support/netns.js';
import {
  DaemonProcess,
  killAndRemove,
  openGuestConsole,
  processesMentioning,
  sleep,
  until,
  type Json,
} from './harness.js';

const skip = tapSkipReason();
const GUEST_IP = '10.213.0.2';
const B_IP = '10.213.0.3';
/** A's end of the veth: its address is A's bridge's (the lowest of its ports; TAPs are FE:). */
const VETH_A_MAC = '02:00:00:00:0a:01';
const dirs: string[] = [];
const spaces: Netns[] = [];

after(() => {
  for (const d of dirs) killAndRemove(d);
  for (const ns of spaces) ns.delete();
});

interface Host {
  ns: Netns;
  dir: string;
  socket: string;
  daemon: DaemonProcess;
  url: string;
  fingerprint: string;
  token: string;
}

async function startHost(ns: Netns, ip: string, tag: string): Promise<Host> {
  const dir = mkdtempSync(join(tmpdir(), `bhb-${tag}-`));
  dirs.push(dir);
  const socket = join(dir, 'api.sock');
  const wrap = ['ip', 'netns', 'exec', ns.name];
  const daemon = await new DaemonProcess(dir, socket, ['--listen', `${ip}:0`], wrap).ready();
  const m = await until(
    'the daemon to print its address',
    () =>
      /serving (https:\/\/[\d.]+:\d+) \(certificate SHA-256 fingerprint ([0-9A-F:]+);/.exec(
        daemon.output,
      ),
    10_000,
  );
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  return { ns, dir, socket, daemon, url: m[1], fingerprint: m[2], token };
}

/** The guest's shell over the daemon's console: runs a command, waits for its end marker. */
async function shell(h: Host, name: string, cmd: string, ms = 60_000): Promise<string> {
  let out = '';
  const ws = await openGuestConsole(h.socket, name, (t) => (out += t), '?replay=false');
  try {
    const mark = `done${Date.now() % 100000}`;
    ws.send(Buffer.from(`${cmd}\necho ${mark.slice(0, 4)}''${mark.slice(4)}\n`));
    await until(`${name} to run ${cmd}`, () => out.includes(mark), ms, 100);
    return out;
  } finally {
    ws.close();
  }
}

/** A client in `ns` asking for the page every 100 ms; each answer a JSON line. */
function poller(ns: Netns): { child: ChildProcess; lines: () => Json[] } {
  const code = `
    const http = require('node:http');
    const t0 = Date.now();
    const once = () => {
      const t = Date.now();
      const req = http.get({ host: '${GUEST_IP}', path: '/', agent: false, timeout: 15000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => { console.log(JSON.stringify({ at: t - t0, ms: Date.now() - t, ok: body.includes('page-ok') })); setTimeout(once, 100); });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => { console.log(JSON.stringify({ at: t - t0, ms: Date.now() - t, ok: false, err: e.message })); setTimeout(once, 100); });
    };
    once();`;
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  return {
    child,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l)),
  };
}

/** Counts RARP frames (EtherType 0x8035) from `mac` seen on br0 in `ns` for `seconds`. */
function rarpSniffer(ns: Netns, mac: string, seconds: number): Promise<number> {
  const py = `
import socket, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x8035))
s.bind(('br0', 0))
s.settimeout(0.5)
n = 0
end = time.time() + ${seconds}
while time.time() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    if f[6:12].hex(':') == '${mac}' and f[20:22] == b'\\x00\\x03':
        n += 1
print(n)`;
  return new Promise((resolve) => {
    const c = spawn('ip', ['netns', 'exec', ns.name, 'python3', '-c', py], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', () => resolve(Number(out.trim() || 'NaN')));
  });
}

async function migrate(from: Host, to: Host, name: string, extra = {}): Promise<Json> {
  const r = await from.daemon.api('POST', `/v1/guests/${name}/migrate`, {
    url: to.url,
    token: to.token,
    fingerprint: to.fingerprint,
    ...extra,
  });
  assert.equal(r.status, 202, r.text);
  for (let i = 0; i < 10; i++) {
    const w = await from.daemon.api('GET', `${r.body.operation}/wait?timeout=60`);
    if (w.body.metadata.status !== 'Running') return w.body.metadata;
  }
  assert.fail('the migration did not end in 10 minutes');
}

test(
  'a web server on a bridge moves to the other host while a client asks for its page; a busy one moves back over a slowed link',
  { skip, timeout: 900_000 },
  async () => {
    await ensureDefaultAssets({ progress: false });
    const nsA = new Netns('migA');
    spaces.push(nsA);
    const nsB = new Netns('migB', B_IP);
    spaces.push(nsB);
    // one Ethernet segment: A's br0 -- veth -- B's br0
    spawnSync('ip', [
      'link',
      'add',
      'vmigA',
      'address',
      VETH_A_MAC,
      'netns',
      nsA.name,
      'type',
      'veth',
      'peer',
      'name',
      'vmigB',
      'netns',
      nsB.name,
    ]);
    nsA.exec('ip', ['link', 'set', 'vmigA', 'master', 'br0', 'up']);
    nsB.exec('ip', ['link', 'set', 'vmigB', 'master', 'br0', 'up']);
    const a = await startHost(nsA, '10.213.0.1', 'a');
    const b = await startHost(nsB, B_IP, 'b');
    try {
      const c = await a.daemon.api('POST', '/v1/guests', {
        name: 'web',
        memory: '128M',
        network: { kind: 'tap', bridge: 'br0' },
      });
      assert.equal(c.status, 201, c.text);
      const mac: string = c.body.metadata.spec.network.mac;
      const op = await a.daemon.act('web', { action: 'start' });
      assert.equal(op.status, 'Success', op.err);
      let boot = '';
      const ws = await openGuestConsole(a.socket, 'web', (t) => (boot += t));
      await until('the guest to boot', () => boot.includes(READY_BANNER), 600_000, 250);
      ws.close();
      await shell(
        a,
        'web',
        `killall udhcpc 2>/dev/null; ip link set eth0 up; ip addr add ${GUEST_IP}/24 dev eth0; ` +
          `mkdir -p /tmp/w; echo page-ok > /tmp/w/index.html; busybox httpd -p 80 -h /tmp/w`,
      );

      const client = poller(nsA);
      try {
        await until('the page from A', () => client.lines().some((l) => l.ok), 120_000, 200);
        const sniffed = rarpSniffer(nsA, mac, 30);
        await sleep(1000);
        const moved = await migrate(a, b, 'web');
        assert.equal(moved.status, 'Success', moved.err);
        const stats = moved.metadata;
        await sleep(3000);
        const lines = client.lines();
        const failed = lines.filter((l) => !l.ok);
        const slowest = Math.max(...lines.map((l) => l.ms));
        process.stderr.write(
          `# bridge migration A -> B: ${stats.rounds} rounds, ${stats.bytesSent} bytes, total ` +
            `${stats.totalMs} ms, downtime ${stats.downtimeMs} ms; ${lines.length} requests, ` +
            `${failed.length} failed, the slowest ${slowest} ms\n`,
        );
        assert.deepEqual(failed, [], 'no request failed');
        const g = await b.daemon.guest('web');
        assert.deepEqual([g.state, g.reason], ['running', 'migrated']);
        assert.equal((await a.daemon.api('GET', '/v1/guests/web')).status, 404);
        const rarps = await sniffed;
        assert.ok(rarps >= 5, `${rarps} RARP announcements of ${mac} seen on A's bridge`);
        // the guest's TAP device came and went on A without moving the bridge's address (a move
        // flushes A's ARP cache: requests to the guest then wait for it to answer anew)
        assert.match(nsA.exec('ip', ['-br', 'link', 'show', 'br0']), new RegExp(VETH_A_MAC));
        const fdb = nsA.exec('bridge', ['fdb', 'show', 'br', 'br0']);
        assert.match(fdb, new RegExp(`^${mac} dev vmigA`, 'm'), fdb);
      } finally {
        client.child.kill();
      }

      // Back to A over a link of 40 Mbit/s while the guest rewrites 24 MiB in a loop.
      nsB.exec('tc', [
        'qdisc',
        'add',
        'dev',
        'vmigB',
        'root',
        'tbf',
        'rate',
        '40mbit',
        'burst',
        '64kb',
        'latency',
        '100ms',
      ]);
      await shell(
        b,
        'web',
        `(while true; do dd if=/dev/zero of=/tmp/w/busy bs=1M count=24 2>/dev/null; done) &`,
      );
      await sleep(2000);
      const back = await migrate(b, a, 'web', { downtimeMs: 300, timeoutS: 300 });
      assert.equal(back.status, 'Success', back.err);
      const s = back.metadata;
      process.stderr.write(
        `# busy guest B -> A at 40 Mbit/s: ${s.rounds} rounds, ${s.bytesSent} bytes, total ` +
          `${s.totalMs} ms, downtime ${s.downtimeMs} ms (budget 300), dirty ` +
          `${s.dirtyBytesPerSecond} B/s, throughput ${s.throughputBytesPerSecond} B/s, throttle up to ` +
          `${s.maxThrottlePercent}%\n`,
      );
      assert.ok(s.maxThrottlePercent > 0, 'the throttle had to act');
      assert.ok(s.downtimeMs <= 300 + 200, `downtime ${s.downtimeMs} ms for a budget of 300`);
      // (A sees its VMM run at its next look, a moment after B's operation ended)
      const home = await until('web to run on A again', async () => {
        const v = await a.daemon.guest('web');
        return v?.state === 'running' ? v : null;
      });
      assert.equal(home.reason, 'migrated');
      const page = nsA.exec('curl', ['-sS', '--max-time', '30', `http://${GUEST_IP}/`], 60_000);
      assert.match(page, /page-ok/);
      assert.equal((await a.daemon.act('web', { action: 'stop', force: true })).status, 'Success');
    } finally {
      for (const h of [a, b]) await h.daemon.stop().catch(() => null);
    }
    for (const d of dirs) {
      await until('no process of ours', () => processesMentioning(d).length === 0, 10_000);
    }
  },
);
