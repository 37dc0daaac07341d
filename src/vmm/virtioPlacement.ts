// The virtio devices of a VMM's guest and the slots they ask for, in the order the board
// places them (machine/board/virtioSlots.ts: the named slots first, then the highest free
// slot each for disks, network card, console, rng, power button), so that a configuration
// whose slots clash, lie out of range or do not fit is refused before anything is opened,
// naming the devices.

import {
  placeVirtioDevices,
  VirtioSlotError,
  type SlotRequest,
} from '../machine/board/virtioSlots.js';
import { VIRT } from '../machine/board/memoryMap.js';
import type { VmmConfig } from './config.js';

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
