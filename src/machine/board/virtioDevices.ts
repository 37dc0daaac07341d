// The virt board's virtio devices, each on a virtio-mmio transport in its slot: disks, network
// card, console, rng and power button as the board's configuration names them, placed as QEMU
// plugs them (virtioSlots.ts: a device's own slot, else the highest free one, in that order).

import type { Ram } from '../ram.js';
import type { IrqLine } from '../devices/irq.js';
import { VirtioBlk } from '../virtio/blk.js';
import { VirtioConsole } from '../virtio/console.js';
import { VirtioInput } from '../virtio/input.js';
import { VirtioMmio } from '../virtio/mmio.js';
import type { VirtioDevice } from '../virtio/device.js';
import { VirtioNet } from '../virtio/net.js';
import { VirtioRng } from '../virtio/rng.js';
import { VIRT } from './memoryMap.js';
import { placeVirtioDevices } from './virtioSlots.js';
import type { VirtBoardConfig } from './virt.js';

export interface VirtioDevices {
  /** Index = slot number: a transport, or null for an empty slot. */
  transports: (VirtioMmio | null)[];
  /** In the order configured. */
  disks: VirtioBlk[];
  net: VirtioNet | null;
  hvc: VirtioConsole | null;
  input: VirtioInput | null;
}

/** Makes and places the devices `cfg` names; throws VirtioSlotError naming clashing devices. */
export function makeVirtioDevices(
  ram: Ram,
  irq: (slot: number) => IrqLine,
  cfg: VirtBoardConfig,
): VirtioDevices {
  const out: VirtioDevices = { transports: [], disks: [], net: null, hvc: null, input: null };
  const wanted: { label: string; slot?: number; make: () => VirtioDevice }[] = [];
  (cfg.disks ?? []).forEach((d, n) =>
    wanted.push({
      label: `disk ${n}`,
      slot: d.slot,
      make: () => {
        const blk = new VirtioBlk(d.backend, { serial: d.serial });
        out.disks.push(blk);
        return blk;
      },
    }),
  );
  const { net, hvc, rng, input } = cfg;
  if (net) {
    wanted.push({
      label: 'the network card',
      slot: net.slot,
      make: () => (out.net = new VirtioNet(net.backend, { mac: net.mac, seed: net.seed })),
    });
  }
  if (hvc) {
    wanted.push({
      label: 'the virtio console',
      slot: hvc.slot,
      make: () => (out.hvc = new VirtioConsole(hvc.out, hvc.input)),
    });
  }
  if (rng) wanted.push({ label: 'virtio-rng', slot: cfg.rngSlot, make: () => new VirtioRng(rng) });
  if (input) {
    wanted.push({
      label: 'the power button',
      slot: input.slot,
      make: () => (out.input = new VirtioInput({ serial: input.serial })),
    });
  }
  const slots = placeVirtioDevices(wanted);
  const log = cfg.log ?? (() => {});
  for (let i = 0; i < VIRT.virtio.count; i++) out.transports.push(null);
  wanted.forEach((w, i) => {
    const device = w.make();
    const slot = slots[i];
    const t = new VirtioMmio(ram, device, irq(slot), log, `virtio slot ${slot}`);
    out.transports[slot] = t;
    if (device instanceof VirtioNet || device instanceof VirtioConsole) device.attach(t);
    if (device instanceof VirtioInput) device.attach(t);
  });
  return out;
}
