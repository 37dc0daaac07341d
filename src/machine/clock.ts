// Time as the machine layer sees it. The VMM hands these backends in: a host
// clock, or in deterministic mode one derived from the instruction count.

/** The platform timer: mtime, in ticks of TIMEBASE_HZ (see board/memoryMap.ts). */
export interface Clock {
  /** Current mtime in ticks; never decreases. */
  now(): number;
  /**
   * True when mtime follows the instructions run (deterministic mode): interrupts must then come
   * in at the very instruction, with or without translation (Hart.preciseInterrupts). Absent:
   * taken as true.
   */
  readonly deterministic?: boolean;
}

/** Wall-clock time for the RTC: nanoseconds since the Unix epoch. */
export type WallClockNs = () => bigint;
