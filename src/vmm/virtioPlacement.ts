// The virtio devices of a VMM's guest and the slots they ask for, in the order the board
// places them (machine/board/virtioSlots.ts: the named slots first, then the highest free
// slot each for disks, network card, console, rng, power button), so that a configuration
// whose slots clash, lie out of range or do not fit is refused before anything is opened,
// naming the devices; and a restored or migrated guest's devices placed where its saved
// board had them, wherever the configuration leaves their slots open (followPlacement).

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

/** Each virtio device of `c` with its label and the slot it asks for, in placing order. */
export function virtioRequests(c: VmmConfig): SlotRequest[] {
  const out: SlotRequest[] = c.disks.map((d, n) => ({
    label: `disk ${n} (${d.path})`,
    slot: d.slot,
  }));
  if (c.net.kind !== 'none') out.push({ label: 'the network card', slot: c.slots.net });
  if (c.console === 'virtio') out.push({ label: 'the virtio console', slot: c.slots.console });
  if (c.rng) out.push({ label: 'virtio-rng', slot: c.slots.rng });
  if (c.powerButton) out.push({ label: 'the power button', slot: c.slots.powerButton });
  return out;
}

/** Throws when a slot is given for a device the configuration does not have, or slots clash. */
export function checkVirtioSlots(c: VmmConfig, fail: Fail): void {
  const absent: [keyof VmmConfig['slots'], boolean, string][] = [
    ['net', c.net.kind === 'none', 'there is no network card (net: none)'],
    ['console', c.console !== 'virtio', "the console is the UART (console: 'serial')"],
    ['rng', !c.rng, 'there is no virtio-rng (rng: false)'],
    ['powerButton', !c.powerButton, 'there is no power button (powerButton: false)'],
  ];
  for (const [key, missing, why] of absent) {
    if (missing && c.slots[key] !== undefined) throw fail(`slots.${key}: ${why}`);
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
  const requests = virtioRequests(c);
  const savedSlots: (number | undefined)[] = c.disks.map((_, n) => saved.disks[n]);
  if (c.net.kind !== 'none') savedSlots.push(saved.net);
  if (c.console === 'virtio') savedSlots.push(saved.console);
  if (c.rng) savedSlots.push(saved.rng);
  if (c.powerButton) savedSlots.push(saved.powerButton);
  const claimed = new Set(requests.flatMap((r) => (r.slot === undefined ? [] : [r.slot])));
  const slots = requests.map((r, i) => {
    const was = savedSlots[i];
    if (r.slot !== undefined) {
      if (was !== undefined && was !== r.slot) {
        throw fail(
          `${r.label} is configured in virtio slot ${r.slot}, but sits in slot ${was} in ` +
            `${where}; leave its slot out, or give slot ${was}`,
        );
      }
      return r.slot;
    }
    const open = was !== undefined && was < VIRT.virtio.count && !claimed.has(was);
    return open ? was : undefined;
  });
  let next = 0;
  const take = (): number | undefined => slots[next++];
  const disks = c.disks.map((d) => ({ ...d, slot: take() }));
  const placed = { ...c, disks, slots: { ...c.slots } };
  if (c.net.kind !== 'none') placed.slots.net = take();
  if (c.console === 'virtio') placed.slots.console = take();
  if (c.rng) placed.slots.rng = take();
  if (c.powerButton) placed.slots.powerButton = take();
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
