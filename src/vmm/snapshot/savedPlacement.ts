// Which virtio slot each device of a saved board sat in, read from the board's shape (a
// snapshot's board section, or a migration source's hello), so that a restore or an incoming
// migration can place the devices its configuration leaves open where the guest had them.
//
// The shape names the device in each slot; a disk's slot also says which of the
// configuration's disks it holds (`disk`, 0 = the first). Shapes written before slots followed
// QEMU's plugging order have no `disk`: then every Berth had put disk 0 in the highest slot
// the disks took, disk 1 in the next lower and so on, which is what withDiskIndices assumes.
//
//   placementOf(shape); // { disks: [7, 6], net: 2, rng: 0, powerButton: 3, balloonAt: 'pci' }

import type { BoardShape, SlotShape } from '../../machine/board/virtState.js';

/** The slot of each device a saved board had, by its role in a VMM configuration. */
export interface SavedPlacement {
  /** Index = the configuration's disk number. */
  disks: number[];
  net?: number;
  console?: number;
  rng?: number;
  powerButton?: number;
  balloon?: number;
  /** Where the saved board's balloon was: in a virtio slot (`balloon`), on PCI, or nowhere. */
  balloonAt: 'mmio' | 'pci' | 'none';
}

type Role = Exclude<keyof SavedPlacement, 'disks' | 'balloonAt'>;

/** The configuration's role of each single virtio device, by its device name in a shape. */
const ROLES: Record<string, Role> = {
  'virtio-net': 'net',
  'virtio-console': 'console',
  'virtio-rng': 'rng',
  'virtio-input': 'powerButton',
  'virtio-balloon': 'balloon',
};

/** The shape's slots as objects (a shape read from a file or a peer may hold anything). */
function slotsOf(shape: unknown): (Record<string, unknown> | null)[] {
  const v: unknown = (shape as { virtio?: unknown } | null)?.virtio;
  if (!Array.isArray(v)) return [];
  return v.map((s: unknown) =>
    s !== null && typeof s === 'object' && !Array.isArray(s)
      ? (s as Record<string, unknown>)
      : null,
  );
}

/** How many devices named `device` the shape has on PCI. */
function onPci(shape: unknown, device: string): number {
  const v: unknown = (shape as { pci?: unknown } | null)?.pci;
  if (!Array.isArray(v)) return 0;
  return v.filter(
    (s: unknown) =>
      s !== null && typeof s === 'object' && (s as Record<string, unknown>).device === device,
  ).length;
}

/** How many disks the shape has on PCI (whose numbers count among the slots' disks'). */
function pciDisks(shape: unknown): number {
  return onPci(shape, 'virtio-blk');
}

/**
 * The disk number of each slot that holds a disk: as recorded, or, when the shape records
 * none (it predates the record) or not a valid one for every disk, disk 0 in the highest slot.
 * `onPci` disks sit on PCI: the slots' disks have numbers up to their count plus those.
 */
function diskNumbers(slots: (Record<string, unknown> | null)[], onPci = 0): Map<number, number> {
  const disks: number[] = [];
  slots.forEach((s, slot) => {
    if (s?.device === 'virtio-blk') disks.push(slot);
  });
  const recorded = disks.map((slot) => slots[slot]!.disk);
  const valid =
    recorded.every(
      (d) => Number.isInteger(d) && (d as number) >= 0 && (d as number) < disks.length + onPci,
    ) && new Set(recorded).size === disks.length;
  const out = new Map<number, number>();
  if (valid) disks.forEach((slot, i) => out.set(slot, recorded[i] as number));
  else [...disks].reverse().forEach((slot, n) => out.set(slot, n));
  return out;
}

/** Where each device of `shape` sits; devices it names twice (or not at all) are left out. */
export function placementOf(shape: unknown): SavedPlacement {
  const slots = slotsOf(shape);
  const out: SavedPlacement = { disks: [], balloonAt: 'none' };
  for (const [slot, disk] of diskNumbers(slots, pciDisks(shape))) out.disks[disk] = slot;
  const seen = new Map<Role, number>();
  slots.forEach((s, slot) => {
    const role =
      typeof s?.device === 'string' && Object.prototype.hasOwnProperty.call(ROLES, s.device)
        ? ROLES[s.device]
        : undefined;
    if (role === undefined) return;
    seen.set(role, seen.has(role) ? -1 : slot);
  });
  for (const [role, slot] of seen) {
    if (slot >= 0) out[role] = slot;
  }
  if (seen.has('balloon')) out.balloonAt = 'mmio';
  else if (onPci(shape, 'virtio-balloon') > 0) out.balloonAt = 'pci';
  return out;
}

/** `shape` with each disk's number recorded (derived for shapes that predate the record). */
export function withDiskIndices(shape: BoardShape): BoardShape {
  const slots = slotsOf(shape);
  if (slots.length === 0) return shape;
  const numbers = diskNumbers(slots, pciDisks(shape));
  return {
    ...shape,
    virtio: shape.virtio.map((s, slot) =>
      numbers.has(slot) ? ({ ...s, disk: numbers.get(slot) } as SlotShape) : s,
    ),
  };
}
