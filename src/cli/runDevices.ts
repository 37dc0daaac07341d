// `berth run`'s device flags with their virtio slots: --net KIND[,slot=N|,bus=pci],
// --console KIND[,slot=N], --rng none|slot=N and --power-button none|slot=N, turned into the
// VmmConfig fields (net kind, console, rng, powerButton and slots). Disks name their slot in
// --disk PATH[,ro][,slot=N|,bus=pci] (parseDiskSpec). bus=pci puts the device on
// virtio-pci (a PCI device of its own) instead of a virtio slot.

import { parseSlotOption } from '../vmm/virtioPlacement.js';
import type { VmmConfigInput } from '../vmm/config.js';

export interface DeviceFlags {
  net?: string;
  console?: string;
  rng?: string;
  'power-button'?: string;
}

export interface Devices {
  netKind: 'user' | 'tap' | 'none';
  console?: 'serial' | 'virtio';
  rng?: boolean;
  powerButton?: boolean;
  slots: NonNullable<VmmConfigInput['slots']>;
  buses: NonNullable<VmmConfigInput['buses']>;
}

const fail = (m: string): Error => new Error(m);

/** KIND[,slot=N][,bus=pci] of a flag whose kinds are `kinds` (bus= only when `pci`). */
function kindAndSlot<K extends string>(
  flag: string,
  value: string,
  kinds: readonly K[],
  pci = false,
): { kind: K; slot?: number; bus?: 'mmio' | 'pci' } {
  const [kind, ...opts] = value.split(',');
  if (!(kinds as readonly string[]).includes(kind)) {
    const list = kinds.map((k) => `'${k}'`).join(', ');
    throw new Error(`${flag} must be one of ${list} (then ,slot=N), not '${value}'`);
  }
  let slot: number | undefined;
  let bus: 'mmio' | 'pci' | undefined;
  for (const opt of opts) {
    if (pci && (opt === 'bus=pci' || opt === 'bus=mmio')) {
      bus = opt === 'bus=pci' ? 'pci' : 'mmio';
      continue;
    }
    slot = parseSlotOption(`${flag} ${value}`, opt, fail) ?? slot;
    if (!opt.startsWith('slot=')) throw new Error(`${flag} ${value}: unknown option '${opt}'`);
  }
  if (bus === 'pci' && slot !== undefined) {
    throw new Error(`${flag} ${value}: a device on PCI takes no virtio slot`);
  }
  return { kind: kind as K, slot, bus };
}

/** none, or slot=N (and the device where the board puts it when the flag is absent). */
function noneOrSlot(flag: string, value: string | undefined): { on?: boolean; slot?: number } {
  if (value === undefined) return {};
  if (value === 'none') return { on: false };
  const slot = parseSlotOption(`${flag} ${value}`, value, fail);
  if (slot === undefined) throw new Error(`${flag} must be 'none' or 'slot=N', not '${value}'`);
  return { on: true, slot };
}

export function parseDeviceFlags(v: DeviceFlags): Devices {
  const net = kindAndSlot('--net', v.net ?? 'none', ['user', 'tap', 'none'] as const, true);
  if (net.kind === 'none' && net.slot !== undefined) {
    throw new Error('--net none,slot=N: there is no network card to put in a slot');
  }
  if (net.kind === 'none' && net.bus !== undefined) {
    throw new Error('--net none,bus=...: there is no network card to put on a bus');
  }
  const con =
    v.console === undefined
      ? undefined
      : kindAndSlot('--console', v.console, ['serial', 'virtio'] as const);
  if (con?.kind === 'serial' && con.slot !== undefined) {
    throw new Error('--console serial is the UART, not a virtio device: it takes no slot');
  }
  const rng = noneOrSlot('--rng', v.rng);
  const button = noneOrSlot('--power-button', v['power-button']);
  return {
    netKind: net.kind,
    console: con?.kind,
    rng: rng.on,
    powerButton: button.on,
    slots: { net: net.slot, console: con?.slot, rng: rng.slot, powerButton: button.slot },
    buses: net.bus === undefined ? {} : { net: net.bus },
  };
}
