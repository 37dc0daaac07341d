// Bridged networking through a TAP device (--net tap --bridge BR). Each test
// makes its own network namespace with a bridge br0 at 10.213.0.1/24 and runs
// Berth inside it, so nothing on the host's own network changes; the
// namespace is deleted (and what runs in it killed) even when a test fails.
//
// The backend alone: frames both ways between a TapBackend and the kernel on
// the bridge, backpressure, bad frames, the device gone after close() and
// after a SIGKILL of its process (the VMM holds the device's only descriptor). A guest booted from its disk with --net tap:
// given 10.213.0.2 on its console, it answers ping from the namespace, serves
// its web page to curl there, and reaches the bridge's address itself.
//
// Needs root and /dev/net/tun (skipped otherwise, with the reason), and
// iproute2, curl and ping (scripts/test-deps.sh).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BERTH_CLI, ConsoleSession } from './session.js';
import { Netns, BRIDGE_IP, tapSkipReason } from '../support/netns.js';
import { buildImage } from '../../src/images/imageBuild.js';
import { GUEST_READY_BANNER, INDEX_HTML_TEXT } from '../../src/images/rootfs.js';
import { PLAIN_CONSOLE_ARG } from '../../src/images/initramfs.js';

const skip = tapSkipReason();
const BOOT_MS = 600_000;
const PROMPT = /# (?:\x1b\[6n)?$/m;
const GUEST_IP = '10.213.0.2';
/**
 * An uplink's address, above the kernel's random ones (02: to fe:) but those beginning with FE:
 * the TAP device's random address took the bridge's from it 63 times in 64 before.
 */
const UPLINK_MAC = 'fc:00:00:00:00:01';
const PROBE = join(dirname(fileURLToPath(import.meta.url)), '..', 'support', 'tapProbe.js');

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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
  'TapBackend on a bridge: frames both ways, backpressure, bad frames, cleanup',
  { skip, timeout: 60_000 },
  () => {
    const ns = new Netns('unit');
    try {
      // a port with an address as a network card's or a veth's: the bridge keeps it with a TAP
      ns.exec('ip', ['link', 'add', 'uplink0', 'address', UPLINK_MAC, 'type', 'veth']);
      ns.exec('ip', ['link', 'set', 'uplink0', 'master', 'br0', 'up']);
      const out = ns.exec(process.execPath, [PROBE, 'br0', BRIDGE_IP], 30_000);
      const r = JSON.parse(out.trim().split('\n').pop()!);
      assert.match(r.name, /^berth\d+-\d+$/);
      assert.equal(r.master, 'br0', 'the TAP device is a port of the bridge');
      assert.match(r.tapMac, /^fe:/, 'the host side of the TAP device has an FE address');
      assert.equal(r.bridgeMac, UPLINK_MAC, 'the bridge keeps its address with the TAP on it');
      assert.equal(r.arpReply, true, "the kernel answered a send()'d ARP request");
      assert.equal(r.arpRequestSeen, true, "the kernel's broadcast reached the receiver");
      assert.equal(r.wokeUp, true, 'whenReceived() resolved');
      assert.equal(r.deliveredWhilePaused, 1, 'nothing is delivered after receive() said false');
      assert.ok(r.heldWhilePaused >= 1, 'frames wait while paused');
      assert.equal(r.deliveredAfterResume, r.heldWhilePaused, 'resume() delivers the held frames');
      assert.equal(r.repliesAfter, 3);
      assert.equal(r.badFramesDropped, 2, 'a 10-byte and a 70000-byte frame are dropped');
      assert.ok(r.counters.txFrames >= 4 && r.counters.rxFrames >= 5, JSON.stringify(r.counters));
      assert.equal(r.goneAfterClose, true, 'close() removes the TAP device');
      assert.deepEqual(ns.bridgePorts(), ['uplink0']);
    } finally {
      ns.delete();
    }
  },
);

test(
  'a killed VMM leaves no process and no TAP device behind',
  { skip, timeout: 60_000 },
  async () => {
    const ns = new Netns('kill');
    try {
      const [cmd, args] = ns.wrap(process.execPath, [PROBE, 'br0', BRIDGE_IP, 'hold']);
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      await until(
        'the probe to start',
        () => out.includes('\n') || child.exitCode !== null,
        20_000,
      );
      const { name, pid } = JSON.parse(out) as { name: string; pid: number };
      assert.deepEqual(ns.bridgePorts(), [name]);
      assert.equal(pid, child.pid, '`ip netns exec` execs node: this is the VMM process');
      child.kill('SIGKILL');
      await until('the VMM to end', () => !alive(pid), 10_000);
      await until('the TAP device to go', () => ns.bridgePorts().length === 0, 10_000);
      assert.throws(() => ns.exec('ip', ['link', 'show', name]));
    } finally {
      ns.delete();
    }
  },
);

test('berth run --net tap: errors name what is missing', { skip, timeout: 60_000 }, () => {
  const ns = new Netns('cli');
  try {
    const run = (args: string[]): { status: number | null; stderr: string } => {
      const r = spawnSync(
        'ip',
        ['netns', 'exec', ns.name, process.execPath, BERTH_CLI, 'run', ...args],
        { encoding: 'utf8', timeout: 30_000 },
      );
      return { status: r.status, stderr: r.stderr };
    };
    let r = run(['--net', 'tap']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--net tap needs --bridge NAME/);
    r = run(['--net', 'tap', '--bridge', 'br9']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /there is no bridge "br9".*ip link add br9 type bridge/);
    r = run(['--net', 'tap', '--bridge', 'lo']);
    assert.match(r.stderr, /"lo" is a network interface but not a bridge/);
    r = run(['--net', 'user', '--bridge', 'br0']);
    assert.match(r.stderr, /--bridge names the bridge for --net tap/);
    r = run(['--net', 'tap', '--bridge', 'br0', '--mac', '01:00:5e:00:00:01']);
    assert.match(r.stderr, /is a multicast address/);
    r = run(['--net', 'tap', '--bridge', 'br0', '-p', '8080:80']);
    assert.match(r.stderr, /needs --net user/);
    const nobody = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        ns.name,
        'setpriv',
        '--reuid',
        '65534',
        '--regid',
        '65534',
        '--clear-groups',
      ].concat([process.execPath, BERTH_CLI, 'run', '--net', 'tap', '--bridge', 'br0']),
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(nobody.status, 2);
    assert.match(nobody.stderr, /--net tap needs root \(CAP_NET_ADMIN\); use --net user/);
    assert.deepEqual(ns.bridgePorts(), []);
  } finally {
    ns.delete();
  }
});

test(
  'a guest on a bridge: ping and http from the namespace, ping from the guest',
  { skip, timeout: BOOT_MS + 300_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-tap-it-'));
    const ns = new Netns('guest');
    let s: ConsoleSession | null = null;
    try {
      const r = await buildImage({
        outDir: dir,
        sizeBytes: 128 << 20,
        progress: false,
        log: () => {},
      });
      const m = r.manifest;
      const [cmd, args] = ns.wrap(process.execPath, [
        BERTH_CLI,
        'run',
        ...['--memory', '256M', '--kernel', m.kernelPath, '--firmware', m.firmwarePath],
        ...['--initrd', r.initrdPath, '--append', `${m.cmdline} ${PLAIN_CONSOLE_ARG}`],
        ...['--disk', r.rootfsPath, '--net', 'tap', '--bridge', 'br0'],
      ]);
      s = new ConsoleSession(cmd, args);
      const session = s;
      await until('the TAP device on br0', () => ns.bridgePorts().length === 1, 60_000);
      const tap = ns.bridgePorts()[0];
      assert.match(tap, /^berth\d+-\d+$/);
      await session.expect(GUEST_READY_BANNER, BOOT_MS);
      await session.expect(PROMPT, 60_000);
      // No DHCP server on br0: stop the guest's client and give eth0 an address by hand.
      await session.run(
        `killall udhcpc; ip -4 addr flush dev eth0; ip addr add ${GUEST_IP}/24 dev eth0; ip link set eth0 up`,
      );
      assert.match(await session.run('ip -4 addr show eth0'), new RegExp(`inet ${GUEST_IP}/24`));

      let pinged = '';
      for (let i = 0; i < 10 && !/ 0% packet loss/.test(pinged); i++) {
        try {
          pinged = ns.exec('ping', ['-c', '3', '-W', '5', GUEST_IP], 60_000);
        } catch (e) {
          pinged = String((e as { stdout?: string }).stdout ?? e);
        }
      }
      assert.match(pinged, / 0% packet loss/, pinged);

      const page = ns.exec('curl', ['-sS', '--max-time', '60', `http://${GUEST_IP}/`], 90_000);
      assert.match(page, new RegExp(INDEX_HTML_TEXT));
      await session.run('echo tap-guest > /srv/www/id.txt');
      const id = ns.exec('curl', ['-sS', '--max-time', '60', `http://${GUEST_IP}/id.txt`], 90_000);
      assert.equal(id.trim(), 'tap-guest');

      const fromGuest = await session.run(`ping -c 2 -W 5 ${BRIDGE_IP}`, 60_000);
      assert.match(fromGuest, /2 packets received/, fromGuest);
      const mac = await session.run('cat /sys/class/net/eth0/address');
      assert.match(
        mac,
        /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/m,
        'a locally administered MAC derived from the disk',
      );

      session.send('poweroff -f\n');
      assert.equal(await session.exited, 0);
      await until('the TAP device to go', () => ns.bridgePorts().length === 0, 10_000);
    } finally {
      s?.kill();
      ns.delete();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
