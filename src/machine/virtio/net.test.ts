// virtio-net on an in-memory backend, driven through the mmio transport as the
// Linux driver would: configuration space and MAC, transmit (header stripped),
// receive into single and mergeable buffers, holding and dropping frames when
// the guest has no buffers, malformed chains, and saved state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';
import { Ram } from '../ram.js';
import { restoreState } from '../state/persistent.js';
import { FakeLine } from '../devices/testIrq.js';
import { REG, VirtioMmio } from './mmio.js';
import {
  formatMac,
  macFromSeed,
  NET_HDR_SIZE,
  NET_HDR_SIZE_LEGACY,
  parseMac,
  RX_QUEUE,
  TX_QUEUE,
  VirtioNet,
  VirtioNetError,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  type VirtioNetConfig,
} from './net.js';
import { MemoryNetBackend, NET_MAX_FRAME } from './netBackend.js';
import { TestDriver } from './virtioTestDriver.js';

const BASE = 0x80000000;

function setup(
  opts: { mergeable?: boolean; features?: bigint; cfg?: VirtioNetConfig; init?: boolean } = {},
) {
  const ram = new Ram(BASE, 4 << 20);
  const backend = new MemoryNetBackend();
  const net = new VirtioNet(backend, { seed: 'test-guest', ...opts.cfg });
  const logs: string[] = [];
  const irq = new FakeLine();
  const t = new VirtioMmio(ram, net, irq, (l) => logs.push(l), 'slot 6');
  net.attach(t);
  const d = new TestDriver(ram, t);
  if (opts.init !== false) {
    const f =
      opts.features ??
      (opts.mergeable === false
        ? t.offeredFeatures & ~(1n << BigInt(VIRTIO_NET_F_MRG_RXBUF))
        : t.offeredFeatures);
    d.init([16, 16], f);
  }
  return { ram, backend, net, t, d, logs, irq };
}

/** An Ethernet frame of `len` bytes with a recognisable pattern. */
function frame(len: number, seed = 1): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + seed) & 0xff;
  return f;
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function withHeader(f: Uint8Array): Uint8Array {
  const b = new Uint8Array(NET_HDR_SIZE + f.length);
  b.set(f, NET_HDR_SIZE);
  return b;
}

test('device ID, features and configuration space (MAC, link up)', () => {
  const env = setup({ cfg: { mac: '52:54:00:12:34:56' } });
  assert.equal(env.t.read(REG.deviceId, 4), 1);
  const f = env.t.offeredFeatures;
  for (const bit of [VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MRG_RXBUF, 32]) {
    assert.notEqual(f & (1n << BigInt(bit)), 0n, `feature ${bit}`);
  }
  const mac = [0, 1, 2, 3, 4, 5].map((i) => env.t.read(REG.config + i, 1));
  assert.deepEqual(mac, [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
  assert.equal(env.t.read(REG.config + 6, 2), 1);
  assert.equal(env.t.read(REG.config + 0, 4), 0x12005452);
  env.t.write(REG.config, 1, 0xff);
  assert.equal(env.t.read(REG.config, 1), 0x52, 'the MAC is read-only');
  assert.equal(env.t.read(REG.config + 8, 2), 0, 'past the end reads 0');
});

test('MAC: derived from a seed (deterministic, locally administered unicast), parsed, or refused', () => {
  const a = macFromSeed('guest-a');
  assert.deepEqual(a, macFromSeed('guest-a'));
  assert.notDeepEqual(a, macFromSeed('guest-b'));
  assert.equal(a[0] & 3, 2);
  assert.equal(formatMac(parseMac('02-AA-bb-01-02-03')), '02:aa:bb:01:02:03');
  assert.throws(() => parseMac('01:00:5e:00:00:01'), VirtioNetError);
  assert.throws(() => parseMac('52:54:00:12:34'), VirtioNetError);
  const env = setup();
  assert.equal(formatMac(env.net.mac), formatMac(macFromSeed('test-guest')));
});

test('transmit strips the virtio header and hands the frame to the backend', () => {
  const env = setup();
  const f1 = frame(60);
  const f2 = frame(1514, 9);
  env.d.submit(TX_QUEUE, [{ data: withHeader(f1) }]);
  // header and frame in separate descriptors, the frame split too
  env.d.submit(TX_QUEUE, [
    { data: new Uint8Array(NET_HDR_SIZE) },
    { data: f2.subarray(0, 100) },
    { data: f2.subarray(100) },
  ]);
  assert.deepEqual(env.backend.sent, [f1, f2]);
  const used = env.d.takeUsed(TX_QUEUE);
  assert.equal(used.length, 2);
  assert.ok(used.every((u) => u.len === 0));
  assert.equal(env.irq.level, true);
  assert.equal(env.net.counters.txFrames, 2);
  assert.equal(env.net.counters.txBytes, 60 + 1514);
});

test('a transmitted runt frame is dropped and counted; the device keeps working', () => {
  const env = setup();
  env.d.submit(TX_QUEUE, [{ data: withHeader(frame(10)) }]);
  env.d.submit(TX_QUEUE, [{ data: withHeader(frame(64)) }]);
  assert.equal(env.backend.sent.length, 1);
  assert.equal(env.net.counters.txDropped, 1);
  assert.equal(env.d.takeUsed(TX_QUEUE).length, 2);
  assert.equal(env.t.needsReset, false);
});

test('receive writes header (num_buffers = 1) and frame into a posted buffer', () => {
  const env = setup({ mergeable: false });
  const [buf] = env.d.submit(RX_QUEUE, [{ writeLen: 1526 }]);
  env.irq.set(false);
  const f = frame(98, 3);
  assert.equal(env.backend.inject(f), true);
  const used = env.d.takeUsed(RX_QUEUE);
  assert.deepEqual(used, [{ id: 0, len: NET_HDR_SIZE + 98 }]);
  const got = env.d.bytes(buf, NET_HDR_SIZE + 98);
  const hdr = new DataView(got.buffer, got.byteOffset, NET_HDR_SIZE);
  assert.equal(hdr.getUint16(10, true), 1, 'num_buffers');
  assert.deepEqual(got.subarray(0, 10), new Uint8Array(10));
  assert.deepEqual(got.subarray(NET_HDR_SIZE), f);
  assert.equal(env.irq.level, true);
  assert.equal(env.net.counters.rxFrames, 1);
  assert.equal(env.net.counters.rxBytes, 98);
});

test('a driver that accepts neither VERSION_1 nor MRG_RXBUF (as QEMU allows) gets the 10-byte header', () => {
  const env = setup({ features: 1n << BigInt(VIRTIO_NET_F_MAC) });
  assert.equal(NET_HDR_SIZE_LEGACY, 10);
  const f = frame(60, 4);
  const tx = new Uint8Array(NET_HDR_SIZE_LEGACY + f.length);
  tx.set(f, NET_HDR_SIZE_LEGACY);
  env.d.submit(TX_QUEUE, [{ data: tx }]);
  assert.deepEqual(env.backend.sent, [f]);
  const [buf] = env.d.submit(RX_QUEUE, [{ writeLen: 1524 }]);
  const g = frame(98, 6);
  env.backend.inject(g);
  assert.deepEqual(env.d.takeUsed(RX_QUEUE), [{ id: 0, len: NET_HDR_SIZE_LEGACY + 98 }]);
  const got = env.d.bytes(buf, NET_HDR_SIZE_LEGACY + 98);
  assert.deepEqual(got.subarray(0, NET_HDR_SIZE_LEGACY), new Uint8Array(NET_HDR_SIZE_LEGACY));
  assert.deepEqual(got.subarray(NET_HDR_SIZE_LEGACY), g);
  assert.equal(env.t.needsReset, false);
});

test('receive with mergeable buffers spreads a frame over several chains', () => {
  const env = setup();
  const bufs = [0, 1, 2, 3].map(() => env.d.submit(RX_QUEUE, [{ writeLen: 100 }])[0]);
  const f = frame(250, 5);
  env.backend.inject(f);
  const used = env.d.takeUsed(RX_QUEUE);
  assert.deepEqual(
    used.map((u) => u.len),
    [100, 100, 62],
  );
  const all = new Uint8Array(262);
  all.set(env.d.bytes(bufs[0], 100), 0);
  all.set(env.d.bytes(bufs[1], 100), 100);
  all.set(env.d.bytes(bufs[2], 62), 200);
  assert.equal(new DataView(all.buffer).getUint16(10, true), 3, 'num_buffers');
  assert.deepEqual(all.subarray(NET_HDR_SIZE), f);
  // the fourth buffer is still available for the next frame
  env.backend.inject(frame(50));
  assert.deepEqual(env.d.takeUsed(RX_QUEUE), [{ id: 3, len: 62 }]);
});

test('a frame larger than a single buffer (no mergeable buffers) is dropped; the buffer is kept', () => {
  const env = setup({ mergeable: false });
  env.d.submit(RX_QUEUE, [{ writeLen: 200 }]);
  env.backend.inject(frame(500));
  assert.deepEqual(env.d.takeUsed(RX_QUEUE), []);
  assert.equal(env.net.counters.rxInvalid, 1);
  env.backend.inject(frame(100));
  assert.deepEqual(env.d.takeUsed(RX_QUEUE), [{ id: 0, len: 112 }]);
  assert.equal(env.t.needsReset, false);
});

test('without receive buffers frames are held, then dropped and counted; posting buffers delivers them', () => {
  const env = setup({ cfg: { rxHoldFrames: 4 } });
  const results = [1, 2, 3, 4, 5, 6].map((i) => env.backend.inject(frame(60, i)));
  // the fourth fills the hold queue (pause), the fifth and sixth are dropped
  assert.deepEqual(results, [true, true, true, false, false, false]);
  assert.equal(env.net.heldFrames, 4);
  assert.equal(env.net.counters.rxDropped, 2);
  assert.equal(env.backend.paused, true);
  const bufs = [0, 1, 2].map(() => env.d.submit(RX_QUEUE, [{ writeLen: 1526 }])[0]);
  assert.equal(env.d.takeUsed(RX_QUEUE).length, 3);
  assert.deepEqual(env.d.bytes(bufs[2], NET_HDR_SIZE + 60).subarray(NET_HDR_SIZE), frame(60, 3));
  assert.equal(env.net.heldFrames, 1);
  assert.equal(env.backend.paused, false, 'the backend was told to resume');
  assert.equal(env.backend.resumes, 1);
  env.d.submit(RX_QUEUE, [{ writeLen: 1526 }]);
  assert.equal(env.net.heldFrames, 0);
  assert.equal(env.net.counters.rxFrames, 4);
});

test('frames arriving before the driver posts receive buffers are held; the driver reset drops them', () => {
  const env = setup({ init: false });
  env.backend.inject(frame(60));
  assert.equal(env.net.heldFrames, 1);
  env.d.init([16, 16]);
  assert.equal(env.net.heldFrames, 0, 'the reset at probe dropped it');
  env.backend.inject(frame(60));
  assert.equal(env.net.heldFrames, 1);
  env.d.submit(RX_QUEUE, [{ writeLen: 1526 }]);
  assert.equal(env.d.takeUsed(RX_QUEUE).length, 1);
});

test('malformed transmit chains put the device into NEEDS_RESET without throwing', () => {
  for (const bufs of [
    [{ data: new Uint8Array(6) }],
    [{ data: withHeader(frame(60)) }, { writeLen: 16 }],
  ]) {
    const env = setup();
    assert.doesNotThrow(() => env.d.submit(TX_QUEUE, bufs));
    assert.equal(env.t.needsReset, true);
    assert.equal(env.logs.length, 1);
    assert.match(env.logs[0], /virtio-net/);
    assert.equal(env.backend.sent.length, 0);
    // a reset brings it back
    env.d.init([16, 16]);
    assert.equal(env.t.needsReset, false);
    env.d.submit(TX_QUEUE, [{ data: withHeader(frame(60)) }]);
    assert.equal(env.backend.sent.length, 1);
  }
});

test('a malformed receive chain met while delivering a frame puts the device into NEEDS_RESET', () => {
  const env = setup();
  env.d.submit(RX_QUEUE, [{ data: new Uint8Array(4) }, { writeLen: 1526 }]);
  assert.doesNotThrow(() => env.backend.inject(frame(60)));
  assert.equal(env.t.needsReset, true);
  assert.equal(env.logs.length, 1);
  assert.doesNotThrow(() => env.backend.inject(frame(60)));
  assert.equal(env.net.counters.rxFrames, 0);
  // a receive buffer shorter than the header
  const env2 = setup();
  env2.d.submit(RX_QUEUE, [{ writeLen: 4 }]);
  env2.backend.inject(frame(60));
  assert.equal(env2.t.needsReset, true);
});

test('reset drops held frames and counts them', () => {
  const env = setup();
  env.backend.inject(frame(60));
  env.backend.inject(frame(60));
  assert.equal(env.net.heldFrames, 2);
  env.t.write(REG.status, 4, 0);
  assert.equal(env.net.heldFrames, 0);
  assert.equal(env.net.counters.rxDropped, 2);
});

test('save/restore keeps link and held frames (counters are not state)', () => {
  const env = setup();
  env.d.submit(TX_QUEUE, [{ data: withHeader(frame(60)) }]);
  env.backend.inject(frame(70, 4));
  env.net.setLink(false);
  assert.equal(env.t.read(REG.interruptStatus, 4) & 2, 2, 'configuration-change interrupt');
  const ram2 = new Ram(BASE, 4 << 20);
  restoreState(ram2, env.ram.saveState());
  const backend2 = new MemoryNetBackend();
  const net2 = new VirtioNet(backend2, { seed: 'test-guest' });
  const t2 = new VirtioMmio(ram2, net2);
  net2.attach(t2);
  const s = assertRoundTrip(env.t, t2);
  assert.deepEqual(s.device.state, { linkUp: false, held: [toHex(frame(70, 4))] });
  assert.equal(net2.counters.txFrames, 0);
  assert.equal(net2.link, false);
  assert.equal(t2.read(REG.config + 6, 2), 0);
  assert.equal(net2.heldFrames, 1);
  // the restored card delivers the held frame once the guest posts a buffer
  const d2 = new TestDriver(ram2, t2, BASE + (2 << 20));
  d2.queues.push(...env.d.queues.map((q) => ({ ...q })));
  const [buf] = d2.submit(RX_QUEUE, [{ writeLen: 1526 }]);
  assert.equal(net2.heldFrames, 0);
  assert.deepEqual(d2.takeUsed(RX_QUEUE), [{ id: 0, len: NET_HDR_SIZE + 70 }]);
  assert.deepEqual(d2.bytes(buf + NET_HDR_SIZE, 70), frame(70, 4));
});

test('bad card states are refused and change nothing', () => {
  const net = new VirtioNet(new MemoryNetBackend(), { rxHoldFrames: 2 });
  const good = toHex(frame(NET_MAX_FRAME));
  assertRefused(
    net,
    { linkUp: true, held: [toHex(frame(13))] },
    /held\[0\] must be 14 to 65553 bytes/,
  );
  assertRefused(net, { linkUp: true, held: [good + '00'] }, /held\[0\] must be 14 to 65553 bytes/);
  assertRefused(
    net,
    { linkUp: true, held: ['0g'.repeat(20)] },
    /held\[0\] must be bytes as lowercase hex digits/,
  );
  assertRefused(net, { linkUp: true, held: [good, good, good] }, /held must be a list of 0 to 2/);
  const small = new VirtioNet(new MemoryNetBackend(), {
    rxHoldFrames: 4,
    rxHoldBytes: NET_MAX_FRAME,
  });
  assertRefused(
    small,
    { linkUp: true, held: [good, toHex(frame(20))] },
    /held holds 65573 bytes, more than the 65553/,
  );
  assertRefused(net, { linkUp: 1, held: [] }, /linkUp must be true or false/);
  net.receive(frame(60));
  assertMutationsRefused(net);
  assert.equal(net.heldFrames, 1);
});

test('held while the machine stands still, frames wait in the card, not in guest memory; a destination of the state delivers them and interrupts', () => {
  const env = setup();
  for (let i = 0; i < 4; i++) env.d.submit(RX_QUEUE, [{ writeLen: 1526 }]);
  env.backend.inject(frame(60, 1));
  assert.equal(env.d.takeUsed(RX_QUEUE).length, 1);
  env.d.setUsedEvent(RX_QUEUE, 1); // the guest wants an interrupt after the next used buffer
  env.d.w32(REG.interruptAck, 1);
  // paused: the last pages are taken, then a frame comes, then the device state is taken
  env.t.hold(true);
  const pages = env.ram.u8.slice();
  env.backend.inject(frame(60, 2));
  assert.equal(Buffer.compare(env.ram.u8, pages), 0, 'guest memory untouched while held');
  assert.equal(env.net.heldFrames, 1);
  assert.equal(env.irq.level, false);
  const state = JSON.parse(JSON.stringify(env.t.saveState()));
  // the destination: those pages, a frame of its own before the state, then the state
  const ram2 = new Ram(BASE, 4 << 20);
  ram2.u8.set(pages);
  const backend2 = new MemoryNetBackend();
  const net2 = new VirtioNet(backend2, { seed: 'test-guest' });
  const irq2 = new FakeLine();
  const t2 = new VirtioMmio(ram2, net2, irq2);
  net2.attach(t2);
  t2.hold(true);
  backend2.inject(frame(60, 3));
  t2.loadState(t2.checkState(state));
  assert.equal(net2.heldFrames, 2, "the source's frame, then its own");
  const d2 = new TestDriver(ram2, t2, BASE + (2 << 20));
  d2.queues.push(...env.d.queues.map((q) => ({ ...q })));
  t2.hold(false); // the guest runs here
  const used = d2.takeUsed(RX_QUEUE);
  assert.equal(used.length, 2);
  assert.equal(irq2.level, true, 'the driver hears of them');
  d2.setUsedEvent(RX_QUEUE, 3);
  d2.w32(REG.interruptAck, 1);
  backend2.inject(frame(60, 4));
  assert.equal(d2.takeUsed(RX_QUEUE).length, 1);
  assert.equal(irq2.level, true, 'and of the next one');
  // a source whose migration failed runs on: released, it delivers what it held
  env.t.hold(false);
  assert.equal(env.d.takeUsed(RX_QUEUE).length, 1);
  assert.equal(env.irq.level, true);
});
