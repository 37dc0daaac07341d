// Save and restore of the whole virt board: every stateful part, keyed by the
// name the bus knows it by (harts as hart0, hart1, ...; RAM as ram), each with
// its kind and version (state/persistent.ts). A restore checks every part
// before it loads any, so a refused state changes nothing; then it loads RAM,
// the harts (minstret first: a deterministic clock counts instructions), and
// the devices, whose interrupt lines are driven again.
//
// The PCIe host ("pcie": every PCI function's config space) comes before the virtio-pci
// transports ("pci1", "pci2", ...: PCI device number), whose interrupt lines follow Command.
//
// Parts added to the board after states were first saved (LATER_PARTS: the VM generation ID,
// the PCIe host, the flash banks) may be missing from a state: such a state still restores, and the part keeps what it has
// (the generation ID the VMM gave the board, the flash what its stores hold). Every other part
// must be there.
//
// The board's shape (memory, harts, ISA, what sits in each virtio slot and on each PCI device,
// and for a disk which of the configured disks it is) is its configuration, not state: a snapshot records it, and
// restores only onto a board of the same shape (network cards' MACs aside: a clone takes
// another); a restore places the devices its configuration leaves open as the shape says.

import type { VirtBoard } from './virt.js';
import { VIRT } from './memoryMap.js';
import { hartIsaString } from './virtDeviceTree.js';
import { VirtioBlk } from '../virtio/blk.js';
import { formatMac, VirtioNet } from '../virtio/net.js';
import type { VirtioDevice } from '../virtio/device.js';
import {
  checkPart,
  savePart,
  StateError,
  type Persistent,
  type SavedPart,
} from '../state/persistent.js';

export interface BoardState {
  /** Each part's state by its name on the bus ("uart0", "virtio7", "hart0", "ram"). */
  parts: Record<string, SavedPart>;
}

/** What sits in a virtio slot, as far as the guest can tell devices apart. */
export interface SlotShape {
  device: string;
  /**
   * Disks: which of the configuration's disks it is (0 = the first; shapes written before
   * slots followed QEMU's plugging order lack it), capacity in bytes, whether read-only.
   */
  disk?: number;
  bytes?: number;
  readOnly?: boolean;
  /** Network cards: the MAC address. */
  mac?: string;
}

/** The configuration a snapshot belongs to. */
export interface BoardShape {
  machine: 'virt';
  isa: string;
  memoryBytes: number;
  harts: number;
  /** Virtio slots 0..7: the device in each, or null. */
  virtio: (SlotShape | null)[];
  /**
   * The virtio-pci devices (index + 1 = PCI device number); absent when there are none, as in
   * shapes written before the board had PCI.
   */
  pci?: SlotShape[];
}

function slotShape(b: VirtBoard, d: VirtioDevice): SlotShape {
  if (d instanceof VirtioBlk) {
    return {
      device: d.name,
      disk: b.disks.indexOf(d),
      bytes: d.backend.size,
      readOnly: d.backend.readOnly === true,
    };
  }
  if (d instanceof VirtioNet) return { device: d.name, mac: formatMac(d.mac) };
  return { device: d.name };
}

export function boardShape(b: VirtBoard): BoardShape {
  const shape: BoardShape = {
    machine: 'virt',
    isa: hartIsaString(),
    memoryBytes: b.ram.size,
    harts: b.harts.length,
    virtio: b.virtio.map((t) => (t === null ? null : slotShape(b, t.device))),
  };
  if (b.pci.length > 0) shape.pci = b.pci.map((t) => slotShape(b, t.device));
  return shape;
}

/** Parts a saved state may lack (it was saved before the board had them), by name. */
export const LATER_PARTS: ReadonlySet<string> = new Set(['vmgenid', 'pcie', 'flash0', 'flash1']);

export function boardParts(b: VirtBoard): [string, Persistent<unknown>][] {
  const parts: [string, Persistent<unknown>][] = [['ram', b.ram]];
  b.harts.forEach((h, i) => parts.push([`hart${i}`, h]));
  parts.push(
    ['clint', b.clint],
    ['plic', b.plic],
    ['uart0', b.uart],
    ['rtc', b.rtc],
    ['test', b.syscon],
    ['bootrom', b.bootRom],
    ['vmgenid', b.vmgenid],
  );
  b.flash.forEach((f, i) => parts.push([`flash${i}`, f]));
  for (let i = 0; i < VIRT.virtio.count; i++) {
    const t = b.virtio[i];
    if (t) parts.push([`virtio${i}`, t]);
  }
  parts.push(['pcie', b.pcie]);
  b.pci.forEach((t, i) => parts.push([`pci${i + 1}`, t]));
  return parts;
}

export function saveBoard(b: VirtBoard): BoardState {
  const parts: Record<string, SavedPart> = {};
  for (const [name, part] of boardParts(b)) parts[name] = savePart(part);
  return { parts };
}

export function checkBoard(b: VirtBoard, data: unknown): BoardState {
  const saved =
    data !== null && typeof data === 'object' ? (data as Record<string, unknown>).parts : undefined;
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) {
    throw new StateError('a board state must be {parts: {name: {id, version, state}}}');
  }
  const given = saved as Record<string, unknown>;
  const parts: Record<string, SavedPart> = {};
  const mine = boardParts(b);
  for (const [name, part] of mine) {
    if (!Object.prototype.hasOwnProperty.call(given, name)) {
      if (LATER_PARTS.has(name)) continue;
      throw new StateError(`the state has no part ${name} (${part.stateId}), which this board has`);
    }
    const state = checkPart(part, given[name], name);
    parts[name] = { id: part.stateId, version: part.stateVersion, state };
  }
  for (const name of Object.keys(given)) {
    if (!mine.some(([n]) => n === name)) {
      throw new StateError(`the state has a part ${name}, which this board does not have`);
    }
  }
  return { parts };
}

export function loadBoard(b: VirtBoard, s: BoardState): void {
  for (const [name, part] of boardParts(b)) {
    const saved = s.parts[name] as SavedPart | undefined;
    if (saved !== undefined) part.loadState(saved.state);
  }
}
