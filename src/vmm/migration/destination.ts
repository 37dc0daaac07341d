// The receiving side of a live migration: a VMM started with `incoming` listens on HOST:PORT,
// takes one stream, and checks everything before it trusts any of it: the hello (protocol,
// board fingerprint, memory, snapshot format), every page batch, the device state. Only a
// stream that ends in a device state passing every check starts the guest: its disks are
// locked and its port forwards bound then (`acquire`), its parts loaded, and the source told
// that it runs. A refused, damaged, cut or cancelled stream is answered with an ERROR saying
// why (when the peer is still there) and the receive fails: the VMM exits non-zero.

import { createServer, type Server, type Socket } from 'node:net';
import type { VirtBoard } from '../../machine/board/virt.js';
import type { BoardShape } from '../../machine/board/virtState.js';
import { boardFingerprint, shapeDifferences } from '../snapshot/boardShape.js';
import { SNAPSHOT_FORMAT_VERSION } from '../snapshot/format.js';
import { checkDeviceState, loadDeviceState } from './deviceState.js';
import { applyPages, zeroRam } from './pages.js';
import type { MigrationStats } from './stats.js';
import { hostPort } from './target.js';
import {
  FrameReader,
  jsonPayload,
  MigrationError,
  MIGRATION_PROTOCOL,
  MSG_ACK,
  MSG_CANCEL,
  MSG_ERROR,
  MSG_HELLO,
  MSG_PAGES,
  MSG_STATE,
  parseJsonPayload,
  writeFrame,
  type Frame,
} from './wire.js';

export interface MigrationDestinationHost {
  /** At the switch, before the guest is loaded: lock the disks, bind the port forwards. */
  acquire(): Promise<void>;
  /** The VMM's own sections of the device state ("vmm.*"), checked and loaded; throws when refused. */
  loadExtras(extras: Record<string, unknown>): void;
  log(line: string): void;
}

export class IncomingMigration {
  readonly stats: MigrationStats;
  private sock: Socket | null = null;

  private constructor(
    private readonly server: Server,
    readonly address: string,
  ) {
    this.stats = {
      direction: 'in',
      peer: '',
      listen: address,
      status: 'setup',
      rounds: 0,
      bytesSent: 0,
      pagesSent: 0,
      bytesRemaining: 0,
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
  static async listen(addr: string): Promise<IncomingMigration> {
    const { host, port } = hostPort(addr, true);
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(new MigrationError(`cannot listen for a migration on ${addr}: ${e.message}`)),
      );
      server.listen({ host, port }, resolve);
    });
    const a = server.address();
    const bound = a && typeof a === 'object' ? `${a.address}:${a.port}` : addr;
    return new IncomingMigration(server, bound);
  }

  /** Stops listening and drops a stream under way (the VMM is quitting). */
  close(): void {
    this.server.close();
    this.sock?.destroy();
  }

  /**
   * Takes one stream into `board` (made from this VMM's config, never run). Resolves once the
   * guest's state is loaded and the source told; `running` says whether it ran at the source.
   */
  async receive(board: VirtBoard, host: MigrationDestinationHost): Promise<{ running: boolean }> {
    const sock = await new Promise<Socket>((resolve, reject) => {
      this.server.once('connection', resolve);
      this.server.once('close', () =>
        reject(new MigrationError('no stream came: the VMM stopped')),
      );
    });
    this.server.close(); // one stream
    this.sock = sock;
    sock.setNoDelay(true);
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    this.stats.peer = peer;
    const t0 = performance.now();
    const reader = new FrameReader(sock, peer);
    sock.resume();
    const s = this.stats;
    const ack = (f: Frame, extra: object = {}): Promise<void> =>
      writeFrame(sock, MSG_ACK, f.seq, jsonPayload({ seq: f.seq, ...extra }));
    try {
      const hello = await reader.next();
      if (hello.type !== MSG_HELLO)
        throw new MigrationError('the stream does not begin with hello');
      checkHello(board, parseJsonPayload(hello, 'hello'));
      zeroRam(board.ram); // pages the source leaves out are zero there
      s.status = 'active';
      await ack(hello);
      for (;;) {
        const f = await reader.next();
        s.bytesSent += f.payload.length + 24;
        if (f.type === MSG_PAGES) {
          s.pagesSent += applyPages(board.ram, f.payload);
          void ack(f);
        } else if (f.type === MSG_STATE) {
          s.status = 'device';
          const checked = checkDeviceState(board, f.payload);
          const m = checked.extras.migration as { running?: unknown } | undefined;
          const running = m?.running !== false;
          delete checked.extras.migration;
          host.loadExtras(checked.extras);
          await host.acquire();
          loadDeviceState(checked);
          await ack(f, { running: true });
          s.status = 'completed';
          s.totalMs = Math.round(performance.now() - t0);
          sock.end();
          return { running };
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
      if (!sock.destroyed) {
        await writeFrame(sock, MSG_ERROR, 0, jsonPayload({ message: s.error })).catch(() => {});
        sock.end();
        setTimeout(() => sock.destroy(), 1000).unref();
      }
      throw e;
    }
  }
}

function checkHello(board: VirtBoard, h: Record<string, unknown>): void {
  if (h.protocol !== MIGRATION_PROTOCOL) {
    throw new MigrationError(
      `the source speaks migration protocol ${String(h.protocol)}; this Berth takes ${MIGRATION_PROTOCOL}`,
    );
  }
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
  const mine = Buffer.from(boardFingerprint(board.shape())).toString('hex');
  if (h.fingerprint !== mine) {
    const diff = shapeDifferences(h.shape as BoardShape, board.shape()).join('; ');
    throw new MigrationError(
      `the source's board is configured otherwise (${diff || 'the fingerprints differ'}); ` +
        'configure this VMM as the source is',
    );
  }
}
