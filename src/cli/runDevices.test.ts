// `berth run`'s device flags: slots, and the bus of the network card, console, rng and power
// button.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeviceFlags } from './runDevices.js';

test('--net KIND,bus=pci puts the card on PCI; with a slot, or without a card, it is refused', () => {
  assert.deepEqual(parseDeviceFlags({ net: 'user,bus=pci' }).buses, { net: 'pci' });
  assert.deepEqual(parseDeviceFlags({ net: 'tap,bus=mmio,slot=2' }).buses, { net: 'mmio' });
  assert.equal(parseDeviceFlags({ net: 'tap,bus=mmio,slot=2' }).slots.net, 2);
  assert.deepEqual(parseDeviceFlags({ net: 'user' }).buses, {});
  assert.throws(
    () => parseDeviceFlags({ net: 'user,bus=pci,slot=3' }),
    /^Error: --net user,bus=pci,slot=3: a device on PCI takes no virtio slot$/,
  );
  assert.throws(() => parseDeviceFlags({ net: 'none,bus=pci' }), /no network card to put on a bus/);
  assert.throws(() => parseDeviceFlags({ net: 'user,bus=isa' }), /unknown option 'bus=isa'/);
});

test('--console virtio,bus=pci, --rng bus=pci, --power-button bus=pci: on PCI; bad combinations refused', () => {
  const d = parseDeviceFlags({
    console: 'virtio,bus=pci',
    rng: 'bus=pci',
    'power-button': 'bus=pci',
  });
  assert.deepEqual(d.buses, { console: 'pci', rng: 'pci', powerButton: 'pci' });
  assert.deepEqual([d.console, d.rng, d.powerButton], ['virtio', true, true]);
  assert.deepEqual(d.slots, {
    net: undefined,
    console: undefined,
    rng: undefined,
    powerButton: undefined,
  });
  const m = parseDeviceFlags({ rng: 'bus=mmio,slot=4', 'power-button': 'slot=2' });
  assert.deepEqual([m.buses, m.slots.rng, m.slots.powerButton], [{ rng: 'mmio' }, 4, 2]);
  assert.equal(parseDeviceFlags({ rng: 'none' }).rng, false);
  const refused: [Parameters<typeof parseDeviceFlags>[0], RegExp][] = [
    [
      { console: 'serial,bus=pci' },
      /^Error: --console serial is the UART.*takes no slot and no bus$/,
    ],
    [{ console: 'virtio,bus=usb' }, /^Error: --console virtio,bus=usb: unknown option 'bus=usb'/],
    [
      { rng: 'bus=pci,slot=1' },
      /^Error: --rng bus=pci,slot=1: a device on PCI takes no virtio slot$/,
    ],
    [{ rng: 'pci' }, /^Error: --rng must be 'none', 'slot=N' or 'bus=pci', not 'pci'$/],
    [{ rng: 'bus=pci,none' }, /^Error: --rng bus=pci,none: unknown option 'none'/],
    [{ 'power-button': 'slot=9' }, /^Error: --power-button slot=9: '9' is not a virtio slot/],
    [{ 'power-button': 'bus=isa' }, /^Error: --power-button bus=isa: unknown option 'bus=isa'/],
  ];
  for (const [flags, message] of refused) {
    assert.throws(() => parseDeviceFlags(flags), message, JSON.stringify(flags));
  }
});
