// TAP devices on a Linux bridge: the checks they need (root with CAP_NET_ADMIN, /dev/net/tun,
// iproute2's ip, the bridge), making one, and taking over one another process made.
//
// createTap opens /dev/net/tun and attaches the descriptor to a new, non-persistent TAP device
// (ioctl TUNSETIFF through koffi), then puts the device on the bridge with `ip link set dev
// TAP address FE:.. master BRIDGE up` (iproute2, run once). The device lives as long as a
// descriptor of it is open, in this process or in any it was handed to, and leaves the bridge
// with the last.
// `berth run --net tap` makes its own; the daemon makes one per guest start and hands it to
// the VMM, which runs as a user of its own with no capabilities (inheritTap checks it).
//
//   const { fd, name } = createTap({ bridge: 'br0' });

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isIfName, MAX_IFNAME } from '../configSchemas.js';
import { O_CLOEXEC, O_NONBLOCK, O_RDWR, errnoText, libc } from './libc.js';

export class TapError extends Error {}

export const IPROUTE_PACKAGE = 'iproute2';
/** CAP_NET_ADMIN's bit in the capability sets of /proc/PID/status. */
const CAP_NET_ADMIN = 12n;
/** _IOW('T', 202, int): attach a TUN descriptor to a device. */
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** sizeof(struct ifreq). */
const IFREQ_SIZE = 40;
const EPERM = 1;
const EACCES = 13;
const EBUSY = 16;

export const NOT_ROOT_MESSAGE = '--net tap needs root (CAP_NET_ADMIN); use --net user';

export interface TapDeviceConfig {
  /** The Linux bridge the TAP device joins (it must exist). */
  bridge: string;
  /** The TAP device's name (default: berth<pid>-<n>, the first free one). */
  name?: string;
  /** MTU of the TAP device (default: the kernel's, 1500). */
  mtu?: number;
  /** The ip executable of iproute2 (default "ip", looked up in PATH). */
  ip?: string;
  /** A description `ip link` shows with the device (its ifalias). */
  alias?: string;
}

/** A TAP device and this process's descriptor of it. */
export interface TapDevice {
  fd: number;
  name: string;
}

/** Checks an interface name as Linux would accept it (1 to 15 characters, no '/', ':' or blanks). */
export function checkIfName(name: string, what: string): void {
  if (!isIfName(name)) {
    throw new TapError(
      `"${name}" is not a usable ${what} name: 1 to ${MAX_IFNAME} letters, digits and . _ - + @`,
    );
  }
}

/** The default TAP device name for process `pid`, number `n`: berth<pid>-<n>. */
export function defaultTapName(pid: number, n: number): string {
  const name = `berth${pid}-${n}`;
  if (name.length <= MAX_IFNAME) return name;
  return `b${pid}-${n}`.slice(-MAX_IFNAME);
}

/** Whether a process is root with CAP_NET_ADMIN in its effective set (`status`: /proc/PID/status). */
export function hasNetAdmin(uid: number | undefined, status: string): boolean {
  if (uid !== 0) return false;
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(status);
  return !m || ((BigInt('0x' + m[1]) >> CAP_NET_ADMIN) & 1n) === 1n;
}

/** Throws TapError(NOT_ROOT_MESSAGE) unless the process is root with CAP_NET_ADMIN. */
export function checkPrivileges(uid: number | undefined, status: string): void {
  if (!hasNetAdmin(uid, status)) throw new TapError(NOT_ROOT_MESSAGE);
}

/** Whether this process may make TAP devices (root with CAP_NET_ADMIN). */
export function mayMakeTaps(): boolean {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: the kernel has the last word
  }
  return hasNetAdmin(process.getuid?.(), status);
}

/** The path of executable `bin` (a path, or a name looked up in PATH), or null. */
export function findExecutable(bin: string): string | null {
  const candidates = bin.includes('/')
    ? [bin]
    : (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => join(d, bin));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

function missingBridge(bridge: string): TapError {
  return new TapError(
    `there is no bridge "${bridge}" in this network namespace; create one with ` +
      `"ip link add ${bridge} type bridge && ip link set ${bridge} up" (as root), ` +
      `then give it an address or add the host's network interface to it`,
  );
}

/** Checks that /dev/net/tun and iproute2's ip are there; returns ip's path. */
export function checkTapTools(ipName = 'ip'): string {
  if (!existsSync('/dev/net/tun')) {
    throw new TapError(
      '/dev/net/tun is missing: load the tun module ("modprobe tun") or, in a container, ' +
        'give it the device (e.g. docker run --device /dev/net/tun --cap-add NET_ADMIN)',
    );
  }
  const ip = findExecutable(ipName);
  if (!ip) {
    throw new TapError(
      `ip was not found (looked for "${ipName}"); install Debian's ${IPROUTE_PACKAGE} package: ` +
        `apt-get install ${IPROUTE_PACKAGE}`,
    );
  }
  return ip;
}

/** Checks that `bridge` names a Linux bridge in this network namespace. */
export function checkBridge(bridge: string): void {
  checkIfName(bridge, 'bridge');
  if (!existsSync(join('/sys/class/net', bridge))) throw missingBridge(bridge);
  if (!existsSync(join('/sys/class/net', bridge, 'bridge'))) {
    throw new TapError(
      `"${bridge}" is a network interface but not a bridge; name a Linux bridge ` +
        `(ip -d link show type bridge lists them)`,
    );
  }
}

/**
 * Checks what a TAP device needs before anything is started: root, /dev/net/tun, the bridge
 * and ip; throws TapError naming what is missing.
 */
export function tapPreflight(cfg: { bridge: string; name?: string; ip?: string }): { ip: string } {
  checkIfName(cfg.bridge, 'bridge');
  if (cfg.name !== undefined) checkIfName(cfg.name, 'TAP device');
  if (!mayMakeTaps()) throw new TapError(NOT_ROOT_MESSAGE);
  const ip = checkTapTools(cfg.ip);
  checkBridge(cfg.bridge);
  return { ip };
}

/** Opens /dev/net/tun and makes it the non-persistent TAP device `name`; returns the descriptor. */
export function openTap(name: string): number {
  const c = libc();
  const fd = c.open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const e = c.errno();
    if (e === EPERM || e === EACCES) throw new TapError(NOT_ROOT_MESSAGE);
    throw new TapError(`cannot open /dev/net/tun: ${errnoText(e)}`);
  }
  const ifr = new Uint8Array(IFREQ_SIZE);
  ifr.set(new TextEncoder().encode(name), 0);
  new DataView(ifr.buffer).setUint16(16, IFF_TAP | IFF_NO_PI, true);
  if (c.ioctl(fd, TUNSETIFF, ifr) < 0) {
    const e = c.errno();
    closeSync(fd);
    if (e === EPERM) throw new TapError(NOT_ROOT_MESSAGE);
    if (e === EBUSY) {
      throw new TapError(`a network interface named "${name}" exists already; choose another name`);
    }
    throw new TapError(`cannot create the TAP device ${name}: ${errnoText(e)}`);
  }
  return fd;
}

let tapsMade = 0;

/**
 * Makes a TAP device and puts it on the bridge; throws TapError when not root, the bridge or
 * ip is missing, or the device cannot be made. The caller owns the descriptor.
 */
export function createTap(cfg: TapDeviceConfig): TapDevice {
  const { ip } = tapPreflight(cfg);
  let name = cfg.name;
  if (name === undefined) {
    do name = defaultTapName(process.pid, tapsMade++);
    while (existsSync(join('/sys/class/net', name)));
  } else if (existsSync(join('/sys/class/net', name))) {
    throw new TapError(`a network interface named "${name}" exists already; choose another name`);
  }
  const fd = openTap(name);
  try {
    joinBridge(ip, name, cfg);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return { fd, name };
}

/**
 * The host side's own address for a new TAP device: FE and five random bytes (locally
 * administered, unicast). A Linux bridge whose address nobody set takes the lowest address of
 * its ports, and a change of it flushes the host's ARP cache on the bridge: a TAP device with
 * the kernel's random address would become the bridge's address half the time, and its guest's
 * stop or migration would then make every peer on the host re-resolve (a client's connect
 * then failed with EHOSTUNREACH when the guest answered late). A port whose address begins
 * with less than FE (a network card's, a veth's) keeps the bridge's address where it is.
 */
function tapHostMac(): string {
  const b = randomBytes(5);
  return ['fe', ...Array.from(b, (x) => x.toString(16).padStart(2, '0'))].join(':');
}

/** `ip link set dev TAP address FE:.. [mtu N] master BRIDGE up [alias TEXT]`. */
function joinBridge(ip: string, name: string, cfg: TapDeviceConfig): void {
  const args = ['link', 'set', 'dev', name, 'address', tapHostMac()];
  if (cfg.mtu !== undefined) args.push('mtu', String(cfg.mtu));
  args.push('master', cfg.bridge, 'up');
  if (cfg.alias !== undefined) args.push('alias', cfg.alias);
  const r = spawnSync(ip, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) {
    const why = (r.stderr ?? '').trim() || r.error?.message || `status ${r.status}`;
    if (!existsSync(join('/sys/class/net', cfg.bridge))) throw missingBridge(cfg.bridge);
    throw new TapError(
      `could not put the TAP device ${name} on the bridge ${cfg.bridge}: ${why}\n` +
        `command: ${ip} ${args.join(' ')}`,
    );
  }
}

/**
 * Takes over the descriptor `fd` of the TAP device `name`, which the process that started this
 * one made and left open for it: checks that it is that device (the kernel's fdinfo names it).
 * Node.js marks inherited descriptors close-on-exec, so the VMM's own children do not hold it.
 */
export function inheritTap(fd: number, name: string): TapDevice {
  let info: string;
  try {
    info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    throw new TapError(
      `descriptor ${fd} is not open: the process that starts the VMM hands it the TAP device ` +
        `${name} there (the daemon does; to make one itself, leave out net.device and run as root)`,
    );
  }
  const m = /^iff:\s*(\S+)$/m.exec(info);
  if (!m || m[1] !== name) {
    throw new TapError(
      `descriptor ${fd} is not the TAP device ${name}` +
        (m ? ` but ${m[1]}` : ' (not a TAP device at all)'),
    );
  }
  return { fd, name };
}
