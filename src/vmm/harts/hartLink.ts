// The words the VMM thread and a hart's worker thread (hartWorker.ts) share, one control block
// per worker: its orders, its state, its interrupt lines, and a mailbox through which the
// worker's hart reaches the devices, which live on the VMM thread. Everything else they share
// is guest RAM (a shared WebAssembly.Memory, with the hart's area in front of it) and the RAM's
// tables (Ram.share()).

import type { MessagePort } from 'node:worker_threads';
import type { RamShare } from '../../machine/ram.js';
import type { HartState } from '../../machine/hart/hartState.js';

/** Int32 indexes of a control block. */
export const C_ORDER = 0;
export const C_STATE = 1;
/** The hart's interrupt inputs as MIP bits (MSIP, MTIP, MEIP; SEIP for the PLIC's S line). */
export const C_IRQ = 2;
/** Bumped (and notified) whenever the worker should look at its orders or lines again. */
export const C_WAKE = 3;
/** Mailbox: MB_FREE, MB_ASKED (the worker waits), MB_ANSWERED. */
export const C_MB = 4;
export const C_MB_WRITE = 5;
export const C_MB_ADDR_LO = 6;
export const C_MB_ADDR_HI = 7;
export const C_MB_SIZE = 8;
export const C_MB_VALUE = 9;
/** The answer: the value read, and 1 when a device answered at the address (0: none). */
export const C_MB_RESULT = 10;
export const C_MB_MAPPED = 11;
/**
 * Bytes of a control block: 16 words, then as Float64s the hart's retired instructions and the
 * milliseconds it has spent running (not in WFI).
 */
export const CONTROL_BYTES = 64 + 16;
export const F_INSTRET = 8;
export const F_BUSY_MS = 9;

export const ORDER_RUN = 0;
export const ORDER_PAUSE = 1;
export const ORDER_EXIT = 2;

export const STATE_STARTING = 0;
export const STATE_RUNNING = 1;
export const STATE_PAUSED = 2;
export const STATE_FAULT = 3;

export const MB_FREE = 0;
export const MB_ASKED = 1;
export const MB_ANSWERED = 2;

/** Float64 indexes of the shared time words: mtime is (now - start) in ticks plus offset. */
export const T_START_MS = 0;
export const T_OFFSET = 1;
/** The percentage of time the workers' harts sit out (live migration's auto-converge). */
export const T_THROTTLE = 2;

/** What a worker is started with (its workerData). */
export interface HartWorkerInit {
  hartId: number;
  /** The byte offset of the hart's area in the RAM buffer (the board hart's). */
  area: number;
  /** The byte offset of every hart's area (a worker kicks hart 0 when it asks the devices, and
   * any hart it sends an IPI). */
  areas: number[];
  /** Every hart's control block (index 0 unused): an IPI wakes its target. */
  controls: SharedArrayBuffer[];
  /** The CLINT's msip bits, a byte a hart: a worker reads and writes them itself. */
  msip: SharedArrayBuffer;
  /** The CLINT's base address (its msip words are served here, the rest by the VMM thread). */
  clintBase: number;
  ramBase: number;
  ramSize: number;
  share: RamShare;
  control: SharedArrayBuffer;
  /** One Int32: bumped and notified when any worker asks the VMM thread for something. */
  doorbell: SharedArrayBuffer;
  time: SharedArrayBuffer;
  /** The VMM thread's performance.now() at process.hrtime() `hr` (nanoseconds), to agree on time. */
  clockSync: { ms: number; hr: bigint };
  devices: { name: string; base: number; size: number }[];
  jitThreshold?: number;
  state: HartState;
  /** The worker's end of the channel for FromHartWorker messages and states sent to it. */
  port: MessagePort;
}

/** Messages from a worker (on its port): its state when paused, or why it failed. */
export type FromHartWorker =
  { kind: 'state'; state: HartState } | { kind: 'fault'; message: string };
