// The network worker's loop, shared by the user-mode (libslirp) and TAP
// backends: it blocks in poll() on the driver's descriptors and the wake-up
// pipe, takes the guest's frames from its message port without returning to
// the event loop, hands them to the driver, and posts the frames the driver
// emits for the guest to the main thread in one message per round.
//
// Backpressure: when the main thread holds rxHigh frames not yet delivered,
// the driver is asked to stop reading (its sockets or device keep the data,
// and TCP slows the sender); the main thread wakes the worker once it has
// room again. Frames emitted anyway beyond rxMax are dropped and counted.

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { EINTR, POLLIN, PollSet, libc, type Libc } from './libc.js';
import {
  RX_DROPPED,
  TX_DROPPED,
  RX_OUT,
  THROTTLED,
  TX_OUT,
  WAKE,
  type FromWorker,
  type ToWorker,
} from './linkControl.js';

export interface Driver {
  /**
   * Adds the driver's descriptors to `set` (`reading`: false while the main
   * thread is full, so nothing new should be read); returns the poll timeout
   * in ms (-1: none).
   */
  fill(set: PollSet, reading: boolean): number;
  /** After poll() returned (`failed`: it returned an error). */
  dispatch(set: PollSet, failed: boolean): void;
  /** A frame from the guest. */
  input(frame: Uint8Array): void;
  /** Releases what the driver holds; the loop ends after it. */
  close(): void;
  /** Carries out an order of the main thread (e.g. port forwards on or off); throws if it cannot. */
  order?(o: unknown): void;
}

export interface LoopContext {
  /** Queues a frame for the guest (copied by the caller: the loop keeps it). */
  emit(frame: Uint8Array): void;
  /** Posts a message to the main thread at once. */
  post(m: FromWorker): void;
  /** Counts a guest frame the driver could not pass on. */
  dropTx(): void;
  readonly c: Libc;
}

export class PollLoop implements LoopContext {
  readonly c = libc();
  private readonly ctl: Int32Array;
  private batch: Uint8Array[] = [];
  private readonly set = new PollSet();
  private readonly scratch = new Uint8Array(256);
  private stopped = false;
  private pollFailed = false;

  constructor(
    private readonly port: MessagePort,
    private readonly send: (m: FromWorker, transfer?: ArrayBuffer[]) => void,
    control: SharedArrayBuffer,
    private readonly wakeFd: number,
    private readonly rxHigh: number,
    private readonly rxMax: number,
  ) {
    this.ctl = new Int32Array(control);
  }

  emit(frame: Uint8Array): void {
    if (Atomics.load(this.ctl, RX_OUT) >= this.rxMax) {
      Atomics.add(this.ctl, RX_DROPPED, 1);
      return;
    }
    Atomics.add(this.ctl, RX_OUT, 1);
    this.batch.push(frame);
  }

  dropTx(): void {
    Atomics.add(this.ctl, TX_DROPPED, 1);
  }

  post(m: FromWorker): void {
    this.flush();
    this.send(m);
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const frames = this.batch;
    this.batch = [];
    this.send(
      { t: 'frames', frames },
      frames.map((f) => f.buffer as ArrayBuffer),
    );
  }

  /** Takes the wake-up bytes, then the guest's frames and orders. */
  private takeMessages(driver: Driver): void {
    while (this.c.read(this.wakeFd, this.scratch, this.scratch.length) > 0);
    Atomics.store(this.ctl, WAKE, 0);
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (!m) break;
      const msg = m.message as ToWorker;
      if (msg instanceof Uint8Array) {
        Atomics.sub(this.ctl, TX_OUT, 1);
        if (!this.stopped) driver.input(msg);
      } else if (msg.t === 'order') {
        let error: string | undefined;
        try {
          if (!driver.order) throw new Error('this network backend takes no orders');
          driver.order(msg.order);
        } catch (e) {
          error = e instanceof Error ? e.message : String(e);
        }
        this.post({ t: 'done', id: msg.id, ...(error !== undefined ? { error } : {}) });
      } else if (msg.t === 'close') {
        this.stopped = true;
      }
    }
  }

  /** Whether the driver may read: the main thread has room, or got it meanwhile. */
  private reading(): boolean {
    if (Atomics.load(this.ctl, RX_OUT) < this.rxHigh) {
      Atomics.store(this.ctl, THROTTLED, 0);
      return true;
    }
    Atomics.store(this.ctl, THROTTLED, 1);
    // The main thread may have drained between the two loads: it wakes us only when it sees the flag.
    if (Atomics.load(this.ctl, RX_OUT) < this.rxHigh) {
      Atomics.store(this.ctl, THROTTLED, 0);
      return true;
    }
    return false;
  }

  /** Runs until the main thread says close; then closes the driver. */
  run(driver: Driver): void {
    for (;;) {
      this.takeMessages(driver);
      this.flush();
      if (this.stopped) break;
      this.set.reset();
      this.set.add(this.wakeFd, POLLIN);
      const timeout = driver.fill(this.set, this.reading());
      const n = this.set.wait(this.c, timeout);
      const failed = n < 0 && this.c.errno() !== EINTR;
      driver.dispatch(this.set, failed);
      if (failed) {
        // Should not happen (a descriptor closed under us): report it once, never spin.
        if (!this.pollFailed)
          this.post({ t: 'log', line: `poll() failed (errno ${this.c.errno()})` });
        this.pollFailed = true;
        this.c.poll(this.scratch, 0, 100);
      }
      this.flush();
    }
    driver.close();
    this.flush();
    this.send({ t: 'closed' });
  }
}
