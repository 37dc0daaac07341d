// The virtio-mmio transport: registers, feature negotiation, queue setup,
// interrupts, reset, NEEDS_RESET on bad queue setup, and saved state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../ram.js';
import { FakeLine } from '../devices/testIrq.js';
import { VIRTIO_MMIO_MAGIC, VIRTIO_VENDOR_QEMU } from '../devices/virtioMmioSlot.js';
import { REG, VirtioMmio } from './mmio.js';
import {
  INT_CONFIG_CHANGE,
  INT_USED_BUFFER,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  STATUS_NEEDS_RESET,
} from './device.js';
import { TestDriver } from './virtioTestDriver.js';
import { EchoDevice } from './echoDevice.js';
import { restoreState } from '../state/persistent.js';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';

const BASE = 0x80000000;

function setup(numQueues = 2): {
  ram: Ram;
  dev: EchoDevice;
  irq: FakeLine;
  logs: string[];
  t: VirtioMmio;
  d: TestDriver;
} {
  const ram = new Ram(BASE, 1 << 20);
  const dev = new EchoDevice(numQueues);
  const irq = new FakeLine();
  const logs: string[] = [];
  const t = new VirtioMmio(ram, dev, irq, (l) => logs.push(l), 'slot 7');
  return { ram, dev, irq, logs, t, d: new TestDriver(ram, t) };
}

test('identification registers: magic, version 2, device and vendor ID', () => {
  const { t } = setup();
  assert.equal(t.read(REG.magic, 4), VIRTIO_MMIO_MAGIC);
  assert.equal(t.read(REG.version, 4), 2);
  assert.equal(t.read(REG.deviceId, 4), 0x7e);
  assert.equal(t.read(REG.vendorId, 4), VIRTIO_VENDOR_QEMU);
  assert.equal(t.read(REG.magic, 2), 0, 'narrow register reads give 0');
  assert.equal(t.read(REG.shmLenLow, 4), 0xffffffff, 'no shared memory region');
});

test('device features through the selector: device bits plus VERSION_1, INDIRECT_DESC, EVENT_IDX', () => {
  const { t } = setup();
  t.write(REG.deviceFeaturesSel, 4, 0);
  assert.equal(t.read(REG.deviceFeatures, 4), (1 | (1 << 28) | (1 << 29)) >>> 0);
  t.write(REG.deviceFeaturesSel, 4, 1);
  assert.equal(t.read(REG.deviceFeatures, 4), 1);
  t.write(REG.deviceFeaturesSel, 4, 2);
  assert.equal(t.read(REG.deviceFeatures, 4), 0);
});

test('FEATURES_OK sticks as on QEMU: bits not offered are dropped, VERSION_1 may be left out', () => {
  const { t, d } = setup();
  const negotiate = (f: bigint): number => {
    t.write(REG.status, 4, 0);
    t.write(REG.status, 4, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    d.w32(REG.driverFeaturesSel, 0);
    d.w32(REG.driverFeatures, Number(f & 0xffffffffn));
    d.w32(REG.driverFeaturesSel, 1);
    d.w32(REG.driverFeatures, Number(f >> 32n));
    t.write(REG.status, 4, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    return t.read(REG.status, 4);
  };
  assert.equal(negotiate((1n << 32n) | 1n) & STATUS_FEATURES_OK, STATUS_FEATURES_OK);
  assert.equal(t.features, (1n << 32n) | 1n);
  assert.equal(negotiate(1n) & STATUS_FEATURES_OK, STATUS_FEATURES_OK, 'no VERSION_1');
  assert.equal(t.features, 1n);
  assert.equal(negotiate((1n << 32n) | 2n) & STATUS_FEATURES_OK, STATUS_FEATURES_OK);
  assert.equal(t.features, 1n << 32n, 'a bit not offered is dropped');
  assert.equal(negotiate(2n ** 64n - 1n) & STATUS_FEATURES_OK, STATUS_FEATURES_OK);
  assert.equal(t.features, t.offeredFeatures, 'every bit: what the device offers');
  // Features written after FEATURES_OK change nothing.
  d.w32(REG.driverFeaturesSel, 0);
  d.w32(REG.driverFeatures, 0);
  assert.equal(t.features, t.offeredFeatures);
});

test('queue registers: max, size, addresses, ready; a missing queue reads 0', () => {
  const { t, d } = setup();
  d.init([16, 8]);
  t.write(REG.queueSel, 4, 1);
  assert.equal(t.read(REG.queueNumMax, 4), 64);
  assert.equal(t.read(REG.queueNum, 4), 8);
  assert.equal(t.read(REG.queueReady, 4), 1);
  assert.equal(t.read(REG.queueDescLow, 4), d.queues[1].desc % 2 ** 32);
  assert.equal(t.read(REG.queueDescHigh, 4), 0);
  assert.equal(t.read(REG.queueDeviceLow, 4), d.queues[1].used);
  t.write(REG.queueNum, 4, 4);
  assert.equal(t.read(REG.queueNum, 4), 8, 'size is fixed while the queue is ready');
  t.write(REG.queueSel, 4, 5);
  assert.equal(t.read(REG.queueNumMax, 4), 0);
  assert.equal(t.read(REG.queueReady, 4), 0);
  assert.equal(
    t.read(REG.status, 4),
    STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK,
  );
});

test('a used buffer raises the interrupt with bit 0; ack lowers it', () => {
  const { t, d, irq } = setup();
  d.init([16, 16]);
  const [out] = d.submit(0, [{ data: Uint8Array.of(9, 8, 7) }, { writeLen: 3 }]);
  assert.deepEqual([...d.bytes(out, 3)], [9, 8, 7]);
  assert.deepEqual(d.takeUsed(0), [{ id: 0, len: 3 }]);
  assert.equal(t.read(REG.interruptStatus, 4), INT_USED_BUFFER);
  assert.equal(irq.level, true);
  t.write(REG.interruptAck, 4, INT_USED_BUFFER);
  assert.equal(t.read(REG.interruptStatus, 4), 0);
  assert.equal(irq.level, false);
});

test('notifications before DRIVER_OK or for unknown queues are ignored', () => {
  const { t, d, dev } = setup();
  d.init([16]);
  t.write(REG.queueNotify, 4, 9);
  t.write(REG.status, 4, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  d.submit(0, [{ data: Uint8Array.of(1) }, { writeLen: 1 }]);
  assert.equal(dev.chains, 0);
});

test('configuration space at 0x100 and the config-change interrupt with a new generation', () => {
  const { t, irq } = setup();
  assert.equal(t.read(0x100, 4), 0x04030201);
  assert.equal(t.read(0x104, 1), 5);
  t.write(0x100, 2, 0xbeef);
  assert.equal(t.read(0x100, 2), 0xbeef);
  const g = t.read(REG.configGeneration, 4);
  t.configChanged();
  assert.equal(t.read(REG.configGeneration, 4), g + 1);
  assert.equal(t.read(REG.interruptStatus, 4), INT_CONFIG_CHANGE);
  assert.equal(irq.level, true);
});

test('writing 0 to Status resets device, features, queues and interrupts', () => {
  const { t, d, dev, irq } = setup();
  d.init([16, 16]);
  d.submit(0, [{ data: Uint8Array.of(1) }, { writeLen: 1 }]);
  assert.equal(irq.level, true);
  const resets = dev.resets;
  t.write(REG.status, 4, 0);
  assert.equal(dev.resets, resets + 1);
  assert.equal(t.read(REG.status, 4), 0);
  assert.equal(t.read(REG.interruptStatus, 4), 0);
  assert.equal(irq.level, false);
  assert.equal(t.features, 0n);
  t.write(REG.queueSel, 4, 0);
  assert.equal(t.read(REG.queueReady, 4), 0);
  assert.equal(t.read(REG.queueNum, 4), 64);
  assert.equal(t.read(REG.queueDescLow, 4), 0);
  // and the driver can start over
  d.init([8, 8]);
  d.submit(1, [{ data: Uint8Array.of(5) }, { writeLen: 1 }]);
  assert.deepEqual(d.takeUsed(1), [{ id: 0, len: 1 }]);
});

test('a queue made ready outside RAM puts the device into NEEDS_RESET with one log line', () => {
  const { t, d, logs, irq } = setup();
  d.init([]);
  t.write(REG.queueSel, 4, 0);
  t.write(REG.queueNum, 4, 16);
  t.write(REG.queueDescLow, 4, 0x1000); // below RAM
  t.write(REG.queueDriverLow, 4, BASE + 0x1000);
  t.write(REG.queueDeviceLow, 4, BASE + 0x2000);
  t.write(REG.queueReady, 4, 1);
  assert.equal(t.read(REG.queueReady, 4), 0);
  assert.equal(t.read(REG.status, 4) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
  assert.equal(t.read(REG.interruptStatus, 4), INT_CONFIG_CHANGE);
  assert.equal(irq.level, true);
  assert.equal(logs.length, 1);
  assert.match(logs[0], /virtio-echo at slot 7: .*descriptor table at 0x1000.*outside RAM.*reset/);
  // the driver writing status keeps NEEDS_RESET until it resets
  t.write(REG.status, 4, 0x0f);
  assert.equal(t.read(REG.status, 4) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
  t.write(REG.status, 4, 0);
  assert.equal(t.read(REG.status, 4), 0);
  assert.equal(t.needsReset, false);
});

test('queue sizes that are not a power of 2 or above the maximum are refused', () => {
  for (const size of [3, 128, 0]) {
    const { t, d, logs } = setup();
    d.init([]);
    t.write(REG.queueSel, 4, 0);
    t.write(REG.queueNum, 4, size);
    t.write(REG.queueDescLow, 4, BASE + 0x1000);
    t.write(REG.queueDriverLow, 4, BASE + 0x2000);
    t.write(REG.queueDeviceLow, 4, BASE + 0x3000);
    t.write(REG.queueReady, 4, 1);
    assert.equal(t.needsReset, true, `size ${size}`);
    assert.equal(logs.length, 1);
  }
});

test('save/restore round trip: registers, queue positions and device state', () => {
  const a = setup();
  a.d.init([16, 8]);
  a.d.submit(0, [{ data: Uint8Array.of(1, 2) }, { writeLen: 2 }]);
  a.d.submit(1, [{ data: Uint8Array.of(3) }, { writeLen: 1 }]);
  a.d.takeUsed(0);
  a.d.takeUsed(1);
  a.t.write(REG.config + 2, 1, 0x99);
  // a fresh transport over a copy of the RAM continues where the first stopped
  const ram = new Ram(BASE, 1 << 20);
  restoreState(ram, a.ram.saveState());
  const dev = new EchoDevice();
  const irq = new FakeLine();
  const t = new VirtioMmio(ram, dev, irq);
  const state = assertRoundTrip(a.t, t);
  assert.deepEqual(state.device, {
    id: 'virtio-echo',
    version: 1,
    state: { config: [1, 2, 0x99, 4, 5, 6, 7, 8] },
  });
  assert.equal(state.queues[0].usedIdx, 1);
  assert.equal(state.queues[0].desc, a.d.queues[0].desc.toString(16).padStart(16, '0'));
  assert.equal(dev.chains, 0, 'counters are not state');
  assert.equal(irq.level, true);
  const d = new TestDriver(ram, t);
  (d as unknown as { next: number }).next = (a.d as unknown as { next: number }).next;
  d.queues.push(...a.d.queues.map((q) => ({ ...q })));
  d.submit(0, [{ data: Uint8Array.of(7) }, { writeLen: 1 }]);
  assert.deepEqual(d.takeUsed(0), [{ id: 2, len: 1 }]);
});

test('bad transport states are refused and change nothing', () => {
  const a = setup();
  a.d.init([16, 8]);
  const state = a.t.saveState();
  const q0 = state.queues[0];
  const other = new VirtioMmio(a.ram, new EchoDevice(1));
  assertRefused(other, state, /queues must be a list of 1/);
  const b = setup();
  b.d.init([4, 4]);
  const queue = (change: object): unknown => ({
    ...state,
    queues: [{ ...q0, ...change }, state.queues[1]],
  });
  assertRefused(b.t, queue({ size: 128 }), /queues\[0\]\.size 128 is larger than the device's 64/);
  assertRefused(b.t, queue({ size: 12 }), /queues\[0\]: queue size 12 is not a power of 2/);
  assertRefused(
    b.t,
    queue({ desc: '0000000000001000' }),
    /queues\[0\]: descriptor table at 0x1000 .* is outside RAM/,
  );
  assertRefused(
    b.t,
    queue({ driver: '0000000080002001' }),
    /driver area at 0x80002001 is not 2-byte aligned/,
  );
  assertRefused(
    b.t,
    queue({ ready: false, usedIdx: 1 }),
    /queues\[0\] is not ready, so its ring positions must be 0/,
  );
  assertRefused(
    b.t,
    queue({ usedIdx: 0x10000 }),
    /queues\[0\]\.usedIdx must be an integer from 0 to 65535/,
  );
  assertRefused(
    b.t,
    { ...state, status: state.status | STATUS_NEEDS_RESET },
    /status must not hold NEEDS_RESET/,
  );
  assertRefused(
    b.t,
    { ...state, interruptStatus: 4 },
    /interruptStatus must be an integer from 0 to 3/,
  );
  assertRefused(
    b.t,
    { ...state, device: { ...state.device, id: 'virtio-blk' } },
    /device: the state is of a virtio-blk, this part is a virtio-echo/,
  );
  assertRefused(
    b.t,
    { ...state, device: { ...state.device, version: 2 } },
    /device: the virtio-echo state has version 2, newer than this Berth reads \(up to 1\)/,
  );
  assertRefused(
    b.t,
    { ...state, device: { ...state.device, state: { config: [1] } } },
    /device: config must be a list of 8/,
  );
  assertMutationsRefused(b.t);
});
