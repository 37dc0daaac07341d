// `berth run`'s device flags: slots and the network card's bus.

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
  assert.throws(() => parseDeviceFlags({ console: 'virtio,bus=pci' }), /unknown option 'bus=pci'/);
});
