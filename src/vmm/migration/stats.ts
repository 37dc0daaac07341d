// What a VMM reports about a migration in its status (the fields of QEMU's query-migrate), and
// the throttle that slows a guest dirtying memory faster than the link copies it (QEMU's
// auto-converge: the guest's share of each slice cut step by step; the VMM sleeps the rest).

export type MigrationState =
  | 'setup'
  | 'active'
  | 'device' // paused, the last pages and the device state on their way
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'unknown'; // the last acknowledgement was lost: the source stays paused

export interface MigrationStats {
  /** The source side ('out') or the destination ('in'). */
  direction: 'out' | 'in';
  peer: string;
  /** The destination: the address it listens on for the stream (HOST:PORT, the port bound). */
  listen?: string;
  /** The stream is (or, at a destination, must be) TLS. */
  tls?: boolean;
  /** The destination: connections turned away (TLS handshake, no hello in time, wrong token). */
  refused?: number;
  status: MigrationState;
  /** Why it failed, was cancelled, or ended unknown. */
  error?: string;
  /** RAM rounds so far (1: every page holding data; then the pages dirtied since). */
  rounds: number;
  /** Bytes put on the stream (all messages). */
  bytesSent: number;
  /** RAM pages sent, and those of them that were zero. */
  pagesSent: number;
  /** Bytes of dirty pages and disk chunks waiting at the last count. */
  bytesRemaining: number;
  /** Disk mirroring: bytes of disk chunks sent (received, at the destination; zero chunks count). */
  diskBytesSent: number;
  /** Disk mirroring: bytes of disk chunks written since they were sent, at the last count. */
  diskBytesRemaining: number;
  /** Bytes dirtied per second by the guest during the last round. */
  dirtyBytesPerSecond: number;
  /** Measured during the last round (bytes per second). */
  throughputBytesPerSecond: number;
  /** The budget asked for, and what the last count predicted. */
  downtimeLimitMs: number;
  expectedDowntimeMs: number;
  /** From the pause at the source to the destination's acknowledgement that it runs. */
  downtimeMs: number | null;
  totalMs: number;
  /** Percent of each slice the guest is kept from running (0 = not throttled). */
  throttlePercent: number;
  /** The highest throttle it reached. */
  maxThrottlePercent: number;
}

/** QEMU's defaults: cpu-throttle-initial 20, cpu-throttle-increment 10, at most 99. */
export const THROTTLE_INITIAL = 20;
export const THROTTLE_INCREMENT = 10;
export const THROTTLE_MAX = 99;

/** Sleeps owed by a throttled guest: after a slice of `ms`, it waits ms·p/(100−p). */
export class Throttle {
  percent = 0;
  private owed = 0;

  /** Milliseconds to sleep now after a slice that took `sliceMs` (0: run on). */
  after(sliceMs: number): number {
    if (this.percent <= 0) {
      this.owed = 0;
      return 0;
    }
    this.owed += (sliceMs * this.percent) / (100 - this.percent);
    if (this.owed < 2) return 0;
    const ms = this.owed;
    return ms;
  }

  /** The sleep of `ms` asked for took `slept` milliseconds. */
  paid(slept: number): void {
    this.owed = Math.max(0, this.owed - slept);
  }

  set(percent: number): void {
    this.percent = percent;
    if (percent <= 0) this.owed = 0;
  }
}
