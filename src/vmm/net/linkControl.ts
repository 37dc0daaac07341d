// What the VMM's main thread and its network worker share: a small
// SharedArrayBuffer of counters and flags, and the messages they exchange.
// The worker blocks in poll(); the main thread wakes it by writing a byte to
// a pipe, but only when the worker has not been woken already (the WAKE flag),
// so a burst of guest frames costs one write.

/** Slots of the shared Int32Array. */
export const WAKE = 0; // 1: a wake-up byte is in the pipe and not yet drained
export const RX_OUT = 1; // frames the worker posted that the main thread has not delivered or dropped
export const TX_OUT = 2; // frames the main thread posted that the worker has not taken yet
export const THROTTLED = 3; // 1: the worker stopped reading because RX_OUT is high
export const RX_DROPPED = 4; // frames for the guest the worker dropped (RX_OUT at its hard bound)
export const TX_DROPPED = 5; // guest frames the worker could not pass on (write failed)
export const SLOTS = 8;

/** Messages from the worker to the main thread. */
export type FromWorker =
  | { t: 'ready'; info?: Record<string, unknown> }
  | { t: 'error'; message: string }
  | { t: 'frames'; frames: Uint8Array[] }
  | { t: 'log'; line: string }
  | { t: 'lease'; address: string }
  | { t: 'down'; reason: string }
  | { t: 'done'; id: number; error?: string }
  | { t: 'closed' };

/**
 * Messages from the main thread to the worker: a guest frame, an order for the driver (answered
 * by a 'done' of the same id), or the order to stop.
 */
export type ToWorker = Uint8Array | { t: 'order'; id: number; order: unknown } | { t: 'close' };

export interface WorkerSetup {
  kind: 'slirp' | 'tap';
  control: SharedArrayBuffer;
  /** The read end of the wake-up pipe. */
  wakeFd: number;
  /** Frames the worker keeps posting before it stops reading its sockets or device. */
  rxHigh: number;
  /** Frames in flight to the main thread above which the worker drops them. */
  rxMax: number;
  /** Backend-specific settings. */
  options: unknown;
}
