// `berth run`'s device flags with their virtio slots or bus: --net KIND[,slot=N|,bus=pci],
// --console KIND[,slot=N|,bus=pci], --rng none|slot=N|bus=pci, --power-button
// none|slot=N|bus=pci and --balloon none|slot=N|bus=pci|bus=mmio, turned into the VmmConfig
// fields (net kind, console, rng, powerButton, balloon, slots and buses). Disks name theirs in --disk PATH[,ro][,slot=N|,bus=pci] (parseDiskSpec).
// bus=pci puts the device on virtio-pci (a PCI device of its own) instead of a virtio slot.
// Flash images: --flash PATH[,ro][,bank=N] (parseFlashSpec).

import { parseSlotOption } from '../vmm/virtioPlacement.js';
import type { VmmConfigInput } from '../vmm/config.js';

export interface DeviceFlags {
  net?: string;
  console?: string;
  rng?: string;
  'power-button'?: string;
  balloon?: string;
}

export interface Devices {
  netKind: 'user' | 'tap' | 'none';
  console?: 'serial' | 'virtio';
  rng?: boolean;
  powerButton?: boolean;
  balloon?: boolean;
  slots: NonNullable<VmmConfigInput['slots']>;
  buses: NonNullable<VmmConfigInput['buses']>;
}

const fail = (m: string): Error => new Error(m);

type Bus = 'mmio' | 'pci';

/** A device's options slot=N and bus=pci|mmio (not both slot= and bus=pci). */
function placement(flag: string, value: string, opts: string[]): { slot?: number; bus?: Bus } {
  let slot: number | undefined;
  let bus: Bus | undefined;
  for (const opt of opts) {
    if (opt === 'bus=pci' || opt === 'bus=mmio') {
      bus = opt === 'bus=pci' ? 'pci' : 'mmio';
      continue;
    }
    slot = parseSlotOption(`${flag} ${value}`, opt, fail) ?? slot;
    if (!opt.startsWith('slot=')) {
      throw new Error(`${flag} ${value}: unknown option '${opt}' (slot=N, bus=pci or bus=mmio)`);
    }
  }
  if (bus === 'pci' && slot !== undefined) {
    throw new Error(`${flag} ${value}: a device on PCI takes no virtio slot`);
  }
  return { slot, bus };
}

/** KIND[,slot=N|,bus=pci] of a flag whose kinds are `kinds`. */
function kindAndPlace<K extends string>(
  flag: string,
  value: string,
  kinds: readonly K[],
): { kind: K; slot?: number; bus?: Bus } {
  const [kind, ...opts] = value.split(',');
  if (!(kinds as readonly string[]).includes(kind)) {
    const list = kinds.map((k) => `'${k}'`).join(', ');
    throw new Error(`${flag} must be one of ${list} (then ,slot=N or ,bus=pci), not '${value}'`);
  }
  return { kind: kind as K, ...placement(flag, value, opts) };
}

/** none, or slot=N|bus=pci (and the device where the board puts it when the flag is absent). */
function noneOrPlace(
  flag: string,
  value: string | undefined,
): { on?: boolean; slot?: number; bus?: Bus } {
  if (value === undefined) return {};
  if (value === 'none') return { on: false };
  if (!/^(slot|bus)=/.test(value)) {
    throw new Error(`${flag} must be 'none', 'slot=N' or 'bus=pci', not '${value}'`);
  }
  return { on: true, ...placement(flag, value, value.split(',')) };
}

export function parseDeviceFlags(v: DeviceFlags): Devices {
  const net = kindAndPlace('--net', v.net ?? 'none', ['user', 'tap', 'none'] as const);
  if (net.kind === 'none' && net.slot !== undefined) {
    throw new Error('--net none,slot=N: there is no network card to put in a slot');
  }
  if (net.kind === 'none' && net.bus !== undefined) {
    throw new Error('--net none,bus=...: there is no network card to put on a bus');
  }
  const con =
    v.console === undefined
      ? undefined
      : kindAndPlace('--console', v.console, ['serial', 'virtio'] as const);
  if (con?.kind === 'serial' && (con.slot !== undefined || con.bus !== undefined)) {
    throw new Error(
      '--console serial is the UART, not a virtio device: it takes no slot and no bus',
    );
  }
  const rng = noneOrPlace('--rng', v.rng);
  const button = noneOrPlace('--power-button', v['power-button']);
  const balloon = noneOrPlace('--balloon', v.balloon);
  const buses: Devices['buses'] = {};
  if (net.bus !== undefined) buses.net = net.bus;
  if (con?.bus !== undefined) buses.console = con.bus;
  if (rng.bus !== undefined) buses.rng = rng.bus;
  if (button.bus !== undefined) buses.powerButton = button.bus;
  if (balloon.bus !== undefined) buses.balloon = balloon.bus;
  return {
    netKind: net.kind,
    console: con?.kind,
    rng: rng.on,
    powerButton: button.on,
    balloon: balloon.on,
    slots: {
      net: net.slot,
      console: con?.slot,
      rng: rng.slot,
      powerButton: button.slot,
      balloon: balloon.slot,
    },
    buses,
  };
}

/**
 * `--flash PATH[,ro][,bank=N]`: an image in a flash bank (QEMU's -drive if=pflash,unit=N), as
 * a VmmConfig flash entry; options come last, so a path may hold commas.
 */
export function parseFlashSpec(spec: string): NonNullable<VmmConfigInput['flash']>[number] {
  const parts = spec.split(',');
  let readOnly = false;
  let bank: number | undefined;
  while (parts.length > 1) {
    const opt = parts[parts.length - 1];
    if (opt === 'ro' || opt === 'rw') readOnly = opt === 'ro';
    else if (/^bank=\d+$/.test(opt)) {
      bank = Number(opt.slice(5));
      if (bank > 1) throw fail(`--flash ${spec}: the board has flash banks 0 and 1`);
    } else break;
    parts.pop();
  }
  const path = parts.join(',');
  if (path === '') throw fail(`--flash ${spec}: give the path of a 32 MiB flash image`);
  return { path, readOnly, ...(bank === undefined ? {} : { bank }) };
}
