// Harts on threads of their own: the VMM thread's side (hartWorker.ts is the worker's, hartLink.ts
// the words they share). Hart 0 and every device stay on the VMM thread, in the board; harts 1
// and up each run on a worker thread over the board's shared RAM. The board calls serve()
// whenever hart 0 was kicked out of its slice by a worker asking the devices something, and
// between slices; interrupt lines the devices drive for a worker's hart become bits in its
// control block, with a kick and a wake-up. Pausing stops every worker at a slice boundary and
// loads its state into the board's hart object for it (the shadow), so that snapshots and
// migration see every hart; resuming sends the shadows' states back.

import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import type { RemoteHarts, VirtBoard } from '../../machine/board/virt.js';
import type { HartIrq } from '../../machine/devices/irq.js';
import type { Hart } from '../../machine/hart/hart.js';
import { MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP } from '../../machine/hart/causes.js';
import type { HostClock } from '../clocks.js';
import { VIRT } from '../../machine/board/memoryMap.js';
import {
  C_IRQ,
  C_MB,
  C_MB_ADDR_HI,
  C_MB_ADDR_LO,
  C_MB_MAPPED,
  C_MB_RESULT,
  C_MB_SIZE,
  C_MB_VALUE,
  C_MB_WRITE,
  C_ORDER,
  C_STATE,
  C_WAKE,
  CONTROL_BYTES,
  F_BUSY_MS,
  F_INSTRET,
  MB_ANSWERED,
  MB_ASKED,
  ORDER_EXIT,
  ORDER_PAUSE,
  ORDER_RUN,
  STATE_FAULT,
  STATE_PAUSED,
  T_OFFSET,
  T_START_MS,
  T_THROTTLE,
  type FromHartWorker,
  type HartWorkerInit,
} from './hartLink.js';

const TWO32 = 4294967296;

const LINES = MIP_MSIP | MIP_MTIP | MIP_MEIP | MIP_SEIP;

interface Link {
  control: Int32Array;
  instret: Float64Array;
  busy: Float64Array;
  /** busy[0] when busyMsSince() last looked. */
  busySeen: number;
  port: MessagePort;
  worker: Worker | null;
  shadow: Hart | null;
}

export class HartThreads implements RemoteHarts {
  private readonly links: Link[] = [];
  readonly msip: Uint8Array;
  /** The doorbell's value when serve() last looked (whenAsked resolves once it moves on). */
  private seen = 0;
  private readonly doorbell = new Int32Array(new SharedArrayBuffer(4));
  private readonly time = new Float64Array(new SharedArrayBuffer(24));
  private board: VirtBoard | null = null;
  paused = false;
  private failure: string | null = null;
  private readonly exited: Promise<unknown>[] = [];

  /**
   * @param harts the board's harts (2 to 8): 1 to harts - 1 get threads
   * @param clock the host clock the board's CLINT counts from (workers read time alike)
   * @param jitThreshold as the board's (Hart)
   */
  constructor(
    harts: number,
    private readonly clock: HostClock,
    private readonly jitThreshold?: number,
  ) {
    this.msip = new Uint8Array(new SharedArrayBuffer(harts));
    for (let i = 0; i < harts; i++) {
      const sab = new SharedArrayBuffer(CONTROL_BYTES);
      const { port1 } = new MessageChannel();
      this.links.push({
        control: new Int32Array(sab, 0, 16),
        instret: new Float64Array(sab, F_INSTRET * 8, 1),
        busy: new Float64Array(sab, F_BUSY_MS * 8, 1),
        busySeen: 0,
        port: port1,
        worker: null,
        shadow: null,
      });
    }
  }

  irq(i: number, shadow: HartIrq): HartIrq {
    const link = this.links[i];
    return {
      setMip: (bit: number, level: boolean): void => {
        shadow.setMip(bit, level);
        if ((bit & LINES) === 0) return;
        if (level) Atomics.or(link.control, C_IRQ, bit);
        else Atomics.and(link.control, C_IRQ, ~bit);
        if (level && link.shadow !== null) {
          link.shadow.kicked = true;
          this.wake(link);
        }
      },
    };
  }

  /** Starts the workers from the board's harts as they are now (its first run). */
  private start(board: VirtBoard): void {
    this.board = board;
    this.publishTime();
    const share = board.ram.share();
    const devices = board.bus.mappings();
    const sync = { ms: performance.now(), hr: process.hrtime.bigint() };
    for (let i = 1; i < this.links.length; i++) {
      const link = this.links[i];
      const shadow = board.harts[i];
      link.shadow = shadow;
      Atomics.store(link.control, C_IRQ, this.linesOf(shadow));
      const { port1, port2 } = new MessageChannel();
      link.port = port1;
      const init: HartWorkerInit = {
        hartId: i,
        area: shadow.area,
        areas: board.harts.map((h) => h.area),
        controls: this.links.map((l) => l.control.buffer as SharedArrayBuffer),
        msip: this.msip.buffer as SharedArrayBuffer,
        clintBase: VIRT.clint.base,
        ramBase: board.ram.base,
        ramSize: board.ram.size,
        share,
        control: link.control.buffer as SharedArrayBuffer,
        doorbell: this.doorbell.buffer as SharedArrayBuffer,
        time: this.time.buffer as SharedArrayBuffer,
        clockSync: sync,
        devices,
        jitThreshold: this.jitThreshold,
        state: shadow.saveState(),
        port: port2,
      };
      const worker = new Worker(new URL('./hartWorker.js', import.meta.url), {
        workerData: init,
        transferList: [port2],
      });
      worker.on('error', (e) => {
        this.failure ??= `hart ${i}: ${e.stack ?? e.message}`;
        this.ring();
      });
      this.exited.push(new Promise((r) => worker.once('exit', r)));
      link.worker = worker;
    }
  }

  /** The lines of a shadow hart as a control block holds them. */
  private linesOf(h: Hart): number {
    return (h.mip & (MIP_MSIP | MIP_MTIP | MIP_MEIP)) | (h.seipLine ? MIP_SEIP : 0);
  }

  private publishTime(): void {
    const b = this.board;
    if (b === null) return;
    this.time[T_START_MS] = this.clock.startMs;
    this.time[T_OFFSET] = b.clint.mtime() - this.clock.now();
  }

  private wake(link: Link): void {
    Atomics.add(link.control, C_WAKE, 1);
    Atomics.notify(link.control, C_WAKE);
  }

  private ring(): void {
    Atomics.add(this.doorbell, 0, 1);
    Atomics.notify(this.doorbell, 0);
  }

  serve(board: VirtBoard): void {
    if (this.board === null) {
      if (this.paused) return;
      this.start(board);
    }
    const bus = this.board!.bus;
    this.seen = Atomics.load(this.doorbell, 0);
    for (let i = 1; i < this.links.length; i++) {
      const c = this.links[i].control;
      if (Atomics.load(c, C_MB) !== MB_ASKED) continue;
      const pa = (c[C_MB_ADDR_HI] >>> 0) * TWO32 + (c[C_MB_ADDR_LO] >>> 0);
      const size = c[C_MB_SIZE];
      if (c[C_MB_WRITE] !== 0) {
        c[C_MB_MAPPED] = bus.writeDevice(pa, size, c[C_MB_VALUE]) ? 1 : 0;
        c[C_MB_RESULT] = 0;
      } else {
        const v = bus.readDevice(pa, size);
        c[C_MB_MAPPED] = v === -1 ? 0 : 1;
        c[C_MB_RESULT] = v;
      }
      this.publishTime(); // a write may have moved mtime
      Atomics.store(c, C_MB, MB_ANSWERED);
      Atomics.notify(c, C_MB);
    }
    for (let i = 1; i < this.links.length; i++) {
      if (Atomics.load(this.links[i].control, C_STATE) !== STATE_FAULT) continue;
      const m = receiveMessageOnPort(this.links[i].port);
      if (m !== undefined && (m.message as FromHartWorker).kind === 'fault') {
        this.failure ??= (m.message as { message: string }).message;
      }
      this.failure ??= `hart ${i} failed`;
    }
  }

  instret(i: number): number {
    return this.board === null
      ? (this.links[i].shadow?.currentInstret() ?? 0)
      : this.links[i].instret[0];
  }

  busyMsSince(): number {
    let ms = 0;
    for (const l of this.links) {
      const b = l.busy[0];
      ms += b - l.busySeen;
      l.busySeen = b;
    }
    return ms;
  }

  /** Why a worker failed, or null. */
  fault(): string | null {
    return this.failure;
  }

  /** Resolves when a worker asks the VMM thread for something (for the idle wait). */
  whenAsked(): Promise<unknown> {
    const seen = this.seen;
    const w = (
      Atomics as unknown as {
        waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown };
      }
    ).waitAsync(this.doorbell, 0, seen);
    return w.async ? (w.value as Promise<unknown>) : Promise.resolve();
  }

  /**
   * Stops every worker at a slice boundary and loads its hart's state into the board's hart
   * object for it; device accesses the workers wait for are served meanwhile.
   */
  pause(): void {
    this.paused = true;
    if (this.board === null) return;
    const running = this.links.slice(1);
    for (const l of running) {
      Atomics.store(l.control, C_ORDER, ORDER_PAUSE);
      l.shadow!.kicked = true;
      this.wake(l);
    }
    for (const l of running) {
      while (
        Atomics.load(l.control, C_STATE) !== STATE_PAUSED &&
        Atomics.load(l.control, C_STATE) !== STATE_FAULT &&
        this.failure === null
      ) {
        this.serve(this.board);
        Atomics.wait(this.doorbell, 0, Atomics.load(this.doorbell, 0), 1);
      }
      const m = receiveMessageOnPort(l.port);
      const msg = m?.message as FromHartWorker | undefined;
      if (msg?.kind === 'state') {
        const shadow = l.shadow!;
        const i = this.links.indexOf(l);
        const lines =
          (Atomics.load(l.control, C_IRQ) & ~MIP_MSIP) |
          (Atomics.load(this.msip, i) ? MIP_MSIP : 0);
        shadow.loadState(shadow.checkState(msg.state));
        shadow.mip = (shadow.mip & ~(MIP_MSIP | MIP_MTIP | MIP_MEIP)) | (lines & ~MIP_SEIP & LINES);
        shadow.seipLine = (lines & MIP_SEIP) !== 0;
      }
    }
  }

  /** Sends each shadow's state back to its worker and lets it run on. */
  resume(): void {
    this.paused = false;
    if (this.board === null) return;
    this.publishTime();
    for (const l of this.links.slice(1)) {
      l.port.postMessage({ state: l.shadow!.saveState() });
      Atomics.store(l.control, C_IRQ, this.linesOf(l.shadow!));
      Atomics.store(l.control, C_ORDER, ORDER_RUN);
      Atomics.notify(l.control, C_ORDER);
    }
  }

  throttle(percent: number): void {
    this.time[T_THROTTLE] = percent;
  }

  /** Ends the workers. */
  async stop(): Promise<void> {
    for (const l of this.links.slice(1)) {
      Atomics.store(l.control, C_ORDER, ORDER_EXIT);
      Atomics.notify(l.control, C_ORDER);
      if (l.shadow !== null) l.shadow.kicked = true;
      this.wake(l);
      // A worker waiting for the mailbox is released by terminate().
      void l.worker?.terminate();
      l.port.close();
    }
    await Promise.all(this.exited);
  }
}
