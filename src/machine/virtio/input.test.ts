// virtio-input as a power button with two restore keys: the configuration space
// answers the driver's select/subsel questions (KEY_POWER, KEY_MACRO1 and
// KEY_MACRO2 advertised, nothing else); a press reaches the eventq buffers as
// four events in order, waits for buffers when there are none, survives a
// driver reset; statusq is consumed; malformed chains put the device in
// NEEDS_RESET with one log line and nothing thrown.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';
import { Ram } from '../ram.js';
import { FakeLine } from '../devices/testIrq.js';
import { REG, VirtioMmio } from './mmio.js';
import { STATUS_NEEDS_RESET } from './device.js';
import {
  BUS_VIRTUAL,
  EV_KEY,
  EV_SYN,
  GENERATION_KEY,
  GENERATION_MAC_KEY,
  INPUT_CFG,
  INPUT_EVENTQ,
  INPUT_STATUSQ,
  KEY_MACRO1,
  KEY_MACRO2,
  KEY_POWER,
  VIRTIO_ID_INPUT,
  VirtioInputError,
  VirtioInput,
} from './input.js';
import { TestDriver } from './virtioTestDriver.js';

function setup(cfg: ConstructorParameters<typeof VirtioInput>[0] = {}) {
  const ram = new Ram(0x80000000, 2 << 20);
  const dev = new VirtioInput(cfg);
  const irq = new FakeLine();
  const logs: string[] = [];
  const t = new VirtioMmio(ram, dev, irq, (l) => logs.push(l), 'virtio slot 3');
  dev.attach(t);
  const d = new TestDriver(ram, t);
  return { ram, dev, t, d, irq, logs };
}

/** Selects (select, subsel) and reads size and the payload bytes, as Linux's driver does. */
function cfgSelect(t: VirtioMmio, select: number, subsel: number): Uint8Array {
  t.write(REG.config + 0, 1, select);
  t.write(REG.config + 1, 1, subsel);
  const size = t.read(REG.config + 2, 1);
  return Uint8Array.from({ length: size }, (_, i) => t.read(REG.config + 8 + i, 1));
}

function events(d: TestDriver, addrs: number[]): [number, number, number][] {
  return addrs.map((a) => {
    const v = new DataView(d.bytes(a, 8).buffer);
    return [v.getUint16(0, true), v.getUint16(2, true), v.getInt32(4, true)];
  });
}

const PRESS: [number, number, number][] = [
  [EV_KEY, KEY_POWER, 1],
  [EV_SYN, 0, 0],
  [EV_KEY, KEY_POWER, 0],
  [EV_SYN, 0, 0],
];

test('identifies as an input device with an event and a status queue', () => {
  const { t } = setup();
  assert.equal(t.read(REG.deviceId, 4), VIRTIO_ID_INPUT);
  t.write(REG.queueSel, 4, 1);
  assert.equal(t.read(REG.queueNumMax, 4), 64);
  t.write(REG.queueSel, 4, 2);
  assert.equal(t.read(REG.queueNumMax, 4), 0);
});

test('the configuration space answers name, serial, ids and bitmaps', () => {
  const { t } = setup({ serial: 'pb-7' });
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(text(cfgSelect(t, INPUT_CFG.idName, 0)), 'Berth power button');
  assert.equal(text(cfgSelect(t, INPUT_CFG.idSerial, 0)), 'pb-7');
  const ids = new DataView(cfgSelect(t, INPUT_CFG.idDevids, 0).buffer);
  assert.equal(ids.byteLength, 8);
  assert.equal(ids.getUint16(0, true), BUS_VIRTUAL);
  const keys = cfgSelect(t, INPUT_CFG.evBits, EV_KEY);
  // Up to KEY_MACRO2 (0x291 = 657): 83 bytes, within the 128 of the union.
  assert.equal(keys.length, 83);
  const set: number[] = [];
  keys.forEach((b, i) => {
    for (let k = 0; k < 8; k++) if (b & (1 << k)) set.push(8 * i + k);
  });
  assert.deepEqual(set, [116, 656, 657]);
  assert.deepEqual([KEY_POWER, KEY_MACRO1, KEY_MACRO2], [116, 656, 657]);
  assert.deepEqual([...cfgSelect(t, INPUT_CFG.evBits, EV_SYN)], [1]);
  // Unsupported questions have size 0: other event types, properties, axes, unset.
  for (const [sel, sub] of [
    [INPUT_CFG.evBits, 0x02],
    [INPUT_CFG.evBits, 0x14],
    [INPUT_CFG.propBits, 0],
    [INPUT_CFG.absInfo, 0],
    [INPUT_CFG.unset, 0],
    [INPUT_CFG.idName, 1],
    [0x7f, 0],
  ]) {
    assert.equal(cfgSelect(t, sel, sub).length, 0, `select ${sel} subsel ${sub}`);
  }
  // select and subsel read back; a 16-bit write sets both; size is read-only.
  t.write(REG.config, 2, INPUT_CFG.evBits | (EV_KEY << 8));
  assert.equal(t.read(REG.config, 4), INPUT_CFG.evBits | (EV_KEY << 8) | (83 << 16));
  t.write(REG.config + 2, 1, 99);
  assert.equal(t.read(REG.config + 2, 1), 83);
  assert.equal(t.read(REG.config + 8 + 14, 1), 1 << (KEY_POWER % 8));
  assert.equal(t.read(REG.config + 8 + 82, 1), 0b11, 'KEY_MACRO1 and KEY_MACRO2');
});

test('a press reaches posted buffers as four events, in order, with an interrupt', () => {
  const { d, dev, irq, t } = setup();
  d.init([16, 16]);
  const bufs = [1, 2, 3, 4, 5].map(() => d.submit(INPUT_EVENTQ, [{ writeLen: 8 }])[0]);
  assert.deepEqual(d.takeUsed(INPUT_EVENTQ), []);
  assert.equal(irq.level, false);
  assert.equal(dev.pressPowerButton(), true);
  assert.deepEqual(
    d.takeUsed(INPUT_EVENTQ),
    [0, 1, 2, 3].map((id) => ({ id, len: 8 })),
  );
  assert.deepEqual(events(d, bufs.slice(0, 4)), PRESS);
  assert.equal(irq.level, true);
  assert.equal(t.read(REG.interruptStatus, 4) & 1, 1);
  assert.equal(dev.pending, 0);
  assert.equal(dev.counters.delivered, 4);
});

test('the restore keys are pressed like the power key; keys it lacks are refused', () => {
  const { d, dev } = setup();
  d.init([16, 16]);
  const bufs = [1, 2, 3, 4, 5, 6, 7, 8].map(() => d.submit(INPUT_EVENTQ, [{ writeLen: 8 }])[0]);
  assert.equal(GENERATION_KEY, KEY_MACRO1);
  assert.equal(GENERATION_MAC_KEY, KEY_MACRO2);
  assert.equal(dev.pressKey(GENERATION_KEY), true);
  assert.equal(dev.pressKey(GENERATION_MAC_KEY), true);
  const press = (code: number): [number, number, number][] => [
    [EV_KEY, code, 1],
    [EV_SYN, 0, 0],
    [EV_KEY, code, 0],
    [EV_SYN, 0, 0],
  ];
  assert.deepEqual(events(d, bufs), [...press(KEY_MACRO1), ...press(KEY_MACRO2)]);
  assert.throws(() => dev.pressKey(30), VirtioInputError);
  assert.throws(() => dev.pressKey(KEY_MACRO2 + 1), /not one of the device's/);
  assert.equal(dev.pending, 0);
});

test('events wait for buffers, are delivered as buffers come, and outlive a reset', () => {
  const { d, dev } = setup({ holdEvents: 8 });
  // Pressed before any driver: held.
  assert.equal(dev.pressPowerButton(), true);
  assert.equal(dev.pending, 4);
  d.init([16, 16]);
  const a = d.submit(INPUT_EVENTQ, [{ writeLen: 8 }]);
  assert.deepEqual(events(d, a), [PRESS[0]]);
  assert.equal(dev.pending, 3);
  // A second press queues behind the first; a third is over the bound of 8 events.
  assert.equal(dev.pressPowerButton(), true);
  assert.equal(dev.pressPowerButton(), false);
  assert.equal(dev.counters.droppedPresses, 1);
  // A driver reset keeps the held events for the next driver.
  d.init([16, 16]);
  const got: number[] = [];
  for (let i = 0; i < 7; i++) got.push(...d.submit(INPUT_EVENTQ, [{ writeLen: 8 }]));
  assert.deepEqual(events(d, got), [...PRESS.slice(1), ...PRESS]);
  assert.equal(dev.pending, 0);
  // A buffer posted with nothing to say stays with the device.
  d.submit(INPUT_EVENTQ, [{ writeLen: 8 }]);
  assert.deepEqual(d.takeUsed(INPUT_EVENTQ).length, 7);
  const other = new VirtioInput({ holdEvents: 8 });
  assertRoundTrip(dev, other);
  assert.equal(other.pending, 0);
  assert.equal(other.counters.delivered, 0, 'counters are not state');
  assert.equal(dev.pressPowerButton(), true);
  const s = assertRoundTrip(dev, other);
  assert.equal(other.pending, 3, 'held events survive save/restore');
  assert.deepEqual(s.held[0], [EV_SYN, 0, 0]);
});

test('bad input states are refused and change nothing', () => {
  const dev = new VirtioInput({ holdEvents: 4 });
  dev.pressPowerButton();
  const s = dev.saveState();
  assertRefused(dev, { ...s, held: [...s.held, [1, 116, 1]] }, /held must be a list of 0 to 4/);
  assertRefused(
    dev,
    { ...s, held: [[1, 0x10000, 1]] },
    /held\[0\]\[1\] must be an integer from 0 to 65535/,
  );
  assertRefused(dev, { ...s, held: [[1, 116]] }, /held\[0\] must be a list of 3/);
  assertRefused(dev, { ...s, select: 256 }, /select must be an integer from 0 to 255/);
  assertMutationsRefused(dev);
  assert.equal(dev.pending, 4);
});

test('statusq buffers are consumed and ignored', () => {
  const { d, dev } = setup();
  d.init([16, 16]);
  const led = new Uint8Array(8);
  new DataView(led.buffer).setUint16(0, 0x11, true); // EV_LED
  d.submit(INPUT_STATUSQ, [{ data: led }]);
  d.submit(INPUT_STATUSQ, [{ data: led }], { indirect: true });
  assert.deepEqual(d.takeUsed(INPUT_STATUSQ), [
    { id: 0, len: 0 },
    { id: 1, len: 0 },
  ]);
  assert.equal(dev.counters.statusIgnored, 2);
});

for (const [what, queue, bufs] of [
  ['a device-readable eventq buffer', INPUT_EVENTQ, [{ data: new Uint8Array(8) }]],
  ['a short eventq buffer', INPUT_EVENTQ, [{ writeLen: 4 }]],
  ['a device-writable statusq buffer', INPUT_STATUSQ, [{ writeLen: 8 }]],
  ['a short statusq buffer', INPUT_STATUSQ, [{ data: new Uint8Array(3) }]],
] as const) {
  test(`${what} puts the device in NEEDS_RESET with one log line`, () => {
    const { d, dev, t, logs, irq } = setup();
    d.init([16, 16]);
    if (queue === INPUT_EVENTQ) dev.pressPowerButton();
    assert.doesNotThrow(() => d.submit(queue, [...bufs]));
    assert.equal(t.needsReset, true);
    assert.equal(t.read(REG.status, 4) & STATUS_NEEDS_RESET, STATUS_NEEDS_RESET);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /virtio-input at virtio slot 3: .*malformed/);
    assert.equal(irq.level, true, 'configuration-change interrupt');
    // Stopped until reset: more buffers and presses do nothing and throw nothing.
    d.submit(INPUT_EVENTQ, [{ writeLen: 8 }]);
    dev.pressPowerButton();
    assert.deepEqual(d.takeUsed(INPUT_EVENTQ), []);
    assert.equal(logs.length, 1);
    // After a reset the held events reach the new driver.
    d.init([16, 16]);
    assert.equal(t.needsReset, false);
    const a = d.submit(INPUT_EVENTQ, [{ writeLen: 8 }]);
    assert.equal(events(d, a)[0][0], EV_KEY);
  });
}

test('a descriptor outside RAM on eventq is contained', () => {
  const { d, dev, t, logs } = setup();
  d.init([16, 16]);
  dev.pressPowerButton();
  const q = d.queues[INPUT_EVENTQ];
  d.writeDesc(q.desc, 0, 0x10, 8, 2, 0); // VIRTQ_DESC_F_WRITE, below RAM
  assert.doesNotThrow(() => d.publish(INPUT_EVENTQ, 0));
  assert.equal(t.needsReset, true);
  assert.match(logs[0], /outside RAM/);
  assert.equal(dev.pending, 4, 'nothing was delivered');
});

test('names longer than the configuration space are refused', () => {
  assert.throws(() => new VirtioInput({ name: 'x'.repeat(129) }), /longer than 128 bytes/);
  assert.throws(() => new VirtioInput({ holdEvents: 2 }), /at least 4/);
});
