// Bridged networking through a TAP device (Linux, root): the guest's card is
// one more port on an existing Linux bridge, so the guest takes part in the
// bridge's network as any machine on it would (its DHCP server, its
// addresses, its routing).
//
// Node cannot issue the TUNSETIFF ioctl that attaches a file descriptor to a
// TAP device, so Berth starts socat (Debian package `socat`) to hold the
// device: socat creates the TAP device with the name Berth chose and relays
// every Ethernet frame between it and a UDP socket on the loopback interface,
// one frame per datagram; Berth exchanges the datagrams with socat over a
// connected UDP socket (the kernel delivers only socat's datagrams, and the
// source of each is checked again). socat runs under `setpriv --pdeathsig`
// (util-linux) so that it ends with Berth even when Berth is killed; the TAP
// device is not persistent, so it disappears (and leaves the bridge) when
// socat closes it. Berth then puts the device on the bridge with
// `ip link set dev TAP master BRIDGE up` (iproute2).
//
//   const net = await TapBackend.start({ bridge: 'br0' });
//   const card = new VirtioNet(net, { seed: net.name });
//   ...
//   await net.close();
//
// Frames above 65507 bytes (the largest UDP datagram over IPv4) cannot be
// carried; with the usual MTUs (1500, 9000) they do not occur.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Wakeups } from './wakeups.js';
import {
  NET_MAX_FRAME,
  NET_MIN_FRAME,
  type NetBackend,
  type NetReceiver,
} from '../../machine/virtio/netBackend.js';

export class TapError extends Error {}

export const SOCAT_PACKAGE = 'socat';
export const IPROUTE_PACKAGE = 'iproute2';
export const UTIL_LINUX_PACKAGE = 'util-linux';
/** The largest UDP payload over IPv4: the largest frame this backend carries. */
export const MAX_DATAGRAM = 65507;
/** The longest interface name Linux accepts (IFNAMSIZ - 1). */
export const MAX_IFNAME = 15;
/** CAP_NET_ADMIN's bit in the capability sets of /proc/PID/status. */
const CAP_NET_ADMIN = 12n;
const LOOPBACK = '127.0.0.1';

export const NOT_ROOT_MESSAGE = '--net tap needs root (CAP_NET_ADMIN); use --net user';

export interface TapConfig {
  /** The Linux bridge the TAP device joins (it must exist). */
  bridge: string;
  /** The TAP device's name (default: berth<pid>-<n>, the first free one). */
  name?: string;
  /** MTU of the TAP device (default: the kernel's, 1500). */
  mtu?: number;
  /** The socat executable (default "socat", looked up in PATH). */
  socat?: string;
  /** The ip executable of iproute2 (default "ip", looked up in PATH). */
  ip?: string;
  /** Receives one line per notable event (socat exited). */
  log?: (line: string) => void;
  /** How long to wait for socat to create the device (default 5000 ms). */
  startTimeoutMs?: number;
  /** Frames for the guest held while the device has no room, before more are dropped (default 1024). */
  maxQueuedFrames?: number;
  /** Bytes of frames for socat that may wait in the socket's queue before more are dropped (default 4 MiB). */
  maxPendingBytes?: number;
}

export interface TapCounters {
  txFrames: number;
  txBytes: number;
  /** Guest frames dropped: too short or too long, the link was down, or socat was not reading. */
  txDropped: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames for the guest dropped: too short or too long, or the device had no room for long. */
  rxDropped: number;
  /** Datagrams from anyone but socat, ignored. */
  rxForeign: number;
}

/** Why a frame of `length` bytes cannot be carried, or null when it can. */
export function frameProblem(length: number): string | null {
  if (length < NET_MIN_FRAME) return `${length} bytes is shorter than an Ethernet header`;
  const max = Math.min(NET_MAX_FRAME, MAX_DATAGRAM);
  if (length > max) return `${length} bytes is longer than the ${max} bytes carried`;
  return null;
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

/** socat's command line: a TAP device `name` relayed to UDP peer port `peerPort` from local port `localPort`. */
export function socatArgs(name: string, peerPort: number, localPort: number): string[] {
  return [
    '-d', // warnings and errors only: notices come once per frame
    '-b',
    String(MAX_DATAGRAM + 1),
    `TUN,tun-type=tap,tun-name=${name},iff-no-pi,iff-up`,
    `UDP4-DATAGRAM:${LOOPBACK}:${peerPort},bind=${LOOPBACK}:${localPort},range=${LOOPBACK}/32`,
  ];
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

/** Is `port` bound on 127.0.0.1 in this network namespace (by /proc/net/udp)? */
function udpPortBound(port: number): boolean {
  let text: string;
  try {
    text = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return true; // cannot tell: go on, a missing socat shows as an exit
  }
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return text.split('\n').some((l) => l.trim().split(/\s+/)[1] === want);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function stderrTail(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-5)
    .join(' | ')
    .replace(/\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d socat\[\d+\] /g, '');
}

async function boundSocket(): Promise<Socket> {
  const s = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, LOOPBACK, () => {
      s.off('error', reject);
      resolve();
    });
  });
  return s;
}

/** A free UDP port on 127.0.0.1 (free when asked: the caller retries when it is taken meanwhile). */
async function freeUdpPort(): Promise<number> {
  const s = await boundSocket();
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface UdpFrameLinkOptions {
  maxQueuedFrames?: number;
  maxPendingBytes?: number;
}

/**
 * Ethernet frames as UDP datagrams with one peer on the loopback interface:
 * the part of the TAP backend that does not need root. `socket` must be bound
 * and connected to `peerPort` on 127.0.0.1.
 */
export class UdpFrameLink implements NetBackend {
  readonly counters: TapCounters = {
    txFrames: 0,
    txBytes: 0,
    txDropped: 0,
    rxFrames: 0,
    rxBytes: 0,
    rxDropped: 0,
    rxForeign: 0,
  };
  protected readonly socket: Socket;
  readonly peerPort: number;
  private readonly maxQueued: number;
  private readonly maxPending: number;
  private receiver: NetReceiver | null = null;
  private paused = false;
  private queue: Uint8Array[] = [];
  private readonly wakeups = new Wakeups();
  protected alive = true;

  constructor(socket: Socket, peerPort: number, opts: UdpFrameLinkOptions = {}) {
    this.socket = socket;
    this.peerPort = peerPort;
    this.maxQueued = opts.maxQueuedFrames ?? 1024;
    this.maxPending = opts.maxPendingBytes ?? 4 << 20;
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo));
    // A datagram sent while the peer's port is closed comes back as ECONNREFUSED: nothing to do.
    socket.on('error', () => {});
  }

  /** True while frames flow. */
  get connected(): boolean {
    return this.alive;
  }

  /** The local UDP port. */
  get localPort(): number {
    return this.socket.address().port;
  }

  /** Frames waiting for room in the device. */
  get queued(): number {
    return this.queue.length;
  }

  send(frame: Uint8Array): void {
    const c = this.counters;
    if (!this.alive || frameProblem(frame.length) !== null) {
      c.txDropped++;
      return;
    }
    if (this.socket.getSendQueueSize() > this.maxPending) {
      c.txDropped++;
      return;
    }
    c.txFrames++;
    c.txBytes += frame.length;
    this.socket.send(Buffer.from(frame), (err) => {
      if (err) {
        c.txFrames--;
        c.txBytes -= frame.length;
        c.txDropped++;
      }
    });
  }

  attach(receiver: NetReceiver | null): void {
    this.receiver = receiver;
    if (receiver) this.drain();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.drain();
  }

  /**
   * Resolves once frames have been handed to the device (or the link is
   * gone): a VMM idling while its guest waits for an interrupt races this
   * against its timers.
   */
  whenReceived(): Promise<void> {
    return this.wakeups.next(!this.alive);
  }

  protected wake(): void {
    this.wakeups.wake();
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const c = this.counters;
    if (!this.alive) return;
    if (rinfo.address !== LOOPBACK || rinfo.port !== this.peerPort) {
      c.rxForeign++;
      return;
    }
    if (frameProblem(msg.length) !== null) {
      c.rxDropped++;
      return;
    }
    const frame = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    if (this.paused || !this.receiver || this.queue.length > 0) {
      if (this.queue.length >= this.maxQueued) c.rxDropped++;
      else this.queue.push(frame);
      this.drain();
      return;
    }
    this.deliver(frame);
    this.wake();
  }

  private deliver(frame: Uint8Array): void {
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.length;
    if (!this.receiver!.receive(frame)) this.paused = true;
  }

  /** Hands held frames to the receiver until it asks for a pause. */
  private drain(): void {
    if (!this.receiver) return;
    let delivered = 0;
    while (!this.paused && this.queue.length > 0) {
      this.deliver(this.queue.shift()!);
      delivered++;
    }
    if (delivered > 0) this.wake();
  }

  /** Stops the link: frames are no longer sent or received. */
  protected disconnect(): void {
    if (this.alive) {
      this.alive = false;
      this.queue = [];
      try {
        this.socket.close();
      } catch {
        // already closed
      }
    }
    this.wake();
  }
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
 * the bridge, socat, ip and setpriv; throws TapError naming what is missing.
 */
export function tapPreflight(cfg: TapConfig): { socat: string; ip: string; setpriv: string } {
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
  const socat = findExecutable(cfg.socat ?? 'socat');
  if (!socat) {
    throw new TapError(
      `socat was not found (looked for "${cfg.socat ?? 'socat'}"); --net tap uses it to hold the ` +
        `TAP device: install Debian's ${SOCAT_PACKAGE} package: apt-get install ${SOCAT_PACKAGE}`,
    );
  }
  const ip = findExecutable(cfg.ip ?? 'ip');
  if (!ip) {
    throw new TapError(
      `ip was not found (looked for "${cfg.ip ?? 'ip'}"); install Debian's ${IPROUTE_PACKAGE} package: ` +
        `apt-get install ${IPROUTE_PACKAGE}`,
    );
  }
  const setpriv = findExecutable('setpriv');
  if (!setpriv) {
    throw new TapError(
      `setpriv was not found; install Debian's ${UTIL_LINUX_PACKAGE} package: apt-get install ${UTIL_LINUX_PACKAGE}`,
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
  return { socat, ip, setpriv };
}

let tapsMade = 0;

export class TapBackend extends UdpFrameLink {
  /** The TAP device's name. */
  readonly name: string;
  readonly bridge: string;
  /** Resolves once socat has exited (closed, or it failed). */
  readonly done: Promise<void>;
  private readonly child: ChildProcess;
  private readonly log: (line: string) => void;
  private readonly onProcessExit: () => void;
  private closing = false;
  private stderr = '';

  private constructor(
    socket: Socket,
    peerPort: number,
    child: ChildProcess,
    name: string,
    cfg: TapConfig,
  ) {
    super(socket, peerPort, cfg);
    this.child = child;
    this.name = name;
    this.bridge = cfg.bridge;
    this.log = cfg.log ?? (() => {});
    this.onProcessExit = () => this.killNow();
    process.on('exit', this.onProcessExit);
    child.stderr?.on('data', (b: Buffer) => {
      if (this.stderr.length < 16384) this.stderr += b.toString();
    });
    let exited!: () => void;
    this.done = new Promise((r) => (exited = r));
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      process.off('exit', this.onProcessExit);
      if (!this.closing) {
        const why = stderrTail(this.stderr);
        this.log(
          `berth: socat (TAP device ${this.name}) exited (${signal ?? 'code ' + code}); ` +
            `the guest network is down${why ? ': ' + why : ''}`,
        );
      }
      this.disconnect();
      exited();
    };
    if (child.exitCode !== null || child.signalCode !== null)
      onExit(child.exitCode, child.signalCode);
    else child.once('exit', onExit);
  }

  /**
   * Creates the TAP device, starts socat on it and puts it on the bridge;
   * throws TapError when not root, the bridge or a tool is missing, or socat
   * does not start.
   */
  static async start(cfg: TapConfig): Promise<TapBackend> {
    const { socat, ip, setpriv } = tapPreflight(cfg);
    let name = cfg.name;
    if (name === undefined) {
      do name = defaultTapName(process.pid, tapsMade++);
      while (existsSync(join('/sys/class/net', name)));
    } else if (existsSync(join('/sys/class/net', name))) {
      throw new TapError(`a network interface named "${name}" exists already; choose another name`);
    }
    let lastError: TapError | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await TapBackend.tryStart(cfg, name, socat, setpriv);
      if (r instanceof TapBackend) {
        try {
          r.joinBridge(ip, cfg);
        } catch (e) {
          await r.close();
          throw e;
        }
        return r;
      }
      lastError = r.error;
      if (!r.retry) break;
    }
    throw lastError!;
  }

  /** One try at starting socat; a port taken meanwhile by someone else may be worth another. */
  private static async tryStart(
    cfg: TapConfig,
    name: string,
    socat: string,
    setpriv: string,
  ): Promise<TapBackend | { error: TapError; retry: boolean }> {
    const socket = await boundSocket();
    const ourPort = socket.address().port;
    const peerPort = await freeUdpPort();
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(peerPort, LOOPBACK, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const args = ['--pdeathsig', 'TERM', '--', socat, ...socatArgs(name, ourPort, peerPort)];
    let stderr = '';
    let spawnError: Error | null = null;
    let exited: string | null = null;
    const child = spawn(setpriv, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.on('error', (e) => (spawnError = e));
    child.on('exit', (code, signal) => (exited = signal ?? `code ${code}`));
    const onErr = (b: Buffer): void => {
      if (stderr.length < 16384) stderr += b.toString();
    };
    child.stderr?.on('data', onErr);
    const fail = async (
      message: string,
      retry = false,
    ): Promise<{ error: TapError; retry: boolean }> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      socket.close();
      return { error: new TapError(message), retry };
    };
    const timeout = cfg.startTimeoutMs ?? 5000;
    const deadline = Date.now() + timeout;
    for (;;) {
      await sleep(10);
      if (spawnError) return fail(`socat could not be started: ${(spawnError as Error).message}`);
      if (exited !== null) {
        await sleep(20); // the rest of stderr
        const why = stderrTail(stderr) || 'no message';
        return fail(
          `socat could not create the TAP device ${name} (${exited}): ${why}\n` +
            `command: ${setpriv} ${args.join(' ')}`,
          /Address already in use/.test(stderr),
        );
      }
      if (existsSync(join('/sys/class/net', name)) && udpPortBound(peerPort)) break;
      if (Date.now() > deadline) {
        return fail(
          `socat did not create the TAP device ${name} within ${timeout} ms: ${stderrTail(stderr) || 'no message'}`,
        );
      }
    }
    child.stderr?.off('data', onErr);
    const b = new TapBackend(socket, peerPort, child, name, cfg);
    b.stderr = stderr;
    return b;
  }

  /** `ip link set dev TAP [mtu N] master BRIDGE up`. */
  private joinBridge(ip: string, cfg: TapConfig): void {
    const args = ['link', 'set', 'dev', this.name];
    if (cfg.mtu !== undefined) args.push('mtu', String(cfg.mtu));
    args.push('master', this.bridge, 'up');
    const r = spawnSync(ip, args, { encoding: 'utf8', timeout: 10_000 });
    if (r.error || r.status !== 0) {
      const why = (r.stderr ?? '').trim() || r.error?.message || `status ${r.status}`;
      if (!existsSync(join('/sys/class/net', this.bridge))) throw missingBridge(this.bridge);
      throw new TapError(
        `could not put the TAP device ${this.name} on the bridge ${this.bridge}: ${why}\n` +
          `command: ${ip} ${args.join(' ')}`,
      );
    }
  }

  /** socat's process id (while it runs). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private killNow(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
    }
  }

  /** Stops socat (which removes the TAP device); resolves once it has exited. */
  async close(): Promise<void> {
    this.closing = true;
    this.attach(null);
    this.disconnect();
    this.killNow();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.done;
    clearTimeout(t);
  }
}
