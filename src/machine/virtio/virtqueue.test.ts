// Split virtqueues: chains with several buffers, indirect tables, the event
// index and NO_INTERRUPT rules, and every kind of malformed guest input, which
// must put the device into NEEDS_RESET without throwing and without disturbing
// other queues or devices.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../ram.js';
import { FakeLine } from '../devices/testIrq.js';
import { REG, VirtioMmio } from './mmio.js';
import {
  INT_CONFIG_CHANGE,
  INT_USED_BUFFER,
  STATUS_NEEDS_RESET,
  VIRTIO_F_EVENT_IDX,
} from './device.js';
import { TestDriver } from './virtioTestDriver.js';
import { EchoDevice } from './echoDevice.js';
import {
  Virtqueue,
  VirtqueueError,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from './virtqueue.js';

const BASE = 0x80000000;
const ALL = (1n << 32n) | (1n << 28n) | (1n << 29n);

function setup(features = ALL, sizes = [8, 8]) {
  const ram = new Ram(BASE, 1 << 20);
  const dev = new EchoDevice();
  const irq = new FakeLine();
  const logs: string[] = [];
  const t = new VirtioMmio(ram, dev, irq, (l) => logs.push(l), 'slot 0');
  const d = new TestDriver(ram, t);
  d.init(sizes, features);
  return { ram, dev, irq, logs, t, d };
}

function ack(t: VirtioMmio): number {
  const s = t.read(REG.interruptStatus, 4);
  t.write(REG.interruptAck, 4, s);
  return s;
}

test('a chain of several readable and writable buffers, scattered and gathered in order', () => {
  const { d } = setup();
  const out = d.submit(0, [
    { data: Uint8Array.of(1, 2, 3) },
    { data: Uint8Array.of(4, 5) },
    { writeLen: 1 },
    { writeLen: 4 },
  ]);
  assert.deepEqual(d.takeUsed(0), [{ id: 0, len: 5 }]);
  assert.deepEqual([...d.bytes(out[0], 1)], [1]);
  assert.deepEqual([...d.bytes(out[1], 4)], [2, 3, 4, 5]);
});

test('indirect descriptor tables', () => {
  const { d, dev } = setup();
  const out = d.submit(0, [{ data: Uint8Array.of(42, 43) }, { writeLen: 2 }], { indirect: true });
  assert.deepEqual(d.takeUsed(0), [{ id: 0, len: 2 }]);
  assert.deepEqual([...d.bytes(out[0], 2)], [42, 43]);
  assert.equal(dev.chains, 1);
});

test('many chains across the ring wrap-around', () => {
  const { d, t } = setup();
  for (let i = 0; i < 40; i++) {
    const out = d.submit(0, [{ data: Uint8Array.of(i) }, { writeLen: 1 }]);
    assert.deepEqual(d.takeUsed(0).length, 1);
    assert.equal(d.bytes(out[0], 1)[0], i);
  }
  assert.equal(t.needsReset, false);
});

test('event index: avail_event follows the device, used_event decides the interrupt', () => {
  const { d, t, irq } = setup();
  d.submit(0, [{ data: Uint8Array.of(1) }, { writeLen: 1 }]);
  assert.equal(d.availEvent(0), 1, 'the device asks to hear about the next buffer');
  assert.equal(ack(t), INT_USED_BUFFER, 'used_event 0: interrupt after the first used buffer');
  // The driver asks to be interrupted only once used.idx passes 3.
  d.setUsedEvent(0, 3);
  d.submit(0, [{ data: Uint8Array.of(2) }, { writeLen: 1 }]);
  d.submit(0, [{ data: Uint8Array.of(3) }, { writeLen: 1 }]);
  assert.equal(t.read(REG.interruptStatus, 4), 0);
  assert.equal(irq.level, false);
  d.submit(0, [{ data: Uint8Array.of(4) }, { writeLen: 1 }]);
  assert.equal(ack(t), INT_USED_BUFFER);
  assert.equal(d.takeUsed(0).length, 4);
  // Several chains behind one notification: one decision for the batch.
  d.setUsedEvent(0, 5);
  d.submit(0, [{ data: Uint8Array.of(5) }, { writeLen: 1 }], { notify: false });
  d.submit(0, [{ data: Uint8Array.of(6) }, { writeLen: 1 }], { notify: false });
  d.submit(0, [{ data: Uint8Array.of(7) }, { writeLen: 1 }]);
  assert.equal(ack(t), INT_USED_BUFFER, 'used.idx went from 4 to 7, past used_event 5');
  assert.equal(d.availEvent(0), 7);
});

test('without EVENT_IDX, avail.flags NO_INTERRUPT suppresses the interrupt', () => {
  const { d, t } = setup((1n << 32n) | (1n << 28n));
  d.setAvailFlags(0, VIRTQ_AVAIL_F_NO_INTERRUPT);
  d.submit(0, [{ data: Uint8Array.of(1) }, { writeLen: 1 }]);
  assert.equal(d.takeUsed(0).length, 1);
  assert.equal(t.read(REG.interruptStatus, 4), 0);
  d.setAvailFlags(0, 0);
  d.submit(0, [{ data: Uint8Array.of(1) }, { writeLen: 1 }]);
  assert.equal(t.read(REG.interruptStatus, 4), INT_USED_BUFFER);
  void VIRTIO_F_EVENT_IDX;
});

test('a queue whose rings leave RAM, are unaligned, or has a bad size is refused at construction', () => {
  const ram = new Ram(BASE, 1 << 16);
  const ok = {
    size: 8,
    desc: BASE,
    driver: BASE + 0x100,
    device: BASE + 0x200,
    indirect: true,
    eventIdx: true,
  };
  assert.ok(new Virtqueue(ram, ok));
  for (const bad of [
    { ...ok, size: 6 },
    { ...ok, size: 65536 },
    { ...ok, desc: BASE + 8 },
    { ...ok, device: BASE + 0x202 },
    { ...ok, driver: BASE + (1 << 16) - 4 },
    { ...ok, device: 2 ** 64 },
  ]) {
    assert.throws(() => new Virtqueue(ram, bad), VirtqueueError, JSON.stringify(bad));
  }
});

type Hostile = (d: TestDriver, q: ReturnType<TestDriver['setupQueue']>) => void;

const buf = (d: TestDriver, n = 4): number => d.alloc(n);

const HOSTILE: [string, RegExp, Hostile][] = [
  [
    'a descriptor loop',
    /longer than its 8-entry table/,
    (d, q) => {
      d.writeDesc(q.desc, 0, buf(d), 4, VIRTQ_DESC_F_NEXT, 1);
      d.writeDesc(q.desc, 1, buf(d), 4, VIRTQ_DESC_F_NEXT, 0);
      d.publish(0, 0);
    },
  ],
  [
    'a chain longer than the queue',
    /longer than its 8-entry table/,
    (d, q) => {
      for (let i = 0; i < 8; i++) d.writeDesc(q.desc, i, buf(d), 4, VIRTQ_DESC_F_NEXT, (i + 1) % 8);
      d.publish(0, 0);
    },
  ],
  [
    'a next index outside the table',
    /links to 9, outside/,
    (d, q) => {
      d.writeDesc(q.desc, 0, buf(d), 4, VIRTQ_DESC_F_NEXT, 9);
      d.publish(0, 0);
    },
  ],
  ['a head index outside the table', /names descriptor 200/, (d) => d.publish(0, 200)],
  [
    'a buffer outside RAM',
    /points outside RAM: 0x10000000/,
    (d, q) => {
      d.writeDesc(q.desc, 0, 0x10000000, 16, 0, 0);
      d.publish(0, 0);
    },
  ],
  [
    'a buffer running past the end of RAM',
    /points outside RAM/,
    (d, q) => {
      d.writeDesc(q.desc, 0, BASE + (1 << 20) - 8, 16, VIRTQ_DESC_F_WRITE, 0);
      d.publish(0, 0);
    },
  ],
  [
    'an address beyond 2^53',
    /points outside RAM/,
    (d, q) => {
      d.writeDesc(q.desc, 0, 2 ** 64 - 4096, 4096, 0, 0);
      d.publish(0, 0);
    },
  ],
  [
    'chain sizes that overflow 32 bits',
    /larger than 4 GiB|outside RAM/,
    (d, q) => {
      d.writeDesc(q.desc, 0, BASE, 0xffffffff, VIRTQ_DESC_F_NEXT, 1);
      d.writeDesc(q.desc, 1, BASE, 0xffffffff, 0, 0);
      d.publish(0, 0);
    },
  ],
  [
    'a readable buffer after a writable one',
    /device-readable but follows a device-writable/,
    (d, q) => {
      d.writeDesc(q.desc, 0, buf(d), 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
      d.writeDesc(q.desc, 1, buf(d), 4, 0, 0);
      d.publish(0, 0);
    },
  ],
  [
    'a nested indirect table',
    /is itself indirect/,
    (d, q) => {
      const table = d.alloc(32, 16);
      d.writeDesc(table, 0, buf(d), 4, VIRTQ_DESC_F_NEXT, 1);
      d.writeDesc(table, 1, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
      d.writeDesc(q.desc, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
      d.publish(0, 0);
    },
  ],
  [
    'an indirect table with a length that is not a multiple of 16',
    /length 20/,
    (d, q) => {
      d.writeDesc(q.desc, 0, d.alloc(32, 16), 20, VIRTQ_DESC_F_INDIRECT, 0);
      d.publish(0, 0);
    },
  ],
  [
    'an empty indirect table',
    /length 0/,
    (d, q) => {
      d.writeDesc(q.desc, 0, d.alloc(32, 16), 0, VIRTQ_DESC_F_INDIRECT, 0);
      d.publish(0, 0);
    },
  ],
  [
    'an indirect table outside RAM',
    /indirect table at 0x1000/,
    (d, q) => {
      d.writeDesc(q.desc, 0, 0x1000, 32, VIRTQ_DESC_F_INDIRECT, 0);
      d.publish(0, 0);
    },
  ],
  [
    'an indirect descriptor with NEXT',
    /also has the NEXT flag/,
    (d, q) => {
      d.writeDesc(q.desc, 0, d.alloc(32, 16), 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
      d.publish(0, 0);
    },
  ],
  [
    'a loop inside an indirect table',
    /longer than its 2-entry table/,
    (d, q) => {
      const table = d.alloc(32, 16);
      d.writeDesc(table, 0, buf(d), 4, VIRTQ_DESC_F_NEXT, 1);
      d.writeDesc(table, 1, buf(d), 4, VIRTQ_DESC_F_NEXT, 0);
      d.writeDesc(q.desc, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
      d.publish(0, 0);
    },
  ],
  [
    'avail.idx far ahead of the device',
    /more than the queue size/,
    (d, q) => {
      d.view.setUint16(d.off(q.avail + 2), 500, true);
      d.w32(REG.queueNotify, 0);
    },
  ],
];

for (const [name, message, act] of HOSTILE) {
  test(`hostile guest: ${name} -> NEEDS_RESET, one log line, other queue and device unaffected`, () => {
    const { d, t, logs, irq } = setup();
    const other = setup();
    act(d, d.queues[0]);
    assert.equal(t.needsReset, true);
    assert.equal(t.read(REG.status, 4) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
    assert.equal(t.read(REG.interruptStatus, 4) & INT_CONFIG_CHANGE, INT_CONFIG_CHANGE);
    assert.equal(irq.level, true);
    assert.equal(logs.length, 1);
    assert.match(logs[0], message);
    assert.match(logs[0], /virtio-echo at slot 0: .*queue 0: .*waits for a reset/);
    // The queue stays stopped, more notifications log nothing more.
    d.w32(REG.queueNotify, 0);
    d.w32(REG.queueNotify, 1);
    assert.equal(logs.length, 1);
    // Another device works as before.
    const out = other.d.submit(0, [{ data: Uint8Array.of(77) }, { writeLen: 1 }]);
    assert.equal(other.d.bytes(out[0], 1)[0], 77);
    assert.equal(other.logs.length, 0);
    // After a reset the same device works again.
    t.write(REG.status, 4, 0);
    const d2 = new TestDriver(d.ram, t, BASE + 0x80000);
    d2.init([8, 8]);
    const o2 = d2.submit(1, [{ data: Uint8Array.of(5) }, { writeLen: 1 }]);
    assert.equal(d2.bytes(o2[0], 1)[0], 5);
    assert.equal(t.needsReset, false);
  });
}

test('indirect descriptors are refused when INDIRECT_DESC was not negotiated', () => {
  const { d, t, logs } = setup((1n << 32n) | (1n << 29n));
  d.submit(0, [{ data: Uint8Array.of(1) }, { writeLen: 1 }], { indirect: true });
  assert.equal(t.needsReset, true);
  assert.match(logs[0], /INDIRECT_DESC was not negotiated/);
});
