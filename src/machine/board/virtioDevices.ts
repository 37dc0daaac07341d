// The virt board's virtio devices: disks, network card, console, rng, power button and balloon as the
// board's configuration names them, each on a virtio-mmio transport in its slot, placed as QEMU
// plugs them (virtioSlots.ts: a device's own slot, else the highest free one, in that order),
// or, when it asks for bus 'pci', on a virtio-pci transport at the next PCI device of bus 0
// (1, 2, ... in that order, as QEMU numbers -device virtio-*-pci without addr=), its INTA#
// swizzled onto PLIC sources 32..35 as the device tree's interrupt-map says.

import type { Ram } from '../ram.js';
import type { IrqLine } from '../devices/irq.js';
import { VirtioBalloon } from '../virtio/balloon.js';
import { VirtioBlk } from '../virtio/blk.js';
import { VirtioConsole } from '../virtio/console.js';
import { VirtioInput } from '../virtio/input.js';
import { VirtioMmio } from '../virtio/mmio.js';
import { VirtioPci } from '../virtio/pci.js';
import type { VirtioDevice } from '../virtio/device.js';
import { VirtioNet } from '../virtio/net.js';
import { VirtioRng } from '../virtio/rng.js';
import { VIRT } from './memoryMap.js';
import { placeVirtioDevices, VirtioSlotError } from './virtioSlots.js';
import type { VirtBoardConfig } from './virt.js';

export interface VirtioDevices {
  /** Index = slot number: a transport, or null for an empty slot. */
  transports: (VirtioMmio | null)[];
  /** The virtio-pci transports; index + 1 = PCI device number on bus 0. */
  pci: VirtioPci[];
  /** In the order configured. */
  disks: VirtioBlk[];
  net: VirtioNet | null;
  hvc: VirtioConsole | null;
  input: VirtioInput | null;
  balloon: VirtioBalloon | null;
}

/** Makes and places the devices `cfg` names; throws VirtioSlotError naming clashing devices. */
export function makeVirtioDevices(
  ram: Ram,
  irq: (slot: number) => IrqLine,
  pciIrq: (device: number) => IrqLine,
  cfg: VirtBoardConfig,
): VirtioDevices {
  const out: VirtioDevices = {
    transports: [],
    pci: [],
    disks: [],
    net: null,
    hvc: null,
    input: null,
    balloon: null,
  };
  const wanted: { label: string; slot?: number; pci?: boolean; make: () => VirtioDevice }[] = [];
  (cfg.disks ?? []).forEach((d, n) =>
    wanted.push({
      label: `disk ${n}`,
      slot: d.slot,
      pci: d.bus === 'pci',
      make: () => {
        const blk = new VirtioBlk(d.backend, { serial: d.serial });
        out.disks.push(blk);
        return blk;
      },
    }),
  );
  const { net, hvc, rng, input, balloon } = cfg;
  if (net) {
    wanted.push({
      label: 'the network card',
      slot: net.slot,
      pci: net.bus === 'pci',
      make: () => (out.net = new VirtioNet(net.backend, { mac: net.mac, seed: net.seed })),
    });
  }
  if (hvc) {
    wanted.push({
      label: 'the virtio console',
      slot: hvc.slot,
      pci: hvc.bus === 'pci',
      make: () => (out.hvc = new VirtioConsole(hvc.out, hvc.input)),
    });
  }
  if (rng) {
    wanted.push({
      label: 'virtio-rng',
      slot: cfg.rngSlot,
      pci: cfg.rngBus === 'pci',
      make: () => new VirtioRng(rng),
    });
  }
  if (input) {
    wanted.push({
      label: 'the power button',
      slot: input.slot,
      pci: input.bus === 'pci',
      make: () => (out.input = new VirtioInput({ serial: input.serial })),
    });
  }
  if (balloon) {
    wanted.push({
      label: 'the balloon',
      slot: balloon.slot,
      pci: balloon.bus === 'pci',
      make: () => (out.balloon = new VirtioBalloon()),
    });
  }
  for (const w of wanted) {
    if (w.pci && w.slot !== undefined) {
      throw new VirtioSlotError(`${w.label} is on PCI: it takes no virtio slot`);
    }
  }
  const onMmio = wanted.filter((w) => !w.pci);
  const slots = placeVirtioDevices(onMmio);
  const log = cfg.log ?? (() => {});
  for (let i = 0; i < VIRT.virtio.count; i++) out.transports.push(null);
  wanted.forEach((w) => {
    const device = w.make();
    let t: VirtioMmio | VirtioPci;
    if (w.pci) {
      const number = out.pci.length + 1;
      t = new VirtioPci(ram, device, pciIrq(number), log, `PCI device 00:${hex2(number)}.0`);
      out.pci.push(t);
    } else {
      const slot = slots[onMmio.indexOf(w)];
      t = new VirtioMmio(ram, device, irq(slot), log, `virtio slot ${slot}`);
      out.transports[slot] = t;
    }
    if (device instanceof VirtioNet || device instanceof VirtioConsole) device.attach(t);
    if (device instanceof VirtioInput) device.attach(t);
  });
  return out;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
