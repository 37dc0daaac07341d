// A worker thread that runs one hart (1 and up) of a board whose harts run in parallel
// (hartThreads.ts has the VMM thread's side, hartLink.ts the words they share). The hart runs
// both engines over the shared guest RAM with this thread's own decoded-instruction and block
// caches; its device accesses go to the VMM thread through the mailbox and wait for the
// answer; it reads time itself; in WFI it sleeps in Atomics.wait until a line is raised, an
// order comes, or its own timer (Sstc) is due.

import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Bus, type MmioDevice } from '../../machine/bus.js';
import { TIMEBASE_HZ } from '../../machine/board/memoryMap.js';
import { AREA_KICK } from '../../machine/hart/areaLayout.js';
import { MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP } from '../../machine/hart/causes.js';
import { Hart, StopReason } from '../../machine/hart/hart.js';
import type { HartState } from '../../machine/hart/hartState.js';
import { Ram } from '../../machine/ram.js';
import { warmUpOnce } from '../../machine/hart/warmUp.js';
import { IdleTrim } from '../idleTrim.js';
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
  F_BUSY_MS,
  F_INSTRET,
  MB_ASKED,
  MB_FREE,
  ORDER_EXIT,
  ORDER_PAUSE,
  STATE_FAULT,
  STATE_PAUSED,
  STATE_RUNNING,
  T_OFFSET,
  T_START_MS,
  T_THROTTLE,
  type FromHartWorker,
  type HartWorkerInit,
} from './hartLink.js';

/** Instructions a slice: the hart looks at its lines and orders between slices (and when kicked). */
const SLICE = 100_000;
const TWO32 = 4294967296;
/** The lines the VMM thread drives (the others are the hart's own mip bits). */
const LINES = MIP_MSIP | MIP_MTIP | MIP_MEIP;

const init = workerData as HartWorkerInit;
const trim = new IdleTrim();
const control = new Int32Array(init.control);
const instret = new Float64Array(init.control, F_INSTRET * 8, 1);
const busyMs = new Float64Array(init.control, F_BUSY_MS * 8, 1);
const doorbell = new Int32Array(init.doorbell);
const time = new Float64Array(init.time);
const ram = new Ram(init.ramBase, init.ramSize, { share: init.share, thread: init.hartId });
const kicks = init.areas.map((a) => new Int32Array(ram.buffer, a + AREA_KICK, 1));
ram.peerHartAreas = init.areas.filter((a) => a !== init.area);
const controls = init.controls.map((c) => new Int32Array(c, 0, 16));
const msip = new Uint8Array(init.msip);

/** This thread's performance.now() on the VMM thread's scale. */
const hrNow = process.hrtime.bigint();
const msHere = performance.now();
const toMain = init.clockSync.ms - (msHere + Number(init.clockSync.hr - hrNow) / 1e6);

function mtime(): number {
  return (
    Math.floor((performance.now() + toMain - time[T_START_MS]) * (TIMEBASE_HZ / 1000)) +
    time[T_OFFSET]
  );
}

/** Asks the VMM thread to read or write a device, and waits for the answer. */
function ask(write: boolean, pa: number, size: number, value: number): [number, boolean] {
  control[C_MB_WRITE] = write ? 1 : 0;
  control[C_MB_ADDR_LO] = (pa % TWO32) | 0;
  control[C_MB_ADDR_HI] = Math.floor(pa / TWO32);
  control[C_MB_SIZE] = size;
  control[C_MB_VALUE] = value;
  Atomics.store(control, C_MB, MB_ASKED);
  Atomics.store(kicks[0], 0, 1);
  ring();
  while (Atomics.load(control, C_MB) === MB_ASKED) Atomics.wait(control, C_MB, MB_ASKED, 1000);
  const answer: [number, boolean] = [control[C_MB_RESULT], control[C_MB_MAPPED] !== 0];
  Atomics.store(control, C_MB, MB_FREE);
  return answer;
}

/** A device on the VMM thread, reached through the mailbox. */
function remoteDevice(base: number): MmioDevice {
  return {
    read: (offset, size) => ask(false, base + offset, size, 0)[0] >>> 0,
    write: (offset, size, value) => void ask(true, base + offset, size, value),
  };
}

function ring(): void {
  Atomics.add(doorbell, 0, 1);
  Atomics.notify(doorbell, 0);
}

/**
 * The CLINT as this thread sees it: the msip words (IPIs) are read and written here, in the
 * shared bytes, and the target told at once; mtimecmp and mtime go to the VMM thread.
 */
function clintDevice(base: number): MmioDevice {
  const rest = remoteDevice(base);
  const harts = msip.length;
  return {
    read(offset, size) {
      if (offset >= 0x4000) return rest.read(offset, size);
      const h = offset >>> 2;
      const word = h < harts ? Atomics.load(msip, h) : 0;
      return size >= 4 ? word : (word >>> ((offset & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
    },
    write(offset, size, value) {
      if (offset >= 0x4000) return rest.write(offset, size, value);
      const h = offset >>> 2;
      // Only bit 0 of each word is there: a write to the word's other bytes changes nothing.
      if (h >= harts || (offset & 3) !== 0) return;
      const bit = value & 1;
      Atomics.store(msip, h, bit);
      if (h === init.hartId) {
        hart.mip = bit !== 0 ? hart.mip | MIP_MSIP : hart.mip & ~MIP_MSIP;
        return;
      }
      Atomics.store(kicks[h], 0, 1);
      if (h === 0) ring();
      else {
        Atomics.add(controls[h], C_WAKE, 1);
        Atomics.notify(controls[h], C_WAKE);
      }
    },
  };
}

const bus = new Bus(ram);
for (const d of init.devices) {
  const device = d.base === init.clintBase ? clintDevice(d.base) : remoteDevice(d.base);
  bus.map(d.name, d.base, d.size, device);
}
warmUpOnce(init.jitThreshold, true);
const hart = new Hart(bus, {
  hartId: init.hartId,
  area: init.area,
  jitThreshold: init.jitThreshold,
  readTime: mtime,
  // Harts on threads of their own run on a host clock only (vmmMachine.ts).
  preciseInterrupts: false,
});
load(init.state);

function load(s: HartState): void {
  hart.loadState(hart.checkState(s));
  hart.mmu.flush();
}

function post(m: FromHartWorker): void {
  init.port.postMessage(m);
  ring();
}

/** Takes the lines the VMM thread drives into the hart. */
function takeLines(): void {
  const lines = (Atomics.load(control, C_IRQ) & ~MIP_MSIP) | (msip[init.hartId] ? MIP_MSIP : 0);
  hart.mip = (hart.mip & ~LINES) | (lines & LINES);
  hart.seipLine = (lines & MIP_SEIP) !== 0;
}

/** Milliseconds until the hart's own timer (Sstc) is due, or Infinity. */
function untilTimer(): number {
  if ((hart.menvcfgHi & (1 << 31)) === 0 || (hart.mie & (1 << 5)) === 0) return Infinity;
  const cmp = (hart.stimecmpHi >>> 0) * TWO32 + (hart.stimecmpLo >>> 0);
  return Math.max(0, ((cmp - mtime()) * 1000) / TIMEBASE_HZ);
}

/** Stays paused (its state handed over) until the VMM thread says otherwise. */
function pause(): void {
  post({ kind: 'state', state: hart.saveState() });
  Atomics.store(control, C_STATE, STATE_PAUSED);
  Atomics.notify(control, C_STATE);
  while (Atomics.load(control, C_ORDER) === ORDER_PAUSE) {
    Atomics.wait(control, C_ORDER, ORDER_PAUSE, 1000);
  }
  // The state the VMM thread sends back (the same, or another after a restore).
  const m = receiveMessageOnPort(init.port);
  if (m !== undefined) load((m.message as { state: HartState }).state);
  Atomics.store(control, C_STATE, STATE_RUNNING);
}

async function main(): Promise<void> {
  Atomics.store(control, C_STATE, STATE_RUNNING);
  let lastYield = performance.now();
  for (;;) {
    const order = Atomics.load(control, C_ORDER);
    if (order === ORDER_EXIT) return;
    if (order === ORDER_PAUSE) {
      pause();
      continue;
    }
    const seen = Atomics.load(control, C_WAKE);
    hart.kicked = false;
    takeLines();
    const sliceStart = performance.now();
    const r = hart.run(SLICE);
    const throttle = time[T_THROTTLE];
    if (throttle > 0) {
      // Sit out throttle% of the time, as the VMM thread's own hart does (Throttle).
      const ms = ((performance.now() - sliceStart) * throttle) / (100 - throttle);
      Atomics.wait(control, C_ORDER, Atomics.load(control, C_ORDER), ms);
    }
    instret[0] = hart.currentInstret();
    if (r === StopReason.Fault) {
      post({ kind: 'fault', message: `hart ${init.hartId}: ${hart.lastError}` });
      Atomics.store(control, C_STATE, STATE_FAULT);
      while (Atomics.load(control, C_ORDER) !== ORDER_EXIT) Atomics.wait(control, C_ORDER, 0, 1000);
      return;
    }
    const ran = performance.now() - sliceStart;
    trim.ran(ran);
    await trim.afterSlice(ram);
    busyMs[0] += ran;
    if (r === StopReason.Wfi) {
      await trim.idle(ram); // this thread's code caches go while its hart idles, as hart 0's do
      const ms = untilTimer();
      if (ms > 0) Atomics.wait(control, C_WAKE, seen, Number.isFinite(ms) ? ms : 1000);
    }
    // Give this thread's event loop a turn now and then (blocks no longer need it: they are
    // compiled when a slice ends; promises started elsewhere, as the trim's, still do).
    if (performance.now() - lastYield >= 5) {
      await new Promise((r) => setImmediate(r));
      lastYield = performance.now();
    }
  }
}

main().catch((e: unknown) => {
  post({ kind: 'fault', message: `hart ${init.hartId}: ${(e as Error).stack ?? String(e)}` });
  Atomics.store(control, C_STATE, STATE_FAULT);
});
