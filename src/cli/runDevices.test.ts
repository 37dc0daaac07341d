// `berth run`'s device flags: slots, and the bus of the network card, console, rng and power
// button; flash images (--flash) and how the configuration places them in the banks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeviceFlags, parseFlashSpec } from './runDevices.js';
import { bootsFlashAlone, flashBankImages, parseVmmConfig, type VmmConfig } from '../vmm/config.js';

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
    balloon: undefined,
  });
  const m = parseDeviceFlags({ rng: 'bus=mmio,slot=4', 'power-button': 'slot=2' });
  assert.deepEqual([m.buses, m.slots.rng, m.slots.powerButton], [{ rng: 'mmio' }, 4, 2]);
  assert.equal(parseDeviceFlags({ rng: 'none' }).rng, false);
  assert.equal(parseDeviceFlags({}).balloon, undefined, 'the configuration says (on, PCI)');
  assert.equal(parseDeviceFlags({ balloon: 'none' }).balloon, false);
  const bal = parseDeviceFlags({ balloon: 'slot=1' });
  assert.deepEqual([bal.balloon, bal.slots.balloon, bal.buses], [true, 1, {}]);
  assert.deepEqual(parseDeviceFlags({ balloon: 'bus=mmio' }).buses, { balloon: 'mmio' });
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

test('--flash PATH[,ro][,bank=N]: the config entry; a bank past 1 or no path is refused', () => {
  assert.deepEqual(parseFlashSpec('a,b.img'), { path: 'a,b.img', readOnly: false });
  assert.deepEqual(parseFlashSpec('v.img,ro,bank=1'), { path: 'v.img', readOnly: true, bank: 1 });
  assert.throws(
    () => parseFlashSpec('v.img,bank=2'),
    /--flash v.img,bank=2: the board has flash banks 0 and 1/,
  );
  assert.throws(() => parseFlashSpec(',ro'), /--flash ,ro: give the path of a 32 MiB flash image/);
});

test('flash images: banks given or the next free; two in one bank, a migration target, firmware none', () => {
  const cfg = (flash: unknown[], more: object = {}): VmmConfig =>
    parseVmmConfig({ memory: '64M', kernel: 'k', flash, ...more });
  const banks = flashBankImages(cfg([{ path: 'a' }, { path: 'b', bank: 0 }]));
  assert.deepEqual(
    banks.map((b) => b?.path),
    ['b', 'a'],
  );
  assert.throws(
    () =>
      cfg([
        { path: 'a', bank: 1 },
        { path: 'b', bank: 1 },
      ]),
    /^VmmConfigError: flash: a and b are both in bank 1$/,
  );
  assert.throws(() => cfg([{ path: 'a' }, { path: 'b' }, { path: 'c' }]), /at most 2 flash images/);
  assert.throws(
    () => cfg([{ path: 'a' }], { incoming: { listen: '127.0.0.1:7000' } }),
    /a VMM waiting for a live migration takes no flash images/,
  );
  const alone = parseVmmConfig({ memory: '64M', firmware: 'none', flash: [{ path: 'a' }] });
  assert.equal(bootsFlashAlone(alone), true);
  assert.throws(
    () => parseVmmConfig({ firmware: 'none', flash: [{ path: 'a', bank: 1 }] }),
    /give a kernel .*, or an image in flash bank 0$/,
  );
  assert.equal(bootsFlashAlone(cfg([{ path: 'a' }])), false, 'a kernel is given');
});
