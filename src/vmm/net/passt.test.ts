// The passt backend: frame decoding (split, coalesced and oversize frames),
// port-forward parsing, clear errors when passt is missing or refuses to
// start, and a real passt exchanging frames on its unix socket: a hand-built
// DHCP DISCOVER gets an OFFER, an ARP request for the gateway gets a reply,
// and a loopback connection to a forwarded host port reaches the guest as a
// TCP SYN. Nothing leaves passt's own namespace and the host's loopback.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameDecoder, parsePortForward, passtArgs, PasstBackend, PasstError } from './passt.js';
import type { NetReceiver } from '../../machine/virtio/netBackend.js';

const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0xbe, 0x27, 0x01);

function prefixed(...frames: Uint8Array[]): Uint8Array {
  const n = frames.reduce((a, f) => a + 4 + f.length, 0);
  const out = new Uint8Array(n);
  const v = new DataView(out.buffer);
  let o = 0;
  for (const f of frames) {
    v.setUint32(o, f.length);
    out.set(f, o + 4);
    o += 4 + f.length;
  }
  return out;
}

test('FrameDecoder: frames split byte by byte, several frames in one chunk', () => {
  const a = Uint8Array.from({ length: 60 }, (_, i) => i);
  const b = Uint8Array.from({ length: 1500 }, (_, i) => i * 3);
  const stream = prefixed(a, b, a);
  const d = new FrameDecoder();
  const got: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i++) {
    d.push(stream.subarray(i, i + 1));
    for (let f = d.next(); f; f = d.next()) got.push(f.slice());
  }
  assert.deepEqual(got, [a, b, a]);
  const d2 = new FrameDecoder();
  d2.push(stream.subarray(0, 70));
  d2.push(stream.subarray(70));
  assert.deepEqual([d2.next(), d2.next(), d2.next(), d2.next()], [a, b, a, null]);
  assert.equal(d2.pending, 0);
});

test('FrameDecoder: a zero or oversize length is an error', () => {
  const d = new FrameDecoder();
  d.push(Uint8Array.of(0, 2, 0, 0, 1, 2));
  assert.throws(() => d.next(), PasstError);
  const z = new FrameDecoder();
  z.push(Uint8Array.of(0, 0, 0, 0));
  assert.throws(() => z.next(), /0 bytes/);
});

test('port forwards: parsing and the passt command line', () => {
  assert.deepEqual(parsePortForward('8080:80'), { proto: 'tcp', hostPort: 8080, guestPort: 80 });
  assert.deepEqual(parsePortForward('53/udp'), { proto: 'udp', hostPort: 53, guestPort: 53 });
  assert.deepEqual(parsePortForward('127.0.0.1/2222:22'), {
    proto: 'tcp',
    hostPort: 2222,
    guestPort: 22,
    hostAddress: '127.0.0.1',
  });
  for (const bad of ['', '0:80', '70000:1', '80:', 'http', '1:2:3']) {
    assert.throws(() => parsePortForward(bad), PasstError, bad);
  }
  assert.deepEqual(
    passtArgs('/tmp/x/s', {
      forwards: [parsePortForward('8080:80'), parsePortForward('127.0.0.1/5353:53/udp')],
      ipv4Only: true,
    }),
    ['--foreground', '--socket', '/tmp/x/s', '-t', '8080:80', '-u', '127.0.0.1/5353:53', '-4'],
  );
});

test('a missing passt names the Debian package', async () => {
  await assert.rejects(
    PasstBackend.start({ binary: '/nonexistent/berth/passt' }),
    (e: Error) => e instanceof PasstError && /apt-get install passt/.test(e.message),
  );
});

test('passt refusing its options: the error shows its stderr', async () => {
  await assert.rejects(
    PasstBackend.start({ extraArgs: ['--no-such-option-for-berth'] }),
    (e: Error) => e instanceof PasstError && /no-such-option-for-berth/.test(e.message),
  );
});

// --- frames by hand -----------------------------------------------------------

function ipChecksum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function ethernet(dst: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(dst, 0);
  f.set(GUEST_MAC, 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(payload, 14);
  return f;
}

const BROADCAST = Uint8Array.of(255, 255, 255, 255, 255, 255);

function dhcpDiscover(xid: number): Uint8Array {
  const bootp = new Uint8Array(300);
  const v = new DataView(bootp.buffer);
  bootp[0] = 1; // BOOTREQUEST
  bootp[1] = 1; // Ethernet
  bootp[2] = 6;
  v.setUint32(4, xid);
  v.setUint16(10, 0x8000); // broadcast reply
  bootp.set(GUEST_MAC, 28);
  v.setUint32(236, 0x63825363); // magic cookie
  bootp.set([53, 1, 1, 55, 3, 1, 3, 6, 255], 240); // DISCOVER; ask for mask, router, DNS
  const udp = new Uint8Array(8 + bootp.length);
  const u = new DataView(udp.buffer);
  u.setUint16(0, 68);
  u.setUint16(2, 67);
  u.setUint16(4, udp.length);
  udp.set(bootp, 8); // checksum 0: none
  const ip = new Uint8Array(20 + udp.length);
  const h = new DataView(ip.buffer);
  ip[0] = 0x45;
  h.setUint16(2, ip.length);
  ip[8] = 64;
  ip[9] = 17;
  ip.set([255, 255, 255, 255], 16);
  h.setUint16(10, ipChecksum(ip.subarray(0, 20)));
  ip.set(udp, 20);
  return ethernet(BROADCAST, 0x0800, ip);
}

function arpRequest(senderIp: Uint8Array, targetIp: Uint8Array): Uint8Array {
  const a = new Uint8Array(28);
  a.set([0, 1, 8, 0, 6, 4, 0, 1], 0);
  a.set(GUEST_MAC, 8);
  a.set(senderIp, 14);
  a.set(targetIp, 24);
  return ethernet(BROADCAST, 0x0806, a);
}

interface Offer {
  yiaddr: Uint8Array;
  router: Uint8Array | null;
  type: number;
}

/** Parses a DHCP reply for `xid` out of an Ethernet frame, or null. */
function parseDhcp(f: Uint8Array, xid: number): Offer | null {
  if (f.length < 14 + 20 + 8 + 240 || f[12] !== 8 || f[13] !== 0) return null;
  const ihl = (f[14] & 15) * 4;
  if (f[14 + 9] !== 17) return null;
  const udp = 14 + ihl;
  const v = new DataView(f.buffer, f.byteOffset, f.length);
  if (v.getUint16(udp) !== 67 || v.getUint16(udp + 2) !== 68) return null;
  const b = udp + 8;
  if (f[b] !== 2 || v.getUint32(b + 4) !== xid) return null;
  const out: Offer = { yiaddr: f.slice(b + 16, b + 20), router: null, type: 0 };
  for (let o = b + 240; o < f.length && f[o] !== 255;) {
    if (f[o] === 0) {
      o++;
      continue;
    }
    const code = f[o];
    const len = f[o + 1];
    if (code === 53) out.type = f[o + 2];
    if (code === 3 && len >= 4) out.router = f.slice(o + 2, o + 6);
    o += 2 + len;
  }
  return out;
}

class Collector implements NetReceiver {
  frames: Uint8Array[] = [];
  receive(frame: Uint8Array): boolean {
    this.frames.push(frame.slice());
    return true;
  }
  async waitFor<T>(pick: (f: Uint8Array) => T | null, ms = 5000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (const f of this.frames) {
        const r = pick(f);
        if (r !== null) return r;
      }
      if (Date.now() > deadline) throw new Error('no matching frame from passt');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('real passt: DHCP offer, ARP reply from the gateway, a forwarded port reaches the guest', async () => {
  const hostPort = await freePort();
  const logs: string[] = [];
  const net = await PasstBackend.start({
    forwards: [{ proto: 'tcp', hostPort, guestPort: 8080, hostAddress: '127.0.0.1' }],
    ipv4Only: true,
    log: (l) => logs.push(l),
  });
  const rx = new Collector();
  net.attach(rx);
  let client: Socket | null = null;
  try {
    const xid = 0x4265_7274;
    net.send(dhcpDiscover(xid));
    const offer = await rx.waitFor((f) => parseDhcp(f, xid));
    assert.equal(offer.type, 2, 'DHCPOFFER');
    assert.notDeepEqual(offer.yiaddr, new Uint8Array(4), 'an address is offered');
    assert.ok(offer.router, 'a router is offered');
    const router = offer.router;
    net.send(arpRequest(offer.yiaddr, router));
    const gwMac = await rx.waitFor((f) =>
      f[12] === 8 &&
      f[13] === 6 &&
      f[21] === 2 &&
      f.subarray(28, 32).every((b, i) => b === router[i])
        ? f.slice(22, 28)
        : null,
    );
    assert.equal(gwMac.length, 6);

    client = connect(hostPort, '127.0.0.1');
    client.on('error', () => {});
    const syn = await rx.waitFor((f) => {
      if (f[12] !== 8 || f[13] !== 0 || f[14 + 9] !== 6) return null;
      const tcp = 14 + (f[14] & 15) * 4;
      const dport = (f[tcp + 2] << 8) | f[tcp + 3];
      return dport === 8080 && (f[tcp + 13] & 0x02) !== 0 ? f : null;
    });
    assert.deepEqual(syn.subarray(0, 6), GUEST_MAC, 'the SYN is addressed to the guest');
    assert.deepEqual(syn.subarray(30, 34), offer.yiaddr, 'to the offered address');
    assert.ok(net.counters.txFrames >= 2);
    assert.ok(net.counters.rxFrames >= 3);
  } finally {
    client?.destroy();
    const pid = net.pid;
    await net.close();
    assert.equal(net.connected, false);
    assert.ok(isZombieOrGone(pid), 'passt has exited');
  }
  assert.deepEqual(logs, []);
});

function isZombieOrGone(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

test('passt exiting on its own is noticed with one log line', async () => {
  const logs: string[] = [];
  const net = await PasstBackend.start({ ipv4Only: true, log: (l) => logs.push(l) });
  net.attach(new Collector());
  process.kill(net.pid as number, 'SIGTERM');
  await net.done;
  assert.equal(net.connected, false);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(logs.length, 1);
  assert.match(logs[0], /passt exited/);
  net.send(new Uint8Array(60));
  assert.equal(net.counters.txDropped, 1);
  await net.close();
});

// --- a stand-in for passt: speaks the same framing, misbehaves on request ----

const FAKE_PASST = `#!/usr/bin/env node
const net = require('node:net');
const a = process.argv;
const path = a[a.indexOf('--socket') + 1];
const mode = a[a.indexOf('--fake-mode') + 1];
net.createServer((c) => {
  if (mode === 'oversize') {
    c.write(Buffer.from([0, 0x10, 0, 0, 1, 2, 3]));
    return;
  }
  const out = [];
  for (let i = 0; i < 10; i++) {
    const f = Buffer.alloc(64, i);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(64);
    out.push(h, f);
  }
  c.write(Buffer.concat(out));
  c.pipe(c);
}).listen(path);
`;

function fakePasst(): { binary: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-fake-passt-'));
  const binary = join(dir, 'passt.cjs');
  writeFileSync(binary, FAKE_PASST);
  chmodSync(binary, 0o755);
  return { binary, dir };
}

test('coalesced frames honour backpressure: delivery pauses and resumes', async () => {
  const fake = fakePasst();
  const net = await PasstBackend.start({
    binary: fake.binary,
    extraArgs: ['--fake-mode', 'burst'],
  });
  try {
    const got: number[] = [];
    let room = 3;
    net.attach({
      receive(f) {
        got.push(f[0]);
        return --room > 0;
      },
    });
    const wait = async (n: number): Promise<void> => {
      for (let i = 0; i < 500 && got.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    };
    await wait(3);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, [0, 1, 2], 'paused after the receiver said no');
    room = 100;
    net.resume();
    await wait(10);
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // the stand-in echoes: a frame sent comes back whole, and wakes an idle VMM
    const woken = net.whenReceived();
    net.send(new Uint8Array(100).fill(0xab));
    await woken;
    assert.equal(got[10], 0xab);
    assert.equal(net.counters.rxFrames, 11);
  } finally {
    await net.close();
    rmSync(fake.dir, { recursive: true, force: true });
  }
});

test('an oversize frame from passt drops the connection with one log line', async () => {
  const fake = fakePasst();
  const logs: string[] = [];
  const net = await PasstBackend.start({
    binary: fake.binary,
    extraArgs: ['--fake-mode', 'oversize'],
    log: (l) => logs.push(l),
  });
  try {
    net.attach(new Collector());
    await net.done;
    assert.equal(net.connected, false);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(logs.length, 1);
    assert.match(logs[0], /1048576 bytes.*dropping the connection/);
    assert.equal(net.counters.rxFrames, 0);
  } finally {
    await net.close();
    rmSync(fake.dir, { recursive: true, force: true });
  }
});
