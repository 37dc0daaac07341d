// A restored or migrated guest's devices go where its saved board had them unless the
// configuration names their slots; a named slot that says otherwise is refused, naming the
// device and both slots.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVmmConfig, VmmConfigError } from './config.js';
import { followPlacement, virtioRequests } from './virtioPlacement.js';
import { placeVirtioDevices } from '../machine/board/virtioSlots.js';
import type { SavedPlacement } from './snapshot/savedPlacement.js';

const fail = (m: string): Error => new VmmConfigError(m);
/** Where the devices of the fixed-slot Berth sat: rng 0, net 2, power button 3, disks 7, 6; no balloon. */
const old: SavedPlacement = { disks: [7, 6], rng: 0, net: 2, powerButton: 3, balloonAt: 'none' };
const config = (extra: Record<string, unknown> = {}) =>
  parseVmmConfig({
    firmware: 'f',
    disks: [{ path: 'a.img' }, { path: 'b.img', readOnly: true }],
    net: { kind: 'user' },
    ...extra,
  });
const slotsOf = (c: ReturnType<typeof config>): number[] => placeVirtioDevices(virtioRequests(c));

test('devices without a configured slot take the saved ones, for every later boot too', () => {
  const c = config();
  assert.deepEqual(slotsOf(c), [7, 6, 5, 4, 3], 'QEMU order when nothing is saved');
  const placed = followPlacement(c, old, 'the snapshot', fail);
  assert.deepEqual(slotsOf(placed), [7, 6, 2, 0, 3]);
  assert.deepEqual(placed.slots, { net: 2, rng: 0, powerButton: 3 });
  assert.deepEqual(
    placed.disks.map((d) => d.slot),
    [7, 6],
  );
  assert.deepEqual(c.slots, {}, 'the configuration given is left as it was');
});

test('a configured slot that agrees is kept; one that does not is refused, naming both slots', () => {
  assert.deepEqual(
    slotsOf(followPlacement(config({ slots: { rng: 0 } }), old, 'the snapshot', fail)),
    [7, 6, 2, 0, 3],
  );
  assert.throws(
    () => followPlacement(config({ slots: { net: 4 } }), old, 'the snapshot', fail),
    /^VmmConfigError: the network card is configured in virtio slot 4, but sits in slot 2 in the snapshot; leave its slot out, or give slot 2$/,
  );
  assert.throws(
    () =>
      followPlacement(
        config({ disks: [{ path: 'a.img', slot: 6 }, { path: 'b.img' }] }),
        old,
        "the source's board",
        fail,
      ),
    /^VmmConfigError: disk 0 \(a\.img\) is configured in virtio slot 6, but sits in slot 7 in the source's board/,
  );
});

test('devices the saved board lacks, and saved slots another device is given, are placed as usual', () => {
  // The saved board had no virtio console; the network card's saved slot is given to the console.
  const c = config({ console: 'virtio', slots: { console: 2 } });
  const placed = followPlacement(c, old, 'the snapshot', fail);
  // disks 7, 6 (saved); net: its saved 2 is taken, so the highest free (5); console 2; rng 0; button 3
  assert.deepEqual(slotsOf(placed), [7, 6, 5, 2, 0, 3]);
  // A third disk the snapshot never had: the highest free slot.
  const three = config({ disks: [{ path: 'a' }, { path: 'b' }, { path: 'c' }] });
  assert.deepEqual(slotsOf(followPlacement(three, old, 'the snapshot', fail)), [7, 6, 5, 2, 0, 3]);
  // A saved slot out of range (a damaged shape) is not taken.
  assert.deepEqual(
    slotsOf(followPlacement(config(), { disks: [9], balloonAt: 'none' }, 'the snapshot', fail)),
    [7, 6, 5, 4, 3],
  );
});

test('devices on PCI take no slot: the others are placed without them, a slot for them is refused', () => {
  const c = config({
    disks: [{ path: 'a.img', bus: 'pci' }, { path: 'b.img' }],
    buses: { net: 'pci' },
  });
  assert.deepEqual(
    virtioRequests(c).map((r) => r.label),
    ['disk 1 (b.img)', 'virtio-rng', 'the power button'],
  );
  assert.deepEqual(slotsOf(c), [7, 6, 5]);
  // A restore places the mmio devices as saved and leaves the PCI ones alone.
  const placed = followPlacement(
    c,
    { disks: [7, 6], rng: 0, powerButton: 3, balloonAt: 'none' },
    'the snapshot',
    fail,
  );
  assert.deepEqual(
    placed.disks.map((d) => [d.bus, d.slot]),
    [
      ['pci', undefined],
      [undefined, 6],
    ],
  );
  assert.equal(placed.slots.net, undefined);
  assert.throws(
    () => config({ disks: [{ path: 'a.img', bus: 'pci', slot: 2 }] }),
    /^VmmConfigError: disk 0 \(a\.img\) is on PCI: it takes no virtio slot$/,
  );
  assert.throws(
    () => config({ buses: { net: 'pci' }, slots: { net: 2 } }),
    /^VmmConfigError: the network card is on PCI: it takes no virtio slot$/,
  );
  assert.throws(
    () => config({ net: { kind: 'none' }, buses: { net: 'pci' } }),
    /^VmmConfigError: buses.net: there is no network card \(net: none\)$/,
  );
  assert.throws(
    () =>
      config({ disks: Array.from({ length: 31 }, (_, i) => ({ path: `${i}.img`, bus: 'pci' })) }),
    /^VmmConfigError: 32 devices on PCI; the bus takes at most 31$/,
    'the balloon counts among them',
  );
  assert.throws(() => config({ disks: [{ path: 'a.img', bus: 'isa' }] }), /disks\.0\.bus/);
});

test('the console, rng and power button on PCI: no slot, and none for a device that is absent', () => {
  const c = config({
    console: 'virtio',
    buses: { console: 'pci', rng: 'pci', powerButton: 'pci' },
  });
  assert.deepEqual(
    virtioRequests(c).map((r) => r.label),
    ['disk 0 (a.img)', 'disk 1 (b.img)', 'the network card'],
  );
  assert.deepEqual(slotsOf(c), [7, 6, 5]);
  // Nine devices do not fit the eight slots; with the rng on PCI they do.
  const many = Array.from({ length: 5 }, (_, i) => ({ path: `${i}.img` }));
  assert.throws(
    () => config({ disks: many, console: 'virtio' }),
    /^VmmConfigError: virtio slots: /,
  );
  assert.equal(config({ disks: many, console: 'virtio', buses: { rng: 'pci' } }).disks.length, 5);
  const refused: [Record<string, unknown>, RegExp][] = [
    [
      { buses: { console: 'pci' } },
      /^VmmConfigError: buses\.console: the console is the UART \(console: 'serial'\)$/,
    ],
    [{ rng: false, buses: { rng: 'pci' } }, /^VmmConfigError: buses\.rng: there is no virtio-rng/],
    [
      { powerButton: false, buses: { powerButton: 'mmio' } },
      /^VmmConfigError: buses\.powerButton: there is no power button/,
    ],
    [
      { console: 'virtio', buses: { console: 'pci' }, slots: { console: 1 } },
      /^VmmConfigError: the virtio console is on PCI: it takes no virtio slot$/,
    ],
    [{ buses: { rng: 'usb' } }, /^VmmConfigError: buses\.rng: /],
  ];
  for (const [extra, message] of refused) {
    assert.throws(() => config(extra), message, JSON.stringify(extra));
  }
});

test('the balloon is on PCI unless given a slot, and as the saved board had it after a restore', () => {
  const c = config();
  assert.equal(c.balloon, true);
  assert.ok(!virtioRequests(c).some((r) => r.label === 'the balloon'), 'on PCI: no slot');
  const inSlot = config({ slots: { balloon: 1 } });
  assert.deepEqual(slotsOf(inSlot), [7, 6, 5, 4, 3, 1]);
  assert.deepEqual(slotsOf(config({ buses: { balloon: 'mmio' } })), [7, 6, 5, 4, 3, 2]);
  // A board saved without one (a Berth before the balloon) comes back without one.
  const none = followPlacement(c, old, 'the snapshot', fail);
  assert.equal(none.balloon, false);
  assert.equal(followPlacement(inSlot, old, 'the snapshot', fail).balloon, false);
  // Saved on PCI, or in a slot: so it stays, whatever the configuration says.
  const pci = followPlacement(config({ balloon: false }), { ...old, balloonAt: 'pci' }, 'x', fail);
  assert.equal(pci.balloon, true);
  assert.equal(pci.buses.balloon, 'pci');
  const slot = followPlacement(c, { ...old, balloon: 1, balloonAt: 'mmio' }, 'x', fail);
  assert.deepEqual(slotsOf(slot), [7, 6, 2, 0, 3, 1]);
  assert.throws(
    () => followPlacement(inSlot, { ...old, balloonAt: 'pci' }, 'the snapshot', fail),
    /^VmmConfigError: the balloon is configured in virtio slot 1, but sits on PCI in the snapshot; leave its slot out$/,
  );
});
