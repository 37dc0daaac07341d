// Which virtio-mmio slot each virtio device of the virt board sits in, as QEMU's `virt`
// plugs them: slot N is QEMU's `bus=virtio-mmio-bus.N`, at 0x10001000 + N * 0x1000 with PLIC
// interrupt N + 1. A device given a slot takes that slot; the others, in the order given,
// take the highest free slot each, as QEMU plugs a `-device virtio-*-device` without bus=
// (QEMU makes the buses so that the last one is found first). Unlike QEMU, which plugs in
// command-line order (a device without bus= may take the slot a later one names, and QEMU
// then stops), the devices with a slot are placed first.
//
//   placeVirtioDevices([{ label: 'disk 0' }, { label: 'virtio-rng', slot: 0 }]); // [7, 0]

import { VIRT } from './memoryMap.js';

export class VirtioSlotError extends Error {}

export interface SlotRequest {
  /** How an error names the device ("disk 1 (/srv/a.img)", "the network card"). */
  label: string;
  /** The slot asked for; the highest free one when absent. */
  slot?: number;
}

/** The slot of each device, in the order given; throws VirtioSlotError naming the devices. */
export function placeVirtioDevices(
  devices: readonly SlotRequest[],
  count: number = VIRT.virtio.count,
): number[] {
  const holder: (string | null)[] = new Array<string | null>(count).fill(null);
  const slots: number[] = new Array<number>(devices.length).fill(-1);
  devices.forEach((d, i) => {
    if (d.slot === undefined) return;
    if (!Number.isInteger(d.slot) || d.slot < 0 || d.slot >= count) {
      throw new VirtioSlotError(
        `${d.label}: virtio slot ${String(d.slot)} does not exist; the board has slots 0 to ${count - 1}`,
      );
    }
    const other = holder[d.slot];
    if (other !== null) {
      throw new VirtioSlotError(
        `${other} and ${d.label} both ask for virtio slot ${d.slot}; give each its own slot`,
      );
    }
    holder[d.slot] = d.label;
    slots[i] = d.slot;
  });
  devices.forEach((d, i) => {
    if (d.slot !== undefined) return;
    let s = count - 1;
    while (s >= 0 && holder[s] !== null) s--;
    if (s < 0) {
      throw new VirtioSlotError(
        `${d.label}: no virtio slot is left; the board has ${count} and ${devices.length} devices ask for one`,
      );
    }
    holder[s] = d.label;
    slots[i] = s;
  });
  return slots;
}

/** The guest-physical address of virtio slot `slot`'s registers. */
export function virtioSlotAddress(slot: number): number {
  return VIRT.virtio.base + slot * VIRT.virtio.stride;
}
