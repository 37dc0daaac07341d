// The main thread's side of a network worker (see pollLoop.ts): a NetBackend
// whose frames cross to and from a worker thread of this process. Guest
// frames are posted to the worker, which is woken through a pipe; frames for
// the guest arrive in batches and are handed to the receiver the device
// attached, pausing while it is full. Both directions are bounded: beyond the
// bounds frames are dropped and counted, never held without limit.

import { closeSync, writeSync } from 'node:fs';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { O_CLOEXEC, O_NONBLOCK, libc } from './libc.js';
import {
  RX_DROPPED,
  RX_OUT,
  SLOTS,
  THROTTLED,
  TX_DROPPED,
  TX_OUT,
  WAKE,
  type FromWorker,
  type WorkerSetup,
} from './linkControl.js';
import { Wakeups } from './wakeups.js';
import {
  NET_MAX_FRAME,
  NET_MIN_FRAME,
  type NetBackend,
  type NetReceiver,
} from '../../machine/virtio/netBackend.js';

export interface LinkCounters {
  txFrames: number;
  txBytes: number;
  /** Guest frames dropped: too short or too long, the link was down, or the worker was behind. */
  txDropped: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames for the guest dropped: the device had no room for long. */
  rxDropped: number;
}

export interface LinkOptions {
  /** Receives one line per notable event (the link went down). */
  log?: (line: string) => void;
  /** Frames for the guest held while the device has no room, before more are dropped (default 1024). */
  maxQueuedFrames?: number;
  /** Guest frames on their way to the worker before more are dropped (default 1024). */
  maxPendingFrames?: number;
}

export interface StartedWorker {
  worker: Worker;
  port: MessagePort;
  control: SharedArrayBuffer;
  wakeRead: number;
  wakeWrite: number;
  info: Record<string, unknown>;
}

const ONE = Uint8Array.of(1);

/** Starts a network worker of `kind`; rejects with makeError(message) when it cannot start. */
export async function startWorker(
  kind: WorkerSetup['kind'],
  options: unknown,
  cfg: LinkOptions,
  makeError: (message: string) => Error,
): Promise<StartedWorker> {
  const fds = new Int32Array(2);
  if (libc().pipe2(fds, O_NONBLOCK | O_CLOEXEC) !== 0) {
    throw makeError(`cannot create a pipe (errno ${libc().errno()})`);
  }
  const [wakeRead, wakeWrite] = fds;
  const maxQueued = cfg.maxQueuedFrames ?? 1024;
  const control = new SharedArrayBuffer(SLOTS * 4);
  const { port1, port2 } = new MessageChannel();
  const setup: WorkerSetup & { port: MessagePort } = {
    kind,
    control,
    wakeFd: wakeRead,
    rxHigh: Math.max(1, Math.min(256, maxQueued >> 1)),
    rxMax: maxQueued,
    options,
    port: port2,
  };
  const worker = new Worker(new URL('./netWorker.js', import.meta.url), {
    workerData: setup,
    transferList: [port2],
  });
  try {
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.t === 'ready') resolve(m.info ?? {});
        else if (m.t === 'error') reject(makeError(m.message));
        else return;
        worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', (e) => reject(makeError(`the network worker failed: ${e.message}`)));
      worker.once('exit', (code) =>
        reject(makeError(`the network worker exited while starting (code ${code})`)),
      );
    });
    worker.removeAllListeners('error');
    worker.removeAllListeners('exit');
    return { worker, port: port1, control, wakeRead, wakeWrite, info };
  } catch (e) {
    await worker.terminate();
    port1.close();
    closeSync(wakeRead);
    closeSync(wakeWrite);
    throw e;
  }
}

export class WorkerLink implements NetBackend {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctl: Int32Array;
  private readonly wakeRead: number;
  private readonly wakeWrite: number;
  private readonly log: (line: string) => void;
  private readonly maxQueued: number;
  private readonly maxPending: number;
  private readonly rxLow: number;
  private receiver: NetReceiver | null = null;
  private paused = false;
  private queue: Uint8Array[] = [];
  private head = 0;
  private readonly wakeups = new Wakeups();
  private alive = true;
  private closing = false;
  private readonly exited: Promise<void>;
  private readonly orders = new Map<number, (error: string | null) => void>();
  private nextOrder = 1;
  private readonly own = {
    txFrames: 0,
    txBytes: 0,
    txDropped: 0,
    rxFrames: 0,
    rxBytes: 0,
    rxDropped: 0,
  };

  protected constructor(w: StartedWorker, cfg: LinkOptions) {
    this.worker = w.worker;
    this.port = w.port;
    this.ctl = new Int32Array(w.control);
    this.wakeRead = w.wakeRead;
    this.wakeWrite = w.wakeWrite;
    this.log = cfg.log ?? (() => {});
    this.maxQueued = cfg.maxQueuedFrames ?? 1024;
    this.maxPending = cfg.maxPendingFrames ?? 1024;
    this.rxLow = Math.max(1, Math.min(256, this.maxQueued >> 1) >> 1);
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => this.down(`berth: the network worker failed: ${e.message}`));
    this.exited = new Promise((r) =>
      this.worker.once('exit', () => {
        this.down('berth: the network worker exited; the guest network is down');
        r();
      }),
    );
  }

  get counters(): LinkCounters {
    const c = this.own;
    return {
      ...c,
      txDropped: c.txDropped + Atomics.load(this.ctl, TX_DROPPED),
      rxDropped: c.rxDropped + Atomics.load(this.ctl, RX_DROPPED),
    };
  }

  /** True while frames flow. */
  get connected(): boolean {
    return this.alive;
  }

  /** Frames waiting for room in the device. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  send(frame: Uint8Array): void {
    const c = this.own;
    if (!this.alive || frame.length < NET_MIN_FRAME || frame.length > NET_MAX_FRAME) {
      c.txDropped++;
      return;
    }
    if (Atomics.load(this.ctl, TX_OUT) >= this.maxPending) {
      c.txDropped++;
      return;
    }
    const copy = frame.slice();
    Atomics.add(this.ctl, TX_OUT, 1);
    this.port.postMessage(copy, [copy.buffer]);
    c.txFrames++;
    c.txBytes += frame.length;
    this.wakeWorker();
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

  /** Hook for subclasses: a message the link itself does not handle. */
  protected onOther(_m: FromWorker): void {}

  /**
   * Hands `order` to the worker's driver; resolves once it is carried out, rejects with
   * makeError(why) when the driver refuses it or the worker is gone.
   */
  protected orderWorker(order: unknown, makeError: (m: string) => Error): Promise<void> {
    if (!this.alive) return Promise.reject(makeError('the network worker is gone'));
    const id = this.nextOrder++;
    return new Promise((resolve, reject) => {
      this.orders.set(id, (error) => (error === null ? resolve() : reject(makeError(error))));
      this.port.postMessage({ t: 'order', id, order });
      this.wakeWorker(true);
    });
  }

  private wakeWorker(force = false): void {
    if (Atomics.exchange(this.ctl, WAKE, 1) === 0 || force) {
      try {
        writeSync(this.wakeWrite, ONE);
      } catch {
        // EAGAIN: the pipe is full of wake-ups already
      }
    }
  }

  private onMessage(m: FromWorker): void {
    if (m.t === 'frames') {
      for (const f of m.frames) {
        if (!this.alive || this.queued >= this.maxQueued) {
          this.own.rxDropped++;
          Atomics.sub(this.ctl, RX_OUT, 1);
        } else this.queue.push(f);
      }
      this.drain();
    } else if (m.t === 'log') {
      if (!this.closing) this.log(m.line);
    } else if (m.t === 'down') {
      this.down(m.reason);
    } else if (m.t === 'done') {
      const answer = this.orders.get(m.id);
      this.orders.delete(m.id);
      answer?.(m.error ?? null);
    } else this.onOther(m);
  }

  /** Hands held frames to the receiver until it asks for a pause. */
  private drain(): void {
    if (!this.receiver) return;
    let delivered = 0;
    while (!this.paused && this.head < this.queue.length) {
      const f = this.queue[this.head++];
      delivered++;
      this.own.rxFrames++;
      this.own.rxBytes += f.length;
      if (!this.receiver.receive(f)) this.paused = true;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (delivered === 0) return;
    const left = Atomics.sub(this.ctl, RX_OUT, delivered) - delivered;
    if (Atomics.load(this.ctl, THROTTLED) === 1 && left <= this.rxLow) this.wakeWorker(true);
    this.wakeups.wake();
  }

  private down(reason: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.queue = [];
    this.head = 0;
    for (const answer of this.orders.values()) answer('the network worker is gone');
    this.orders.clear();
    if (!this.closing) this.log(reason);
    this.wakeups.wake();
  }

  /** Hook for subclasses: runs once the worker is gone (e.g. closes a device). */
  protected released(): void {}

  /** Stops the worker and releases what it held; resolves once it is gone. */
  async close(): Promise<void> {
    if (this.closing) {
      await this.exited;
      return;
    }
    this.closing = true;
    this.receiver = null;
    this.down('');
    this.port.postMessage({ t: 'close' });
    this.wakeWorker(true);
    const t = setTimeout(() => void this.worker.terminate(), 5000);
    await this.exited;
    clearTimeout(t);
    this.port.close();
    closeSync(this.wakeRead);
    closeSync(this.wakeWrite);
    this.released();
  }
}
