// The sending side of a live migration (precopy, as QEMU's): hello; RAM rounds while the guest
// runs (round 1 every page holding data, then the pages the dirty log caught since the round
// before); when the dirty pages left would go in the downtime budget at the measured throughput,
// pause, send the last dirty pages and the device state, and end once the destination says it
// runs. A guest that dirties memory faster than the link copies is throttled step by step.
// Anything that goes wrong before the switch leaves the guest running here; a lost last
// acknowledgement leaves it paused (the destination may run it: only one of them may).
// With `tls` the stream is TLS, the destination's certificate pinned by its fingerprint
// (channel.ts); with `token` the hello carries the destination's migration token. With
// `mirror` the writable disks go too (diskMirror.ts): their chunks in each round before the
// pages, their dirty chunks counted with the dirty pages, the last ones at the switch.

import type { Socket } from 'node:net';
import { PAGE_SIZE } from '../../machine/ram.js';
import type { VirtBoard } from '../../machine/board/virt.js';
import { boardFingerprint } from '../snapshot/boardShape.js';
import { berthVersion } from '../snapshot/berthVersion.js';
import { SNAPSHOT_FORMAT_VERSION } from '../snapshot/format.js';
import { openChannel } from './channel.js';
import { encodeDeviceState } from './deviceState.js';
import type { LayeredDisk } from '../disk/layeredDisk.js';
import { DiskMirror } from './diskMirror.js';
import { encodePages, PAGES_PER_BATCH } from './pages.js';
import {
  MigrationStats,
  THROTTLE_INCREMENT,
  THROTTLE_INITIAL,
  THROTTLE_MAX,
  type Throttle,
} from './stats.js';
import {
  FrameReader,
  jsonPayload,
  MigrationError,
  MIGRATION_PROTOCOL,
  MIGRATION_PROTOCOL_SHARED,
  MSG_ACK,
  MSG_BLOCKS,
  MSG_CANCEL,
  MSG_ERROR,
  MSG_HELLO,
  MSG_PAGES,
  MSG_STATE,
  parseJsonPayload,
  writeFrame,
} from './wire.js';

/** What the migration needs of the VMM it moves a guest out of. */
export interface MigrationSourceHost {
  board(): VirtBoard | null;
  running(): boolean;
  pause(): void;
  resume(): void;
  /** The VMM's own sections for the device state ("vmm.*"). */
  extras(): Record<string, unknown>;
  /** The guest's disks (the writable ones are sent when mirroring). */
  disks(): readonly LayeredDisk[];
  throttle: Throttle;
  /** At the switch: disks flushed and unlocked, port forwards closed; undone by reacquire(). */
  release(): Promise<void>;
  reacquire(): Promise<void>;
  /** The destination runs the guest: this VMM ends (exit status 0). */
  migrated(holdMs: number): void;
  log(line: string): void;
}

export interface MigrateOptions {
  to: string;
  downtimeMs: number;
  maxBandwidth: number | null;
  timeoutS: number;
  /**
   * After it completed, how long the source VMM waits for a quit before it ends by itself, so
   * that its supervisor reads the final figures from its status (0: it ends at once).
   */
  holdMs: number;
  /** The destination's certificate fingerprint (64 hex digits): the stream goes over TLS. */
  tls: { fingerprint: string } | null;
  /** The destination's migration token (hex), sent in the hello. */
  token: string | null;
  /** Send the writable disks too (diskMirror.ts): the destination's are its own. */
  mirror: boolean;
}

/** Messages in flight before the source waits for acknowledgements. */
const WINDOW = 8;
/** How long the source waits for the destination's word that it runs. */
const LAST_ACK_MS = 30_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Cancelled extends Error {}

export class MigrationSource {
  readonly stats: MigrationStats;
  private sock: Socket | null = null;
  private seq = 0;
  private readonly pending = new Map<
    number,
    { resolve: (a: object) => void; reject: (e: Error) => void }
  >();
  private broken: Error | null = null;
  private cancelReason: string | null = null;
  private readonly started = performance.now();
  private windowWaiter: (() => void) | null = null;
  /** The round's pace: when it began and the bytes it sent (maxBandwidth covers them all). */
  private roundT0 = 0;
  private roundBytes = 0;
  readonly done: Promise<void>;

  constructor(
    private readonly host: MigrationSourceHost,
    private readonly opts: MigrateOptions,
  ) {
    this.stats = {
      direction: 'out',
      peer: opts.to,
      tls: opts.tls !== null,
      status: 'setup',
      rounds: 0,
      bytesSent: 0,
      pagesSent: 0,
      bytesRemaining: 0,
      diskBytesSent: 0,
      diskBytesRemaining: 0,
      dirtyBytesPerSecond: 0,
      throughputBytesPerSecond: 0,
      downtimeLimitMs: opts.downtimeMs,
      expectedDowntimeMs: 0,
      downtimeMs: null,
      totalMs: 0,
      throttlePercent: 0,
      maxThrottlePercent: 0,
    };
    this.done = this.run();
  }

  get active(): boolean {
    return ['setup', 'active', 'device'].includes(this.stats.status);
  }

  /** Gives up before the switch (the guest runs on here); false once past it. */
  cancel(reason = 'cancelled'): boolean {
    if (this.stats.status !== 'setup' && this.stats.status !== 'active') return false;
    this.cancelReason = reason;
    this.fail(new Cancelled(reason));
    return true;
  }

  snapshot(): MigrationStats {
    if (this.active) this.stats.totalMs = Math.round(performance.now() - this.started);
    return { ...this.stats };
  }

  private fail(e: Error): void {
    this.broken ??= e;
    for (const p of this.pending.values()) p.reject(this.broken);
    this.pending.clear();
    this.windowWaiter?.();
  }

  private check(): void {
    if (this.broken) throw this.broken;
    const elapsed = (performance.now() - this.started) / 1000;
    if (elapsed > this.opts.timeoutS) {
      throw new MigrationError(`it did not converge within ${this.opts.timeoutS} s`);
    }
  }

  private async connect(): Promise<void> {
    const sock = await openChannel(this.opts.to, this.opts.tls?.fingerprint ?? null);
    this.sock = sock;
    if (this.broken) throw this.broken; // cancelled meanwhile
    sock.setNoDelay(true);
    const reader = new FrameReader(sock, this.opts.to);
    void (async () => {
      for (;;) {
        const f = await reader.next();
        if (f.type === MSG_ERROR) {
          const m = parseJsonPayload(f, 'error');
          throw new MigrationError(`${this.opts.to} refused: ${String(m.message)}`);
        }
        if (f.type !== MSG_ACK)
          throw new MigrationError(`${this.opts.to} sent message type ${f.type}`);
        const p = this.pending.get(f.seq);
        if (!p)
          throw new MigrationError(`${this.opts.to} acknowledged message ${f.seq}, never sent`);
        this.pending.delete(f.seq);
        p.resolve(parseJsonPayload(f, 'acknowledgement'));
        this.windowWaiter?.();
      }
    })().catch((e: Error) => this.fail(e));
  }

  /**
   * Writes one message once the window has room; resolves when it is written, with the
   * promise of its acknowledgement (in a box: a promise resolved with a promise would wait
   * for it, and every message would wait for its ACK).
   */
  private async send(type: number, payload: Uint8Array): Promise<{ acked: Promise<object> }> {
    while (this.pending.size >= WINDOW && !this.broken) {
      await new Promise<void>((r) => (this.windowWaiter = r));
      this.windowWaiter = null;
    }
    if (this.broken) throw this.broken;
    const seq = ++this.seq;
    const acked = new Promise<object>((resolve, reject) =>
      this.pending.set(seq, { resolve, reject }),
    );
    acked.catch(() => {}); // failures are seen through this.broken too
    this.stats.bytesSent += payload.length + 24;
    await writeFrame(this.sock!, type, seq, payload);
    return { acked };
  }

  private async drainAcks(): Promise<void> {
    await Promise.all(
      [...this.pending.keys()].map(
        (k) =>
          new Promise<void>((resolve, reject) => {
            const p = this.pending.get(k);
            if (!p) return resolve();
            this.pending.set(k, {
              resolve: (a) => (p.resolve(a), resolve()),
              reject: (e) => (p.reject(e), reject(e)),
            });
          }),
      ),
    );
    if (this.broken) throw this.broken;
  }

  /** After a message of `bytes`: waits as long as maxBandwidth asks (the guest runs meanwhile). */
  private async paced(bytes: number, limited: boolean): Promise<void> {
    this.roundBytes += bytes;
    const bw = this.opts.maxBandwidth;
    if (limited && bw !== null) {
      // In steps, so that a cancel is seen within one (a megabyte at a small cap is a minute).
      for (;;) {
        const ahead = (this.roundBytes / bw) * 1000 - (performance.now() - this.roundT0);
        if (ahead <= 0 || this.broken) break;
        await sleep(Math.min(ahead, 100));
      }
    } else await new Promise((r) => setImmediate(r));
  }

  /** Sends `pages` in batches, as fast as maxBandwidth lets; the guest runs between batches. */
  private async sendPages(board: VirtBoard, pages: number[], limited: boolean): Promise<void> {
    for (let i = 0; i < pages.length; i += PAGES_PER_BATCH) {
      this.check();
      const payload = encodePages(board.ram, pages.slice(i, i + PAGES_PER_BATCH));
      await this.send(MSG_PAGES, payload);
      this.stats.pagesSent += Math.min(PAGES_PER_BATCH, pages.length - i);
      await this.paced(payload.length, limited);
    }
  }

  /** Sends the disk chunks dirty now (round 1: those not all zero), paced as pages are. */
  private async sendBlocks(mirror: DiskMirror, first: boolean, limited: boolean): Promise<void> {
    for (const { payload } of mirror.batches(first)) {
      this.check();
      await this.send(MSG_BLOCKS, payload);
      this.stats.diskBytesSent += payload.length;
      await this.paced(payload.length, limited);
    }
  }

  /** Sends the hello and waits for its acknowledgement. */
  private async hello(board: VirtBoard, mirror: DiskMirror | null): Promise<void> {
    const hello = jsonPayload({
      protocol: mirror ? MIGRATION_PROTOCOL : MIGRATION_PROTOCOL_SHARED,
      ...(mirror ? { mirror: mirror.describe() } : {}),
      fingerprint: Buffer.from(boardFingerprint(board.shape())).toString('hex'),
      shape: board.shape(),
      memoryBytes: board.ram.size,
      snapshotFormat: SNAPSHOT_FORMAT_VERSION,
      writer: berthVersion(),
      ...(this.opts.token !== null ? { token: this.opts.token } : {}),
    });
    try {
      await (
        await this.send(MSG_HELLO, hello)
      ).acked;
    } catch (e) {
      // A TLS destination drops a plain stream without a word: say what may be missing.
      const m = (e as Error).message;
      if (this.opts.tls !== null || !/closed the stream|broke/.test(m)) throw e;
      throw new MigrationError(
        `${m} before answering the hello (does it take TLS only? then give tls.fingerprint)`,
      );
    }
  }

  private async run(): Promise<void> {
    const s = this.stats;
    const host = this.host;
    let pausedHere = false;
    let released = false;
    let stateSent = false;
    const mirror = this.opts.mirror ? DiskMirror.of(host.disks()) : null;
    try {
      const board = host.board();
      if (!board) throw new MigrationError('there is no machine to migrate');
      await this.connect();
      await this.hello(board, mirror);
      s.status = 'active';
      mirror?.start(); // every chunk dirty: round 1 reads them all
      board.takeDirtyPages(); // the log starts now: round 1 copies what is there
      let pages = board.ram.dataPages();
      let roundStart = performance.now();
      let sentBefore = s.bytesSent;
      for (;;) {
        s.rounds++;
        this.roundT0 = roundStart;
        this.roundBytes = 0;
        if (mirror) await this.sendBlocks(mirror, s.rounds === 1, true);
        await this.sendPages(board, pages, true);
        await this.drainAcks();
        const ms = Math.max(1, performance.now() - roundStart);
        const sent = s.bytesSent - sentBefore;
        s.throughputBytesPerSecond = Math.round((sent / ms) * 1000);
        pages = board.takeDirtyPages();
        s.diskBytesRemaining = mirror?.dirtyBytes ?? 0;
        const dirty = pages.length * PAGE_SIZE + s.diskBytesRemaining;
        s.dirtyBytesPerSecond = Math.round((dirty / ms) * 1000);
        s.bytesRemaining = dirty;
        s.expectedDowntimeMs = Math.round((dirty / Math.max(1, s.throughputBytesPerSecond)) * 1000);
        if (s.expectedDowntimeMs <= this.opts.downtimeMs) break;
        // Auto-converge: the guest dirtied more than half of what the round copied.
        if (s.rounds > 1 && dirty > sent / 2) {
          const t = host.throttle.percent;
          const next = t === 0 ? THROTTLE_INITIAL : Math.min(THROTTLE_MAX, t + THROTTLE_INCREMENT);
          host.throttle.set(next);
          s.throttlePercent = next;
          s.maxThrottlePercent = Math.max(s.maxThrottlePercent, next);
          host.log(
            `migration to ${this.opts.to}: round ${s.rounds} left ${dirty} bytes dirty; guest throttled to ${next}%`,
          );
        }
        this.check();
        roundStart = performance.now();
        sentBefore = s.bytesSent;
      }
      // The switch: from here the guest stands still until one side runs it.
      const wasRunning = host.running();
      host.pause();
      pausedHere = wasRunning;
      const downStart = performance.now();
      s.status = 'device';
      const last = [...new Set([...pages, ...board.takeDirtyPages()])].sort((a, b) => a - b);
      s.bytesRemaining = last.length * PAGE_SIZE + (mirror?.dirtyBytes ?? 0);
      if (mirror) await this.sendBlocks(mirror, false, false);
      mirror?.stop();
      s.diskBytesRemaining = 0;
      await this.sendPages(board, last, false);
      const state = encodeDeviceState(board, {
        ...host.extras(),
        migration: { running: wasRunning },
      });
      await this.drainAcks();
      released = true; // (before: a release that fails half-way is undone too)
      await host.release();
      stateSent = true;
      const { acked } = await this.send(MSG_STATE, state);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        acked,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new MigrationError('no word from the destination')),
            LAST_ACK_MS,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      s.downtimeMs = Math.round(performance.now() - downStart);
      s.bytesRemaining = 0;
      s.status = 'completed';
      s.totalMs = Math.round(performance.now() - this.started);
      host.throttle.set(0);
      s.throttlePercent = 0;
      host.log(
        `migrated to ${this.opts.to}: ${s.rounds} rounds, ${s.bytesSent} bytes, ${s.totalMs} ms, downtime ${s.downtimeMs} ms`,
      );
      this.sock?.end();
      host.migrated(this.opts.holdMs);
    } catch (e) {
      mirror?.stop();
      const err = e as Error;
      s.totalMs = Math.round(performance.now() - this.started);
      host.throttle.set(0);
      s.throttlePercent = 0;
      const refused = err instanceof MigrationError && /refused/.test(err.message);
      if (stateSent && !refused) {
        // The device state went out and no answer came: the destination may run the guest.
        s.status = 'unknown';
        s.error = `${err.message}; the outcome is unknown: the guest stays paused here`;
        host.log(`migration to ${this.opts.to}: ${s.error}`);
        this.sock?.destroy();
        return;
      }
      s.status = e instanceof Cancelled ? 'cancelled' : 'failed';
      s.error = this.cancelReason ?? err.message;
      if (this.sock && !this.sock.destroyed) {
        await writeFrame(this.sock, MSG_CANCEL, ++this.seq, jsonPayload({ reason: s.error })).catch(
          () => {},
        );
        this.sock.destroy();
      }
      if (released) await host.reacquire();
      if (pausedHere) host.resume();
      host.log(`migration to ${this.opts.to} ${s.status}: ${s.error}; the guest runs on here`);
    }
  }
}
