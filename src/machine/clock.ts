// Time as the machine layer sees it. The VMM hands these backends in: a host
// clock, or in deterministic mode one derived from the instruction count.

/** The platform timer: mtime, in ticks of TIMEBASE_HZ (see board/memoryMap.ts). */
export interface Clock {
  /** Current mtime in ticks; never decreases. */
  now(): number;
}

/** Wall-clock time for the RTC: nanoseconds since the Unix epoch. */
export type WallClockNs = () => bigint;
