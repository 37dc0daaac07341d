// The TAP backend's parts that need no root: frame limits, interface names,
// socat's command line, the privilege check, and UdpFrameLink (frames as
// datagrams) against a peer socket on loopback: frames both ways, bad frames
// dropped and counted, datagrams from others never delivered, backpressure
// with held frames and a bound, and whenReceived(). The TAP device itself is
// tested in test/integration/tap.test.ts, inside a network namespace.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import {
  checkIfName,
  checkPrivileges,
  defaultTapName,
  findExecutable,
  frameProblem,
  MAX_DATAGRAM,
  MAX_IFNAME,
  NOT_ROOT_MESSAGE,
  socatArgs,
  TapBackend,
  TapError,
  UdpFrameLink,
} from './tap.js';
import { NET_MIN_FRAME } from '../../machine/virtio/netBackend.js';

const STATUS_ROOT = 'Name:\tnode\nCapEff:\t000001ffffffffff\n';
const STATUS_NO_NET_ADMIN = 'Name:\tnode\nCapEff:\t0000000000000000\n';

function frame(n: number, fill = 0xab): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

async function connected(s: Socket, port: number): Promise<void> {
  await new Promise<void>((r) => s.connect(port, '127.0.0.1', () => r()));
}

/** A link and its peer (standing in for socat), connected to each other. */
async function pair(opts = {}): Promise<{ link: UdpFrameLink; peer: Socket; close: () => void }> {
  const ours = await bound();
  const peer = await bound();
  await connected(ours, peer.address().port);
  await connected(peer, ours.address().port);
  const link = new UdpFrameLink(ours, peer.address().port, opts);
  return {
    link,
    peer,
    close: () => {
      ours.close();
      peer.close();
    },
  };
}

function nextMessage(s: Socket): Promise<Buffer> {
  return new Promise((r) => s.once('message', (m: Buffer) => r(m)));
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('frame limits: an Ethernet header at least, a UDP datagram at most', () => {
  assert.equal(frameProblem(NET_MIN_FRAME), null);
  assert.equal(frameProblem(1514), null);
  assert.equal(frameProblem(MAX_DATAGRAM), null);
  assert.match(frameProblem(0)!, /shorter than an Ethernet header/);
  assert.match(frameProblem(NET_MIN_FRAME - 1)!, /shorter/);
  assert.match(frameProblem(MAX_DATAGRAM + 1)!, /longer than the 65507 bytes/);
});

test('interface names: default TAP names fit in 15 characters; bad names are refused', () => {
  assert.equal(defaultTapName(1234, 0), 'berth1234-0');
  assert.equal(defaultTapName(4194304, 12), 'berth4194304-12');
  assert.ok(defaultTapName(4194304, 123).length <= MAX_IFNAME);
  for (const ok of ['br0', 'virbr0', 'lxcbr0', 'br-lan.10']) checkIfName(ok, 'bridge');
  for (const bad of ['', 'a'.repeat(16), 'br 0', 'br/0', '..', 'br:0', 'x;rm']) {
    assert.throws(() => checkIfName(bad, 'bridge'), TapError, bad);
  }
});

test("socat's command line: a TAP device without packet info, datagrams on loopback only", () => {
  assert.deepEqual(socatArgs('berth7-0', 40001, 40002), [
    '-d',
    '-b',
    '65508',
    'TUN,tun-type=tap,tun-name=berth7-0,iff-no-pi,iff-up',
    'UDP4-DATAGRAM:127.0.0.1:40001,bind=127.0.0.1:40002,range=127.0.0.1/32',
  ]);
});

test('privileges: root with CAP_NET_ADMIN, anything else gets the advice to use --net user', () => {
  checkPrivileges(0, STATUS_ROOT);
  checkPrivileges(0, ''); // no /proc: the kernel has the last word
  assert.throws(() => checkPrivileges(1000, STATUS_ROOT), { message: NOT_ROOT_MESSAGE });
  assert.throws(() => checkPrivileges(undefined, STATUS_ROOT), TapError);
  assert.throws(() => checkPrivileges(0, STATUS_NO_NET_ADMIN), {
    message: '--net tap needs root (CAP_NET_ADMIN); use --net user',
  });
});

test('findExecutable: paths and PATH lookups', () => {
  assert.equal(findExecutable(process.execPath), process.execPath);
  assert.equal(findExecutable('/nonexistent/socat'), null);
  assert.equal(findExecutable('berth-no-such-tool-here'), null);
});

test('TapBackend.start: a missing socat or bridge is a TapError saying what to do', async () => {
  if (process.getuid?.() !== 0) {
    await assert.rejects(TapBackend.start({ bridge: 'br0' }), { message: NOT_ROOT_MESSAGE });
    return;
  }
  await assert.rejects(TapBackend.start({ bridge: 'br0', socat: '/nonexistent/socat' }), {
    message: /socat was not found.*Debian's socat package: apt-get install socat/,
  });
  await assert.rejects(TapBackend.start({ bridge: 'berthnobr0' }), {
    message: /there is no bridge "berthnobr0".*ip link add berthnobr0 type bridge/,
  });
  await assert.rejects(
    TapBackend.start({ bridge: 'lo' }),
    /"lo" is a network interface but not a bridge/,
  );
});

test('UdpFrameLink: frames both ways, one frame per datagram, counted', async () => {
  const { link, peer, close } = await pair();
  try {
    const got: Uint8Array[] = [];
    link.attach({ receive: (f) => (got.push(f.slice()), true) });
    const out = frame(60, 1);
    const arrived = nextMessage(peer);
    link.send(out);
    out.fill(9); // the caller may reuse its buffer at once
    assert.deepEqual(new Uint8Array(await arrived), frame(60, 1));
    const woken = link.whenReceived();
    peer.send(frame(1514, 2));
    peer.send(frame(NET_MIN_FRAME, 3));
    await woken;
    await until(() => got.length === 2);
    assert.deepEqual(got, [frame(1514, 2), frame(NET_MIN_FRAME, 3)]);
    assert.deepEqual(link.counters, {
      txFrames: 1,
      txBytes: 60,
      txDropped: 0,
      rxFrames: 2,
      rxBytes: 1514 + NET_MIN_FRAME,
      rxDropped: 0,
      rxForeign: 0,
    });
  } finally {
    close();
  }
});

test('UdpFrameLink: bad frames are dropped and counted; strangers are not heard', async () => {
  const { link, peer, close } = await pair();
  const stranger = await bound();
  try {
    const got: Uint8Array[] = [];
    link.attach({ receive: (f) => (got.push(f.slice()), true) });
    link.send(new Uint8Array(0));
    link.send(frame(NET_MIN_FRAME - 1));
    link.send(frame(MAX_DATAGRAM + 1));
    link.send(frame(70_000));
    assert.equal(link.counters.txDropped, 4);
    assert.equal(link.counters.txFrames, 0);
    peer.send(frame(5));
    peer.send(Buffer.alloc(0));
    stranger.send(frame(60, 7), link.localPort, '127.0.0.1');
    peer.send(frame(60, 8)); // after the others: once it is in, they have been seen or filtered
    await until(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, [frame(60, 8)]);
    assert.equal(link.counters.rxDropped, 2);
    assert.equal(link.counters.rxFrames, 1);
  } finally {
    stranger.close();
    close();
  }
});

test('UdpFrameLink: receive() false holds frames until resume(), up to a bound', async () => {
  const { link, peer, close } = await pair({ maxQueuedFrames: 3 });
  try {
    const got: number[] = [];
    let room = 1;
    link.attach({
      receive: (f) => {
        got.push(f[0]);
        return --room > 0;
      },
    });
    for (let i = 1; i <= 6; i++) peer.send(frame(60, i));
    await until(() => link.counters.rxDropped + link.queued === 5);
    assert.deepEqual(got, [1], 'nothing after receive() said false');
    assert.equal(link.queued, 3);
    assert.equal(link.counters.rxDropped, 2);
    room = 2;
    link.resume();
    assert.deepEqual(got, [1, 2, 3], 'resume() delivers until the next false');
    assert.equal(link.queued, 1);
    room = 10;
    link.resume();
    assert.deepEqual(got, [1, 2, 3, 4]);
    peer.send(frame(60, 7));
    await until(() => got.length === 5);
    assert.deepEqual(got, [1, 2, 3, 4, 7]);
  } finally {
    close();
  }
});

test('UdpFrameLink: frames wait for a receiver', async () => {
  const { link, peer, close } = await pair();
  try {
    peer.send(frame(60, 5));
    await until(() => link.queued === 1);
    const got: number[] = [];
    link.attach({ receive: (f) => (got.push(f[0]), true) });
    assert.deepEqual(got, [5]);
  } finally {
    close();
  }
});
