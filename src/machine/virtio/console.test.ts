// virtio-console: transmitted bytes reach the host backend; waiting input
// fills receive buffers only as far as the guest gave room, and the rest waits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../ram.js';
import { FakeLine } from '../devices/testIrq.js';
import { REG, VirtioMmio } from './mmio.js';
import {
  CONSOLE_RECEIVEQ,
  CONSOLE_TRANSMITQ,
  VIRTIO_ID_CONSOLE,
  VirtioConsole,
} from './console.js';
import { TestDriver } from './virtioTestDriver.js';

function setup() {
  const ram = new Ram(0x80000000, 2 << 20);
  const out: number[] = [];
  const waiting: number[] = [];
  const input = {
    pending: () => waiting.length,
    take: (max: number) => waiting.splice(0, max),
  };
  const dev = new VirtioConsole({ write: (b) => out.push(b) }, input);
  const t = new VirtioMmio(ram, dev, new FakeLine(), () => {}, 'slot 1');
  const d = new TestDriver(ram, t);
  d.init([16, 16]);
  return { dev, t, d, out, waiting };
}

test('identifies as a console with a receive and a transmit queue', () => {
  const { t } = setup();
  assert.equal(t.read(REG.deviceId, 4), VIRTIO_ID_CONSOLE);
});

test('transmitted chains reach the host in order', () => {
  const { d, out, dev } = setup();
  d.submit(CONSOLE_TRANSMITQ, [
    { data: new TextEncoder().encode('hel') },
    { data: new TextEncoder().encode('lo') },
  ]);
  assert.deepEqual(d.takeUsed(CONSOLE_TRANSMITQ), [{ id: 0, len: 0 }]);
  assert.equal(String.fromCharCode(...out), 'hello');
  assert.equal(dev.counters.bytesOut, 5);
});

test('input fills the posted buffers when polled and the rest waits', () => {
  const { d, t, waiting, dev } = setup();
  const [a] = d.submit(CONSOLE_RECEIVEQ, [{ writeLen: 4 }]);
  assert.deepEqual(d.takeUsed(CONSOLE_RECEIVEQ), []);
  waiting.push(...new TextEncoder().encode('ls -l\n'));
  t.poll(CONSOLE_RECEIVEQ);
  assert.deepEqual(d.takeUsed(CONSOLE_RECEIVEQ), [{ id: 0, len: 4 }]);
  assert.equal(new TextDecoder().decode(d.bytes(a, 4)), 'ls -');
  assert.equal(waiting.length, 2);
  const [b] = d.submit(CONSOLE_RECEIVEQ, [{ writeLen: 8 }]);
  assert.deepEqual(d.takeUsed(CONSOLE_RECEIVEQ), [{ id: 1, len: 2 }]);
  assert.equal(new TextDecoder().decode(d.bytes(b, 2)), 'l\n');
  assert.equal(dev.counters.bytesIn, 6);
});
