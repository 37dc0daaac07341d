// virtio-console: transmitted bytes reach the host backend; waiting input
// fills receive buffers only as far as the guest gave room, and the rest waits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../ram.js';
import { FakeLine } from '../devices/testIrq.js';
import { REG, VirtioMmio } from './mmio.js';
import {
  CONSOLE_F_SIZE,
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
  const line = new FakeLine();
  const t = new VirtioMmio(ram, dev, line, () => {}, 'slot 1');
  dev.attach(t);
  const d = new TestDriver(ram, t);
  d.init([16, 16]);
  return { dev, t, d, out, waiting, line };
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

test('the window size: offered as F_SIZE, read from the configuration, changed with an interrupt', () => {
  const { t, dev, line } = setup();
  t.write(REG.deviceFeaturesSel, 4, 0);
  assert.equal(BigInt(t.read(REG.deviceFeatures, 4)) & CONSOLE_F_SIZE, CONSOLE_F_SIZE);
  assert.equal(t.read(REG.config, 2), 80, 'cols');
  assert.equal(t.read(REG.config + 2, 2), 24, 'rows');
  const gen = t.read(REG.configGeneration, 4);
  assert.equal(line.level, false);
  dev.resize(132, 43);
  assert.equal(t.read(REG.config, 4), 132 + 43 * 65536, 'cols and rows in one read');
  assert.equal(t.read(REG.config + 1, 1), 0, "cols' high byte");
  assert.equal(t.read(REG.configGeneration, 4), gen + 1);
  assert.equal(t.read(REG.interruptStatus, 4) & 2, 2, 'a configuration change');
  assert.equal(line.level, true);
  t.write(REG.interruptAck, 4, 2);
  assert.equal(line.level, false);
  dev.resize(132, 43);
  assert.equal(line.level, false, 'the same size: no interrupt');
  assert.throws(() => dev.resize(0, 10), /cols: a whole number from 1 to 65535, not 0/);
  assert.throws(() => dev.resize(80, 70000), /rows: .* not 70000/);
  assert.deepEqual(dev.size, { cols: 132, rows: 43 }, 'a refused size changes nothing');
});
