// A guest's network card as the daemon provides it. Every card gets a MAC address when the
// guest is created: the spec's, or a stable one derived from the guest's name (52:54:00:xx:xx:xx,
// locally administered), and no two guests with TAP cards share one. A TAP card needs a root
// daemon and an existing bridge, checked when the guest is created and again at each start.
// At start the daemon makes the guest's TAP device (berth + a hash of the state folder and the
// guest's name, described as "berth guest NAME" in `ip link`), puts it on the bridge and hands
// its descriptor to the VMM, which runs as a user of its own with no capabilities and could
// not make one. The device lives while the VMM (or its wrapper) holds that descriptor: the
// kernel removes it however the VMM ends, even with the daemon gone.

import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { VmmConfigInput } from '../vmm/config.js';
import {
  checkBridge,
  checkTapTools,
  createTap,
  mayMakeTaps,
  type TapDevice,
} from '../vmm/net/tapDevice.js';
import { badRequest, conflict, HostError } from './errors.js';
import type { GuestSpec } from './guestSpec.js';

/** The descriptor a VMM finds its TAP device on (the wrapper's fourth stdio entry). */
export const TAP_FD = 3;

/** The MAC address derived from a guest's name (try `n` > 0 when another guest has it). */
export function guestMac(name: string, n = 0): string {
  const h = createHash('sha256')
    .update(n === 0 ? `berth guest ${name}` : `berth guest ${name} #${n}`)
    .digest();
  return ['52', '54', '00', ...[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, '0'))].join(
    ':',
  );
}

/** The card's MAC (specs stored before MACs were filled in have none: derived then). */
export function macOf(spec: GuestSpec): string | null {
  return spec.network.kind === 'none' ? null : (spec.network.mac ?? guestMac(spec.name));
}

/**
 * The spec with its card's MAC filled in: the one given, or one derived from the name that no
 * other guest's TAP card has. A MAC given that another guest's TAP card has is refused (409).
 */
export function withMac(spec: GuestSpec, others: GuestSpec[]): GuestSpec {
  const net = spec.network;
  if (net.kind === 'none') return spec;
  const taken = new Map<string, string>();
  for (const o of others) {
    const mac = macOf(o);
    if (o.name !== spec.name && o.network.kind === 'tap' && mac) taken.set(mac, o.name);
  }
  let mac = net.mac;
  if (mac === undefined) {
    let n = 0;
    do mac = guestMac(spec.name, n++);
    while (net.kind === 'tap' && taken.has(mac));
  } else if (net.kind === 'tap' && taken.has(mac)) {
    throw conflict(
      `network.mac: ${mac} is the card of guest '${taken.get(mac)}' already; give another ` +
        `or leave it out for one derived from the name`,
    );
  }
  return { ...spec, network: { ...net, mac } };
}

/** The TAP device of a guest of the daemon whose state folder is `stateRoot` (15 characters). */
export function tapDeviceName(stateRoot: string, guest: string): string {
  const h = createHash('sha256')
    .update(`${resolve(stateRoot)}\0${guest}`)
    .digest('hex');
  return `berth${h.slice(0, 10)}`;
}

/** What a TAP card needs of the host: a root daemon, /dev/net/tun, ip and the bridge (400s). */
export function checkTapHost(bridge: string): void {
  if (!mayMakeTaps()) {
    throw badRequest(
      `network: a tap card needs the daemon to run as root (with CAP_NET_ADMIN) to make its ` +
        `TAP device, and this one runs as UID ${process.getuid?.()}; use {"kind": "user"} or ` +
        `run the daemon as root`,
    );
  }
  try {
    checkTapTools();
  } catch (e) {
    throw badRequest(`network: ${(e as Error).message}`);
  }
  try {
    checkBridge(bridge);
  } catch (e) {
    throw badRequest(`network.bridge: ${(e as Error).message}`);
  }
}

/**
 * Makes a guest's TAP device on its bridge (checkTapHost ran when its config was made); the
 * caller closes the descriptor once it is handed on.
 */
export function makeGuestTap(bridge: string, device: string, guest: string): TapDevice {
  try {
    return createTap({ bridge, name: device, alias: `berth guest ${guest}` });
  } catch (e) {
    throw new HostError(500, `cannot make the TAP device ${device}: ${(e as Error).message}`);
  }
}

/** The VMM's `net` for a spec; `device`: the TAP device made for this start. */
export function vmmNet(spec: GuestSpec, device?: string): VmmConfigInput['net'] {
  const net = spec.network;
  const mac = macOf(spec) ?? undefined;
  if (net.kind === 'user') return { kind: 'user', forwards: net.forwards, mac };
  if (net.kind === 'tap') {
    if (device === undefined) throw new Error('a tap card needs its device');
    return { kind: 'tap', bridge: net.bridge, mac, device: { fd: TAP_FD, name: device } };
  }
  return { kind: 'none' };
}
