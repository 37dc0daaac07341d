// The libslirp backend on loopback, without a guest: frames made by hand play
// the guest. DHCP gives 10.0.2.15 with 10.0.2.2 as router (and the lease is
// read back), the gateway answers ARP, a host connection to a forwarded port
// carries bytes both ways through a TCP handshake done by hand, garbage from
// the guest changes nothing, backpressure holds frames until resume(), a port
// in use and a missing libslirp are clear errors, and close() frees the ports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import koffi from 'koffi';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { SlirpBackend, SlirpError } from './slirp.js';
import { SlirpCb, SlirpConfig } from './slirpLib.js';
import type { NetReceiver } from '../../machine/virtio/netBackend.js';
import {
  ACK,
  PSH,
  SYN,
  GUEST_MAC,
  arpReplyFrom,
  arpRequest,
  dhcp,
  ip4,
  parseDhcp,
  parseTcp,
  tcpFrame,
} from '../../../test/support/guestFrames.js';
import { freePort } from '../../../test/support/wait.js';

const GUEST = ip4('10.0.2.15');
const GATEWAY = ip4('10.0.2.2');

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
      if (Date.now() > deadline) throw new Error('no matching frame from slirp');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

test("SlirpConfig and SlirpCb are laid out as libslirp.h's (64-bit Linux)", () => {
  // Offsets printed by a C program including <slirp/libslirp.h> (libslirp 4.7).
  const want: Record<string, number> = {
    version: 0,
    restricted: 4,
    in_enabled: 8,
    vnetwork: 12,
    vnetmask: 16,
    vhost: 20,
    in6_enabled: 24,
    vprefix_addr6: 28,
    vprefix_len: 44,
    vhost6: 48,
    vhostname: 64,
    tftp_server_name: 72,
    tftp_path: 80,
    bootfile: 88,
    vdhcp_start: 96,
    vnameserver: 100,
    vnameserver6: 104,
    vdnssearch: 120,
    vdomainname: 128,
    if_mtu: 136,
    if_mru: 144,
    disable_host_loopback: 152,
    enable_emu: 153,
    outbound_addr: 160,
    outbound_addr6: 168,
    disable_dns: 176,
    disable_dhcp: 177,
  };
  for (const [field, off] of Object.entries(want)) {
    assert.equal(koffi.offsetof(SlirpConfig, field), off, field);
  }
  assert.equal(koffi.sizeof(SlirpConfig), 184);
  assert.equal(koffi.sizeof(SlirpCb), 88);
  assert.equal(koffi.offsetof(SlirpCb, 'timer_new_opaque'), 80);
});

test('DHCP gives 10.0.2.15 and the lease is seen; the gateway answers ARP', async () => {
  const logs: string[] = [];
  const net = await SlirpBackend.start({ log: (l) => logs.push(l) });
  const rx = new Collector();
  net.attach(rx);
  try {
    assert.match(net.version, /^4\./);
    const xid = 0x4265_7274;
    const woken = net.whenReceived();
    net.send(dhcp(xid, 1));
    await woken;
    const offer = await rx.waitFor((f) => parseDhcp(f, xid));
    assert.equal(offer.type, 2, 'DHCPOFFER');
    assert.deepEqual(offer.yiaddr, GUEST);
    assert.deepEqual(offer.router, GATEWAY);
    assert.equal(net.guestAddress, null, 'an offer is no lease');
    net.send(dhcp(xid + 1, 3, offer.yiaddr, offer.server ?? GATEWAY));
    const ack = await rx.waitFor((f) => parseDhcp(f, xid + 1));
    assert.equal(ack.type, 5, 'DHCPACK');
    assert.equal(await net.whenLeased(), '10.0.2.15');
    assert.equal(net.guestAddress, '10.0.2.15');

    net.send(arpRequest(GUEST, GATEWAY));
    const mac = await rx.waitFor((f) => arpReplyFrom(f, GATEWAY));
    assert.equal(mac.length, 6);
    const c = net.counters;
    assert.equal(c.txFrames, 3);
    assert.ok(c.rxFrames >= 3);
    assert.equal(c.txDropped + c.rxDropped, 0);
  } finally {
    await net.close();
  }
  assert.equal(net.connected, false);
  assert.deepEqual(logs, []);
});

test('a forwarded port: a handshake by hand, bytes both ways, the port freed by close()', async () => {
  const hostPort = await freePort();
  const net = await SlirpBackend.start({
    forwards: [{ proto: 'tcp', hostPort, guestPort: 8080, hostAddress: '127.0.0.1' }],
  });
  const rx = new Collector();
  net.attach(rx);
  let client: Socket | null = null;
  try {
    // slirp learns the guest's MAC from its frames (and knows where to send the SYN).
    net.send(arpRequest(GUEST, GATEWAY));
    const gwMac = await rx.waitFor((f) => arpReplyFrom(f, GATEWAY));
    client = connect(hostPort, '127.0.0.1');
    const connected = new Promise<void>((r) => client!.once('connect', () => r()));
    const received: Buffer[] = [];
    client.on('data', (d: Buffer) => received.push(d));
    client.on('error', () => {});
    const syn = await rx.waitFor((f) => {
      const t = parseTcp(f);
      return t && t.dport === 8080 && t.flags & SYN ? t : null;
    });
    assert.deepEqual(syn.dst, GUEST);
    const iss = 1000;
    const reply = (flags: number, seq: number, ack: number, payload = new Uint8Array(0)) =>
      net.send(
        tcpFrame(gwMac, {
          src: GUEST,
          dst: syn.src,
          sport: 8080,
          dport: syn.sport,
          seq,
          ack,
          flags,
          payload,
        }),
      );
    reply(SYN | ACK, iss, syn.seq + 1);
    await connected;
    client.write('ping from the host');
    const data = await rx.waitFor((f) => {
      const t = parseTcp(f);
      return t && t.dport === 8080 && t.payload.length > 0 ? t : null;
    });
    assert.equal(Buffer.from(data.payload).toString(), 'ping from the host');
    reply(ACK | PSH, iss + 1, data.seq + data.payload.length, Buffer.from('pong from the guest'));
    const deadline = Date.now() + 5000;
    while (Buffer.concat(received).toString() !== 'pong from the guest') {
      if (Date.now() > deadline) throw new Error('the guest bytes did not arrive');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    client?.destroy();
    await net.close();
  }
  // The listening socket belonged to this process and is gone: the port can be bound at once.
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(hostPort, '127.0.0.1', () => resolve());
  });
  await new Promise((r) => srv.close(r));
});

test('garbage from the guest is survived; the stack still answers', async () => {
  const net = await SlirpBackend.start({ network: { ipv6: false } });
  const rx = new Collector();
  net.attach(rx);
  try {
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    for (let i = 0; i < 2000; i++) {
      const f = new Uint8Array(14 + (rnd() % 1600));
      for (let j = 0; j < f.length; j++) f[j] = rnd() & 0xff;
      // Half of them claim to be IPv4 or ARP, to get past the first check.
      if (i % 2 === 0) f.set(i % 4 === 0 ? [8, 0, 0x45] : [8, 6], 12);
      net.send(f);
    }
    net.send(new Uint8Array(5)); // shorter than a header: dropped before slirp
    net.send(arpRequest(GUEST, GATEWAY));
    await rx.waitFor((f) => arpReplyFrom(f, GATEWAY), 10_000);
    assert.equal(net.connected, true);
    assert.ok(net.counters.txDropped >= 1);
  } finally {
    await net.close();
  }
});

test('backpressure: receive() false holds frames until resume()', async () => {
  const net = await SlirpBackend.start({ network: { ipv6: false } });
  const got: Uint8Array[] = [];
  let room = 1;
  net.attach({
    receive(f) {
      got.push(f.slice());
      return --room > 0;
    },
  });
  try {
    for (let i = 0; i < 5; i++) net.send(arpRequest(GUEST, GATEWAY));
    const deadline = Date.now() + 5000;
    while (got.length + net.queued < 5) {
      if (Date.now() > deadline) throw new Error('the replies did not come');
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got.length, 1, 'nothing is delivered after receive() said false');
    assert.equal(net.queued, 4);
    room = 100;
    net.resume();
    assert.equal(got.length, 5);
    assert.ok(got.every((f) => arpReplyFrom(f, GATEWAY)));
    assert.deepEqual(got[0].subarray(0, 6), GUEST_MAC);
  } finally {
    await net.close();
  }
});

test('a forwarded port in use, and a missing libslirp, are clear errors', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  try {
    await assert.rejects(
      SlirpBackend.start({
        forwards: [{ proto: 'tcp', hostPort: port, guestPort: 22, hostAddress: '127.0.0.1' }],
      }),
      (e: Error) =>
        e instanceof SlirpError &&
        new RegExp(`cannot forward host TCP port ${port} on 127.0.0.1.*in use`).test(e.message),
    );
  } finally {
    await new Promise((r) => srv.close(r));
  }
  await assert.rejects(
    SlirpBackend.start({ library: '/nonexistent/berth/libslirp.so.0' }),
    (e: Error) => e instanceof SlirpError && /install Debian's libslirp0 package/.test(e.message),
  );
});
