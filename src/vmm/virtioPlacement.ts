// The virtio devices of a VMM's guest and the slots they ask for, in the order the board
// places them (machine/board/virtioSlots.ts: the named slots first, then the highest free
// slot each for disks, network card, console, rng, power button, balloon), so that a configuration
// whose slots clash, lie out of range or do not fit is refused before anything is opened,
// naming the devices; and a restored or migrated guest's devices placed where its saved
// board had them, wherever the configuration leaves their slots open (followPlacement).
// Devices on PCI (a disk's `bus: 'pci'`, `buses.net`, `.console`, `.rng`, `.powerButton`,
// `.balloon`: 'pci') take no slot: they are PCI devices 1, 2, ... in the same order, up to
// PCI_DEVICES_MAX. The balloon is on PCI unless it is given a slot or bus 'mmio'
// (balloonOnPci); a restored or migrated guest has it or not as its saved board did.

import {
  placeVirtioDevices,
  VirtioSlotError,
  type SlotRequest,
} from '../machine/board/virtioSlots.js';
import { VIRT } from '../machine/board/memoryMap.js';
import type { VmmConfig } from './config.js';
import type { SavedPlacement } from './snapshot/savedPlacement.js';

/** The config error type, given by config.ts (which imports this module). */
type Fail = (message: string) => Error;

/** The most virtio devices a configuration may put on PCI (bus 0 has devices 1..31). */
export const PCI_DEVICES_MAX = 31;

/** Each virtio device of `c`, whether it sits on PCI, and how its slot is set, in placing order. */
function devicesOf(c: VmmConfig): {
  request: SlotRequest;
  pci: boolean;
  saved: (s: SavedPlacement) => number | undefined;
  place: (placed: VmmConfig, slot: number | undefined) => void;
}[] {
  const out: ReturnType<typeof devicesOf> = c.disks.map((d, n) => ({
    request: { label: `disk ${n} (${d.path})`, slot: d.slot },
    pci: d.bus === 'pci',
    saved: (s) => s.disks[n],
    place: (p, slot) => (p.disks[n] = { ...p.disks[n], slot }),
  }));
  const single = (
    key: keyof VmmConfig['slots'],
    label: string,
  ): ReturnType<typeof devicesOf>[number] => ({
    request: { label, slot: c.slots[key] },
    pci: key === 'balloon' ? balloonOnPci(c) : c.buses[key] === 'pci',
    saved: (s) => s[key],
    place: (p, slot) => (p.slots[key] = slot),
  });
  if (c.net.kind !== 'none') out.push(single('net', 'the network card'));
  if (c.console === 'virtio') out.push(single('console', 'the virtio console'));
  if (c.rng) out.push(single('rng', 'virtio-rng'));
  if (c.powerButton) out.push(single('powerButton', 'the power button'));
  if (c.balloon) out.push(single('balloon', 'the balloon'));
  return out;
}

/** Whether `c`'s balloon sits on PCI: unless it has a slot or bus 'mmio'. */
export function balloonOnPci(c: Pick<VmmConfig, 'slots' | 'buses'>): boolean {
  return (
    c.buses.balloon === 'pci' || (c.buses.balloon === undefined && c.slots.balloon === undefined)
  );
}

/** Each virtio-mmio device of `c` with its label and the slot it asks for, in placing order. */
export function virtioRequests(c: VmmConfig): SlotRequest[] {
  return devicesOf(c)
    .filter((d) => !d.pci)
    .map((d) => d.request);
}

/** Throws when a slot is given for a device the configuration does not have, or slots clash. */
export function checkVirtioSlots(c: VmmConfig, fail: Fail): void {
  const absent: [keyof VmmConfig['slots'], boolean, string][] = [
    ['net', c.net.kind === 'none', 'there is no network card (net: none)'],
    ['console', c.console !== 'virtio', "the console is the UART (console: 'serial')"],
    ['rng', !c.rng, 'there is no virtio-rng (rng: false)'],
    ['powerButton', !c.powerButton, 'there is no power button (powerButton: false)'],
    ['balloon', !c.balloon, 'there is no balloon (balloon: false)'],
  ];
  for (const [key, missing, why] of absent) {
    if (missing && c.slots[key] !== undefined) throw fail(`slots.${key}: ${why}`);
    if (missing && c.buses[key] !== undefined) throw fail(`buses.${key}: ${why}`);
  }
  const onPci = devicesOf(c).filter((d) => d.pci);
  for (const d of onPci) {
    if (d.request.slot !== undefined) {
      throw fail(`${d.request.label} is on PCI: it takes no virtio slot`);
    }
  }
  if (onPci.length > PCI_DEVICES_MAX) {
    throw fail(`${onPci.length} devices on PCI; the bus takes at most ${PCI_DEVICES_MAX}`);
  }
  try {
    placeVirtioDevices(virtioRequests(c));
  } catch (e) {
    if (e instanceof VirtioSlotError) throw fail(`virtio slots: ${e.message}`);
    throw e;
  }
}

/**
 * `c` with each virtio device whose slot it leaves open in the slot `saved` (a snapshot's or a
 * migration source's board, named `where`: "the snapshot") had it in, so that the guest finds
 * its devices where it left them: snapshots taken before slots followed QEMU's plugging order
 * restore with no slots given. A slot `c` names that is not the saved one is refused, naming
 * the device and both slots. A saved slot that `c` gives another device explicitly is not
 * taken (the device is placed as usual, and the boards' shapes then differ).
 */
export function followPlacement(
  c: VmmConfig,
  saved: SavedPlacement,
  where: string,
  fail: Fail,
): VmmConfig {
  const placed = { ...c, disks: [...c.disks], slots: { ...c.slots }, buses: { ...c.buses } };
  // The balloon is as the saved board had it: a guest cannot gain or lose a device.
  placed.balloon = saved.balloonAt !== 'none';
  if (saved.balloonAt === 'pci') {
    if (c.slots.balloon !== undefined) {
      throw fail(
        `the balloon is configured in virtio slot ${c.slots.balloon}, but sits on PCI in ` +
          `${where}; leave its slot out`,
      );
    }
    placed.buses.balloon = 'pci';
  } else if (saved.balloonAt === 'mmio') {
    placed.buses.balloon = 'mmio';
  } else {
    delete placed.slots.balloon;
    delete placed.buses.balloon;
  }
  const devices = devicesOf(placed).filter((d) => !d.pci);
  const claimed = new Set(
    devices.flatMap((d) => (d.request.slot === undefined ? [] : [d.request.slot])),
  );
  for (const d of devices) {
    const was = d.saved(saved);
    const r = d.request;
    if (r.slot !== undefined) {
      if (was !== undefined && was !== r.slot) {
        throw fail(
          `${r.label} is configured in virtio slot ${r.slot}, but sits in slot ${was} in ` +
            `${where}; leave its slot out, or give slot ${was}`,
        );
      }
      continue;
    }
    const open = was !== undefined && was < VIRT.virtio.count && !claimed.has(was);
    d.place(placed, open ? was : undefined);
  }
  return placed;
}

/**
 * Reads a flag's `slot=N` option (`--disk PATH,slot=N`, `--net user,slot=N`); undefined when
 * `opt` is not a slot option; throws `fail` for a slot that is not a whole number 0..7.
 */
export function parseSlotOption(flag: string, opt: string, fail: Fail): number | undefined {
  if (!opt.startsWith('slot=')) return undefined;
  const text = opt.slice('slot='.length);
  if (!/^\d$/.test(text) || Number(text) >= VIRT.virtio.count) {
    throw fail(
      `${flag}: '${text}' is not a virtio slot; the board has slots 0 to ${VIRT.virtio.count - 1}`,
    );
  }
  return Number(text);
}
