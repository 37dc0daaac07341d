// The receiving side of a live migration: a VMM started with `incoming` listens on HOST:PORT,
// takes one stream, and checks everything before it trusts any of it: the hello (protocol,
// board fingerprint, memory, snapshot format), every page batch, the device state. Only a
// stream that ends in a device state passing every check starts the guest: its disks are
// locked and its port forwards bound then (`acquire`), its parts loaded, and the source told
// that it runs. A refused, damaged, cut or cancelled stream is answered with an ERROR saying
// why (when the peer is still there) and the receive fails: the VMM exits non-zero.
//
// With `tls` (certificate and key, PEM) it listens with TLS 1.3 at least; with `token` the
// hello must carry it (compared in constant time). With either, a connection is a stream only
// once it has proved itself: TLS handshake done and a hello (with the right token) within
// ADMIT_MS. Until then it is one of a few checked side by side, and one that fails (no TLS,
// silence, wrong token, not the protocol) is answered with an ERROR when the wire allows,
// closed and counted (`refused`); the VMM waits on for the right source. Without either, the
// first connection is the stream, as before.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { VirtBoard } from '../../machine/board/virt.js';
import type { BoardShape } from '../../machine/board/virtState.js';
import { boardFingerprint, sameShape, shapeDifferences } from '../snapshot/boardShape.js';
import { SNAPSHOT_FORMAT_VERSION } from '../snapshot/format.js';
import { checkDeviceState, loadDeviceState } from './deviceState.js';
import { applyBlocks, type BlockTarget } from './blocks.js';
import { applyPages, zeroRam } from './pages.js';
import type { MigrationStats } from './stats.js';
import { hostPort } from './target.js';
import {
  FrameReader,
  jsonPayload,
  MigrationError,
  MIGRATION_PROTOCOL,
  MIGRATION_PROTOCOL_SHARED,
  MSG_ACK,
  MSG_BLOCKS,
  MSG_CANCEL,
  MSG_HELLO,
  MSG_PAGES,
  MSG_STATE,
  parseJsonPayload,
  refuse,
  writeFrame,
  type Frame,
} from './wire.js';

export interface IncomingOptions {
  tls?: { cert: string; key: string };
  token?: string;
  /** The disks are the targets of a mirror (receive() is given them: MigrationDestinationHost). */
  mirror?: boolean;
}

/** How long a connection has for its TLS handshake, and then for its hello. */
export const ADMIT_MS = 5_000;
/** Connections checked at once (past their handshake); more are closed at once meanwhile. */
const MAX_CHECKED = 8;
/** Connections open at once, handshakes included. */
const MAX_CONNECTIONS = 32;
/** A hello is a few KiB; a bigger one from a connection not yet trusted is not read. */
const MAX_HELLO_BYTES = 1 << 20;

interface Admitted {
  sock: Socket;
  /** With its hello read (tls or token); null when the first connection is taken as it is. */
  reader: FrameReader | null;
  hello: Frame | null;
}

/** Whether `got` is the token `want`, compared in constant time (hex, case ignored). */
function sameToken(want: string, got: unknown): boolean {
  if (typeof got !== 'string') return false;
  const digest = (t: string): Buffer => createHash('sha256').update(t.toLowerCase()).digest();
  return timingSafeEqual(digest(want), digest(got));
}

/** A disk the stream writes (the target of a mirror). */
export type MirrorTarget = BlockTarget & { readonly readOnly: boolean; flush(): void };

export interface MigrationDestinationHost {
  /**
   * With `incoming.mirror`: the VMM's disks, the writable ones written by the stream (its own
   * files, locked since the start); null when the disks are the source's, shared.
   */
  mirror: readonly MirrorTarget[] | null;
  /**
   * The board to take the stream into, made (never run) once the hello says how the source's
   * board is shaped (`shape`, unchecked): the devices this VMM's configuration leaves without a
   * slot go where the source has them. Throws MigrationError for a configured slot that says
   * otherwise.
   */
  board(shape: unknown): VirtBoard;
  /** At the switch, before the guest is loaded: lock the disks, bind the port forwards. */
  acquire(): Promise<void>;
  /** The VMM's own sections of the device state ("vmm.*"), checked and loaded; throws when refused. */
  loadExtras(extras: Record<string, unknown>): void;
  log(line: string): void;
}

export class IncomingMigration {
  readonly stats: MigrationStats;
  private sock: Socket | null = null;
  /** Every connection open (checked, in its handshake, or the stream): closed with the VMM. */
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly address: string,
    private readonly opts: IncomingOptions,
  ) {
    server.on('connection', (sock: Socket) => {
      this.open.add(sock);
      sock.on('close', () => this.open.delete(sock));
    });
    if (opts.tls) server.on('tlsClientError', () => this.stats.refused!++);
    this.stats = {
      direction: 'in',
      peer: '',
      listen: address,
      tls: opts.tls !== undefined,
      refused: 0,
      status: 'setup',
      rounds: 0,
      bytesSent: 0,
      pagesSent: 0,
      bytesRemaining: 0,
      diskBytesSent: 0,
      diskBytesRemaining: 0,
      dirtyBytesPerSecond: 0,
      throughputBytesPerSecond: 0,
      downtimeLimitMs: 0,
      expectedDowntimeMs: 0,
      downtimeMs: null,
      totalMs: 0,
      throttlePercent: 0,
      maxThrottlePercent: 0,
    };
  }

  /** Listens on `addr` (HOST:PORT; port 0 picks one, see `address`). */
  static async listen(addr: string, opts: IncomingOptions = {}): Promise<IncomingMigration> {
    const { host, port } = hostPort(addr, true);
    let server: Server;
    try {
      server = opts.tls
        ? createTlsServer({
            cert: opts.tls.cert,
            key: opts.tls.key,
            minVersion: 'TLSv1.3',
            handshakeTimeout: ADMIT_MS,
          })
        : createServer({ pauseOnConnect: true });
    } catch (e) {
      throw new MigrationError(
        `incoming.tls: the certificate or key is refused: ${(e as Error).message}`,
      );
    }
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(new MigrationError(`cannot listen for a migration on ${addr}: ${e.message}`)),
      );
      server.listen({ host, port }, resolve);
    });
    const a = server.address();
    const bound = a && typeof a === 'object' ? `${a.address}:${a.port}` : addr;
    return new IncomingMigration(server, bound, opts);
  }

  /** Stops listening and drops a stream under way (the VMM is quitting). */
  close(): void {
    this.server.close();
    // A refused stream is left to refuse(): its ERROR goes out first.
    if (this.stats.status !== 'failed') this.sock?.destroy();
    if (this.stats.status === 'setup') for (const s of this.open) s.destroy();
  }

  /** The stream: the first connection; with tls or a token, the first to prove itself. */
  private accept(log: (line: string) => void): Promise<Admitted> {
    const checked = this.opts.tls !== undefined || this.opts.token !== undefined;
    return new Promise((resolve, reject) => {
      const checking = new Set<Socket>();
      let decided = false;
      const take = (a: Admitted): void => {
        decided = true;
        this.server.off('close', onClose);
        this.server.close(); // one stream
        for (const s of checking) s.destroy();
        resolve(a);
      };
      const onClose = (): void => {
        decided = true;
        reject(new MigrationError('no stream came: the VMM stopped'));
      };
      this.server.on(this.opts.tls ? 'secureConnection' : 'connection', (sock: Socket) => {
        if (decided) return void sock.destroy();
        if (!checked) return take({ sock, reader: null, hello: null });
        if (checking.size >= MAX_CHECKED) {
          this.stats.refused!++;
          return void sock.destroy();
        }
        checking.add(sock);
        void this.admit(sock, log).then((a) => {
          checking.delete(sock);
          if (decided) sock.destroy();
          else if (a) take(a);
        });
      });
      this.server.once('close', onClose);
    });
  }

  /** A connection with its hello once it proves itself, or null (it is answered and closed). */
  private async admit(sock: Socket, log: (line: string) => void): Promise<Admitted | null> {
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    const reader = new FrameReader(sock, peer);
    const first = reader.next(MAX_HELLO_BYTES);
    first.catch(() => {}); // seen below, or left behind by a connection that timed out
    let timer: NodeJS.Timeout | undefined;
    try {
      const hello = await Promise.race([
        first,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new MigrationError(`no hello within ${ADMIT_MS / 1000} s`)),
            ADMIT_MS,
          );
        }),
      ]);
      if (hello.type !== MSG_HELLO) {
        throw new MigrationError('the stream does not begin with hello');
      }
      const token = this.opts.token;
      if (token !== undefined && !sameToken(token, parseJsonPayload(hello, 'hello').token)) {
        throw new MigrationError('wrong migration token');
      }
      return { sock, reader, hello };
    } catch (e) {
      this.stats.refused!++;
      log(`incoming migration: ${peer} turned away: ${(e as Error).message}`);
      refuse(sock, (e as Error).message);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Takes one stream into the board `host.board` makes. Resolves once the guest's state is
   * loaded and the source told, with that board; `running` says whether it ran at the source.
   */
  async receive(host: MigrationDestinationHost): Promise<{ running: boolean; board: VirtBoard }> {
    const admitted = await this.accept(host.log);
    const sock = admitted.sock;
    this.sock = sock;
    sock.setNoDelay(true);
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    this.stats.peer = peer;
    const t0 = performance.now();
    const reader = admitted.reader ?? new FrameReader(sock, peer);
    sock.resume();
    const s = this.stats;
    const ack = (f: Frame, extra: object = {}): Promise<void> =>
      writeFrame(sock, MSG_ACK, f.seq, jsonPayload({ seq: f.seq, ...extra }));
    try {
      const hello = admitted.hello ?? (await reader.next());
      if (hello.type !== MSG_HELLO)
        throw new MigrationError('the stream does not begin with hello');
      const h = parseJsonPayload(hello, 'hello');
      checkProtocol(h);
      const board = host.board(h.shape);
      checkHello(board, h, host.mirror);
      const targets = host.mirror?.map((d) => (d.readOnly ? null : d)) ?? null;
      zeroRam(board.ram); // pages the source leaves out are zero there
      s.status = 'active';
      await ack(hello);
      for (;;) {
        const f = await reader.next();
        s.bytesSent += f.payload.length + 24;
        if (f.type === MSG_PAGES) {
          s.pagesSent += applyPages(board.ram, f.payload);
          void ack(f);
        } else if (f.type === MSG_BLOCKS && targets !== null) {
          s.diskBytesSent += applyBlocks(f.payload, targets);
          void ack(f);
        } else if (f.type === MSG_STATE) {
          s.status = 'device';
          const checked = checkDeviceState(board, f.payload);
          const m = checked.extras.migration as { running?: unknown } | undefined;
          const running = m?.running !== false;
          delete checked.extras.migration;
          host.loadExtras(checked.extras);
          await host.acquire();
          // What the stream wrote is on the disks before the source hears that the guest runs here.
          for (const d of targets ?? []) d?.flush();
          loadDeviceState(checked);
          await ack(f, { running: true });
          s.status = 'completed';
          s.totalMs = Math.round(performance.now() - t0);
          sock.end();
          return { running, board };
        } else if (f.type === MSG_CANCEL) {
          const why = parseJsonPayload(f, 'cancel').reason;
          throw new MigrationError(`the source gave up: ${String(why)}`);
        } else {
          throw new MigrationError(`unexpected message type ${f.type} from ${peer}`);
        }
      }
    } catch (e) {
      s.status = 'failed';
      s.error = (e as Error).message;
      s.totalMs = Math.round(performance.now() - t0);
      refuse(sock, s.error);
      throw e;
    }
  }
}

function checkProtocol(h: Record<string, unknown>): void {
  if (h.protocol !== MIGRATION_PROTOCOL && h.protocol !== MIGRATION_PROTOCOL_SHARED) {
    throw new MigrationError(
      `the source speaks migration protocol ${String(h.protocol)}; this Berth takes ${MIGRATION_PROTOCOL_SHARED} and ${MIGRATION_PROTOCOL}`,
    );
  }
}

function checkHello(
  board: VirtBoard,
  h: Record<string, unknown>,
  mirror: readonly MirrorTarget[] | null,
): void {
  // Before the board's shape, which holds the disks' sizes too: this says it plainly.
  checkMirror(h, mirror);
  if (h.memoryBytes !== board.ram.size) {
    throw new MigrationError(
      `memory: the source's guest has ${String(h.memoryBytes)} bytes, this VMM ${board.ram.size}`,
    );
  }
  if (typeof h.snapshotFormat !== 'number' || h.snapshotFormat > SNAPSHOT_FORMAT_VERSION) {
    throw new MigrationError(
      `the source sends snapshot format ${String(h.snapshotFormat)}; this Berth reads up to ${SNAPSHOT_FORMAT_VERSION}`,
    );
  }
  // The shapes are compared, not the fingerprints: a source older than the record of each
  // disk's number (savedPlacement.ts) fingerprints a shape without it.
  const shape = h.shape !== null && typeof h.shape === 'object' ? (h.shape as BoardShape) : null;
  if (shape === null || h.fingerprint !== Buffer.from(boardFingerprint(shape)).toString('hex')) {
    throw new MigrationError(
      "the hello's board shape is missing or does not match its fingerprint",
    );
  }
  if (!sameShape(shape, board.shape())) {
    const diff = shapeDifferences(shape, board.shape()).join('; ');
    throw new MigrationError(
      `the source's board is configured otherwise (${diff || 'the fingerprints differ'}); ` +
        'configure this VMM as the source is',
    );
  }
}

/**
 * The hello's `mirror` against this VMM's: a mirroring source needs a mirror's target (its
 * writable disks of the same sizes), and a mirror's target a mirroring source.
 */
function checkMirror(h: Record<string, unknown>, mine: readonly MirrorTarget[] | null): void {
  const sent = h.mirror;
  if (mine === null) {
    if (sent === undefined) return;
    throw new MigrationError(
      "the source sends its disks (mirror); this VMM uses the source's disk files " +
        '(start it with incoming.mirror and disks of its own to take them)',
    );
  }
  if (h.protocol !== MIGRATION_PROTOCOL || !Array.isArray(sent)) {
    throw new MigrationError(
      "this VMM's disks are the targets of a mirror (incoming.mirror): the source must send " +
        'its disks (migrate with mirror)',
    );
  }
  const want = mine.flatMap((d, disk) => (d.readOnly ? [] : [{ disk, size: d.size }]));
  const got = sent.map((e) => e as { disk?: unknown; size?: unknown });
  const show = (l: { disk?: unknown; size?: unknown }[]): string =>
    l.map((e) => `disk ${String(e.disk)}: ${String(e.size)} bytes`).join(', ') || 'none';
  if (
    got.length !== want.length ||
    want.some((w, i) => got[i].disk !== w.disk || got[i].size !== w.size)
  ) {
    throw new MigrationError(
      `the mirrored disks differ: the source sends ${show(got)}; this VMM's writable disks are ` +
        `${show(want)} (give it disks of the source's sizes)`,
    );
  }
}
