// Bridged networking through a TAP device (Linux, root): the guest's card is
// one more port on an existing Linux bridge, so the guest takes part in the
// bridge's network as any machine on it would (its DHCP server, its
// addresses, its routing).
//
// The VMM opens /dev/net/tun itself and attaches the descriptor to a new,
// non-persistent TAP device (ioctl TUNSETIFF through koffi), puts the device
// on the bridge with `ip link set dev TAP master BRIDGE up` (iproute2, run
// once), and exchanges frames with it on a worker thread (pollLoop.ts). Only
// this process holds the device: it disappears, and leaves the bridge, when
// the descriptor closes, on close() or when the process ends in any way.
//
//   const net = await TapBackend.start({ bridge: 'br0' });
//   const card = new VirtioNet(net, { seed: net.name });
//   ...
//   await net.close();

import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { O_CLOEXEC, O_NONBLOCK, O_RDWR, errnoText, libc } from './libc.js';
import { startWorker, WorkerLink, type LinkOptions, type StartedWorker } from './workerLink.js';
import type { TapOptions } from './tapDriver.js';

export class TapError extends Error {}

export const IPROUTE_PACKAGE = 'iproute2';
/** The longest interface name Linux accepts (IFNAMSIZ - 1). */
export const MAX_IFNAME = 15;
/** CAP_NET_ADMIN's bit in the capability sets of /proc/PID/status. */
const CAP_NET_ADMIN = 12n;
/** _IOW('T', 202, int): attach a TUN descriptor to a device. */
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** sizeof(struct ifreq). */
const IFREQ_SIZE = 40;
const EPERM = 1;
const EBUSY = 16;

export const NOT_ROOT_MESSAGE = '--net tap needs root (CAP_NET_ADMIN); use --net user';

export interface TapConfig extends LinkOptions {
  /** The Linux bridge the TAP device joins (it must exist). */
  bridge: string;
  /** The TAP device's name (default: berth<pid>-<n>, the first free one). */
  name?: string;
  /** MTU of the TAP device (default: the kernel's, 1500). */
  mtu?: number;
  /** The ip executable of iproute2 (default "ip", looked up in PATH). */
  ip?: string;
}

/** Checks an interface name as Linux would accept it (1 to 15 characters, no '/', ':' or blanks). */
export function checkIfName(name: string, what: string): void {
  if (
    name.length === 0 ||
    name.length > MAX_IFNAME ||
    name === '.' ||
    name === '..' ||
    !/^[A-Za-z0-9_.@+-]+$/.test(name)
  ) {
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

/**
 * Throws TapError(NOT_ROOT_MESSAGE) unless the process is root with
 * CAP_NET_ADMIN in its effective set (`status`: the text of /proc/self/status).
 */
export function checkPrivileges(uid: number | undefined, status: string): void {
  if (uid !== 0) throw new TapError(NOT_ROOT_MESSAGE);
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(status);
  if (m && ((BigInt('0x' + m[1]) >> CAP_NET_ADMIN) & 1n) === 0n) {
    throw new TapError(NOT_ROOT_MESSAGE);
  }
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

/**
 * Checks what --net tap needs before anything is started: root, /dev/net/tun,
 * the bridge and ip; throws TapError naming what is missing.
 */
export function tapPreflight(cfg: { bridge: string; name?: string; ip?: string }): { ip: string } {
  checkIfName(cfg.bridge, 'bridge');
  if (cfg.name !== undefined) checkIfName(cfg.name, 'TAP device');
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: the checks below fail with their own message
  }
  checkPrivileges(process.getuid?.(), status);
  if (!existsSync('/dev/net/tun')) {
    throw new TapError(
      '/dev/net/tun is missing: load the tun module ("modprobe tun") or, in a container, ' +
        'give it the device (e.g. docker run --device /dev/net/tun --cap-add NET_ADMIN)',
    );
  }
  const ip = findExecutable(cfg.ip ?? 'ip');
  if (!ip) {
    throw new TapError(
      `ip was not found (looked for "${cfg.ip ?? 'ip'}"); install Debian's ${IPROUTE_PACKAGE} package: ` +
        `apt-get install ${IPROUTE_PACKAGE}`,
    );
  }
  if (!existsSync(join('/sys/class/net', cfg.bridge))) {
    throw missingBridge(cfg.bridge);
  }
  if (!existsSync(join('/sys/class/net', cfg.bridge, 'bridge'))) {
    throw new TapError(
      `"${cfg.bridge}" is a network interface but not a bridge; name a Linux bridge ` +
        `(ip -d link show type bridge lists them)`,
    );
  }
  return { ip };
}

/** Opens /dev/net/tun and makes it the non-persistent TAP device `name`; returns the descriptor. */
export function openTap(name: string): number {
  const c = libc();
  const fd = c.open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const e = c.errno();
    if (e === EPERM || e === 13) throw new TapError(NOT_ROOT_MESSAGE);
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

export class TapBackend extends WorkerLink {
  /** The TAP device's name. */
  readonly name: string;
  readonly bridge: string;
  private fd: number;

  private constructor(w: StartedWorker, fd: number, name: string, cfg: TapConfig) {
    super(w, cfg);
    this.fd = fd;
    this.name = name;
    this.bridge = cfg.bridge;
  }

  /**
   * Creates the TAP device, puts it on the bridge and starts its worker;
   * throws TapError when not root, the bridge or ip is missing, or the device
   * cannot be made.
   */
  static async start(cfg: TapConfig): Promise<TapBackend> {
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
      const opts: TapOptions = { fd, name };
      const w = await startWorker('tap', opts, cfg, (m) => new TapError(m));
      return new TapBackend(w, fd, name, cfg);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** The TAP device's descriptor in this process (-1 once closed). */
  get descriptor(): number {
    return this.fd;
  }

  protected override released(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** `ip link set dev TAP [mtu N] master BRIDGE up`. */
function joinBridge(ip: string, name: string, cfg: TapConfig): void {
  const args = ['link', 'set', 'dev', name];
  if (cfg.mtu !== undefined) args.push('mtu', String(cfg.mtu));
  args.push('master', cfg.bridge, 'up');
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
