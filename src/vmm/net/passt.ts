// User-mode networking through passt (Debian package `passt`): Berth starts
// passt as a child process listening on a unix stream socket in a private
// temporary directory, connects to it, and exchanges Ethernet frames in the
// framing QEMU's stream netdev uses: each frame is preceded by its length as a
// 4-byte big-endian integer. passt answers ARP, DHCP, NDP and DHCPv6 for the
// guest itself (by default it hands the guest the host's own address, netmask
// and default gateway, and the host's resolvers) and maps the guest's TCP, UDP
// and ICMP echo traffic onto ordinary sockets of the host, so no privileges
// are needed. Port forwards (-t / -u) make guest services reachable on host
// ports. passt is stopped when the backend is closed or the process exits.
//
//   const net = await PasstBackend.start({ forwards: [parsePortForward('8080:80')] });
//   const card = new VirtioNet(net, { seed: guestName });
//   ...
//   await net.close();

import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wakeups } from './wakeups.js';
import {
  NET_MAX_FRAME,
  type NetBackend,
  type NetReceiver,
} from '../../machine/virtio/netBackend.js';

export class PasstError extends Error {}

export const PASST_PACKAGE = 'passt';
/** Bytes of the length prefix in front of every frame on the socket. */
export const FRAME_PREFIX = 4;
/** The user passt runs as when Berth runs as root (Debian's nobody / nogroup). */
const NOBODY = 65534;

export interface PortForward {
  proto: 'tcp' | 'udp';
  hostPort: number;
  guestPort: number;
  /** Host address to bind (default: all addresses). */
  hostAddress?: string;
}

export interface PasstConfig {
  forwards?: PortForward[];
  /** The passt executable (default "passt", looked up in PATH). */
  binary?: string;
  /** MTU passt announces through DHCP option 26 and NDP (default: none, the guest keeps 1500). */
  mtu?: number;
  /** IPv4 only (passt -4). */
  ipv4Only?: boolean;
  /** More passt options, passed as they are (e.g. ["-a", "10.0.2.15", "-g", "10.0.2.2"]). */
  extraArgs?: string[];
  /** Receives one line per notable event (passt exited, connection dropped). */
  log?: (line: string) => void;
  /** How long to wait for passt's socket (default 5000 ms). */
  startTimeoutMs?: number;
  /** Bytes of frames for passt that may wait in the socket's buffer before more are dropped (default 4 MiB). */
  maxPendingBytes?: number;
}

export interface PasstCounters {
  txFrames: number;
  txBytes: number;
  /** Guest frames dropped: the connection was gone or passt was not reading fast enough. */
  txDropped: number;
  rxFrames: number;
  rxBytes: number;
}

/** Parses "HOSTPORT:GUESTPORT", "PORT", optionally "ADDR/…" in front and "/udp" or "/tcp" at the end. */
export function parsePortForward(spec: string): PortForward {
  const m = /^(?:([0-9a-fA-F.:]+)\/)?(\d{1,5})(?::(\d{1,5}))?(?:\/(tcp|udp))?$/.exec(spec.trim());
  const bad = (): PasstError =>
    new PasstError(
      `"${spec}" is not a port forward; write HOSTPORT:GUESTPORT (e.g. 8080:80), ` +
        `optionally with /udp, or ADDRESS/HOSTPORT:GUESTPORT`,
    );
  if (!m) throw bad();
  const hostPort = Number(m[2]);
  const guestPort = m[3] !== undefined ? Number(m[3]) : hostPort;
  if (hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535) throw bad();
  const f: PortForward = { proto: m[4] === 'udp' ? 'udp' : 'tcp', hostPort, guestPort };
  if (m[1] !== undefined) f.hostAddress = m[1];
  return f;
}

/** passt's command line for a socket path and a configuration. */
export function passtArgs(socketPath: string, cfg: PasstConfig): string[] {
  const args = ['--foreground', '--socket', socketPath];
  for (const f of cfg.forwards ?? []) {
    const spec = `${f.hostAddress !== undefined ? f.hostAddress + '/' : ''}${f.hostPort}:${f.guestPort}`;
    args.push(f.proto === 'udp' ? '-u' : '-t', spec);
  }
  if (cfg.mtu !== undefined) args.push('--mtu', String(cfg.mtu));
  if (cfg.ipv4Only) args.push('-4');
  args.push(...(cfg.extraArgs ?? []));
  return args;
}

/**
 * Splits the byte stream from passt into frames: handles frames split over
 * several reads and several frames in one read. A length of 0 or above
 * NET_MAX_FRAME is an error (the stream is out of step or hostile).
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  readonly maxFrame: number;

  constructor(maxFrame = NET_MAX_FRAME) {
    this.maxFrame = maxFrame;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Bytes waiting. */
  get pending(): number {
    return this.buffered;
  }

  /** The next whole frame, or null when more bytes are needed; throws PasstError on a bad length. */
  next(): Uint8Array | null {
    if (this.buffered < FRAME_PREFIX) return null;
    const head = this.peek(FRAME_PREFIX);
    const len = ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
    if (len === 0 || len > this.maxFrame) {
      throw new PasstError(
        `passt sent a frame of ${len} bytes (allowed: 1 to ${this.maxFrame}); the stream is out of step`,
      );
    }
    if (this.buffered < FRAME_PREFIX + len) return null;
    this.take(FRAME_PREFIX);
    return this.take(len);
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let done = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, n - done);
      out.set(c.subarray(0, k), done);
      done += k;
      if (done === n) break;
    }
    return out;
  }

  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[0];
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - done);
      out.set(c.subarray(0, k), done);
      done += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}

/** passt's stderr without the lines about an unreachable system logger. */
function cleanStderr(s: string): string {
  return s
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^Failed to send \d+ bytes to syslog/.test(l))
    .slice(0, 20)
    .join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class PasstBackend implements NetBackend {
  readonly counters: PasstCounters = {
    txFrames: 0,
    txBytes: 0,
    txDropped: 0,
    rxFrames: 0,
    rxBytes: 0,
  };
  /** Resolves once the connection to passt is gone (closed, failed, or passt exited). */
  readonly done: Promise<void>;
  private readonly child: ChildProcess;
  private readonly dir: string;
  private readonly socket: Socket;
  private readonly log: (line: string) => void;
  private readonly maxPending: number;
  private readonly decoder = new FrameDecoder();
  private receiver: NetReceiver | null = null;
  private paused = false;
  private alive = true;
  private closing = false;
  private stderr: string;
  private readonly onProcessExit: () => void;
  private resolveDone!: () => void;
  /** The loss of the connection has been logged or is about to be (one line). */
  private reported = false;
  private downReason = '';
  private exitReason = '';
  private killedByUs = false;
  private readonly wakeups = new Wakeups();

  private constructor(child: ChildProcess, dir: string, socket: Socket, cfg: PasstConfig) {
    this.child = child;
    this.dir = dir;
    this.socket = socket;
    this.log = cfg.log ?? (() => {});
    this.maxPending = cfg.maxPendingBytes ?? 4 << 20;
    this.stderr = ''; // only what passt says after start-up (the banner is not news)
    this.done = new Promise((r) => (this.resolveDone = r));
    this.onProcessExit = () => this.killNow();
    process.on('exit', this.onProcessExit);
    child.stderr?.on('data', (b: Buffer) => {
      if (this.stderr.length < 16384) this.stderr += b.toString();
    });
    child.on('exit', (code, signal) => {
      if (!this.killedByUs) {
        const why = cleanStderr(this.stderr).split('\n').slice(-3).join(' | ');
        this.exitReason = `berth: passt exited (${signal ?? 'code ' + code}); the guest network is down${why ? ': ' + why : ''}`;
        this.noteDown(this.exitReason);
      }
      this.shutdown();
      this.finish();
    });
    socket.on('data', (b: Buffer) => {
      this.decoder.push(new Uint8Array(b.buffer, b.byteOffset, b.length));
      this.drain();
    });
    socket.on('error', (e) => {
      this.noteDown(
        `berth: the connection to passt failed (${e.message}); the guest network is down`,
      );
      this.disconnectThenKill();
    });
    socket.on('close', () => {
      this.noteDown('berth: passt closed the connection; the guest network is down');
      this.disconnectThenKill();
    });
    if (child.exitCode !== null || child.signalCode !== null) this.shutdown();
  }

  /** Starts passt and connects to it; throws PasstError when passt is missing or does not start. */
  static async start(cfg: PasstConfig = {}): Promise<PasstBackend> {
    const binary = cfg.binary ?? 'passt';
    const dir = mkdtempSync(join(tmpdir(), 'berth-passt-'));
    const socketPath = join(dir, 'passt.socket');
    const args = passtArgs(socketPath, cfg);
    if (process.getuid?.() === 0) {
      // passt refuses to keep root and becomes nobody, which must be able to create its socket.
      chownSync(dir, NOBODY, NOBODY);
      args.unshift('--runas', `${NOBODY}:${NOBODY}`);
    }
    const stderr = { text: '' };
    let spawnError: NodeJS.ErrnoException | null = null;
    let exited: string | null = null;
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.on('error', (e) => (spawnError = e));
    child.on('exit', (code, signal) => (exited = signal ?? `code ${code}`));
    const onErr = (b: Buffer): void => {
      if (stderr.text.length < 16384) stderr.text += b.toString();
    };
    child.stderr?.on('data', onErr);
    const cleanup = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + (cfg.startTimeoutMs ?? 5000);
    for (;;) {
      await sleep(20);
      const err = spawnError as NodeJS.ErrnoException | null;
      if (err) {
        cleanup();
        if (err.code === 'ENOENT') {
          throw new PasstError(
            `passt was not found (looked for "${binary}"); install Debian's ${PASST_PACKAGE} package: ` +
              `sudo apt-get install ${PASST_PACKAGE}`,
          );
        }
        throw new PasstError(`passt could not be started (${binary}): ${err.message}`);
      }
      if (exited !== null) {
        await sleep(20); // let the last of stderr arrive
        cleanup();
        throw new PasstError(
          `passt exited while starting (${exited}): ${cleanStderr(stderr.text) || 'no message'}\n` +
            `command: ${binary} ${args.join(' ')}`,
        );
      }
      const socket = await tryConnect(socketPath);
      if (socket) {
        child.stderr?.off('data', onErr);
        return new PasstBackend(child, dir, socket, cfg);
      }
      if (Date.now() > deadline) {
        cleanup();
        throw new PasstError(
          `passt did not open its socket within ${cfg.startTimeoutMs ?? 5000} ms: ${cleanStderr(stderr.text) || 'no message'}`,
        );
      }
    }
  }

  /** passt's process id (while it runs). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True while frames flow. */
  get connected(): boolean {
    return this.alive;
  }

  send(frame: Uint8Array): void {
    const c = this.counters;
    if (!this.alive || frame.length === 0 || frame.length > NET_MAX_FRAME) {
      c.txDropped++;
      return;
    }
    if (this.socket.writableLength > this.maxPending) {
      c.txDropped++;
      return;
    }
    const out = Buffer.allocUnsafe(FRAME_PREFIX + frame.length);
    out.writeUInt32BE(frame.length, 0);
    out.set(frame, FRAME_PREFIX);
    this.socket.write(out);
    c.txFrames++;
    c.txBytes += frame.length;
  }

  attach(receiver: NetReceiver | null): void {
    this.receiver = receiver;
    if (receiver) {
      this.drain();
      if (!this.paused && this.alive) this.socket.resume();
    }
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.drain();
    if (!this.paused && this.alive) this.socket.resume();
  }

  /**
   * Resolves once frames have been handed to the device (or the connection is
   * gone): a VMM idling while its guest waits for an interrupt races this
   * against its timers.
   */
  whenReceived(): Promise<void> {
    return this.wakeups.next(!this.alive);
  }

  private wake(): void {
    this.wakeups.wake();
  }

  /** Hands decoded frames to the receiver until it asks for a pause. */
  private drain(): void {
    if (!this.receiver) {
      if (this.decoder.pending > 0) this.socket.pause();
      return;
    }
    let delivered = 0;
    while (!this.paused) {
      let frame: Uint8Array | null;
      try {
        frame = this.decoder.next();
      } catch (e) {
        if (!(e instanceof PasstError)) throw e;
        this.report(`berth: ${e.message}; dropping the connection to passt`);
        this.closing = true;
        this.shutdown();
        return;
      }
      if (frame === null) break;
      delivered++;
      this.counters.rxFrames++;
      this.counters.rxBytes += frame.length;
      if (!this.receiver.receive(frame)) {
        this.paused = true;
        this.socket.pause();
      }
    }
    if (delivered > 0) this.wake();
  }

  private report(line: string): void {
    if (this.reported || this.closing) return;
    this.reported = true;
    this.log(line);
  }

  /** Logs one line about losing the connection, after a moment in which passt's exit can explain it. */
  private noteDown(reason: string): void {
    if (this.reported || this.closing || this.downReason !== '') return;
    this.downReason = reason;
    setTimeout(() => this.report(this.exitReason || this.downReason), 100).unref();
  }

  /** The connection broke: passt is stopped a moment later, once it had the chance to exit and say why. */
  private disconnectThenKill(): void {
    this.disconnect();
    setTimeout(() => this.killNow(), 100).unref();
  }

  private disconnect(): void {
    if (this.alive) {
      this.alive = false;
      this.socket.destroy();
    }
    this.wake();
  }

  private shutdown(): void {
    this.disconnect();
    this.killNow();
  }

  private finish(): void {
    process.off('exit', this.onProcessExit);
    rmSync(this.dir, { recursive: true, force: true });
    this.resolveDone();
  }

  private killNow(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.killedByUs = true;
      this.child.kill('SIGTERM');
    }
  }

  /** Disconnects and stops passt; resolves once it has exited. */
  async close(): Promise<void> {
    this.closing = true;
    this.receiver = null;
    this.shutdown();
    const exited = new Promise<void>((r) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) r();
      else this.child.once('exit', () => r());
    });
    const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(t);
    this.finish();
  }
}

function tryConnect(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = connect(path);
    const fail = (): void => {
      s.destroy();
      resolve(null);
    };
    s.once('error', fail);
    s.once('connect', () => {
      s.off('error', fail);
      resolve(s);
    });
  });
}
