// Time backends for the machine: mtime ticks (10 MHz) and wall-clock time for
// the RTC, either from the host or, in deterministic mode, from the number of
// instructions the guest has executed.

import { TIMEBASE_HZ } from '../machine/board/memoryMap.js';

export interface TickClock {
  /** mtime, in ticks of TIMEBASE_HZ. */
  now(): number;
  /** Lets idle time pass until `tick` (deterministic clocks jump; host clocks ignore it). */
  skipTo(tick: number): void;
  readonly deterministic: boolean;
}

/** mtime from the host's monotonic clock, starting at 0; it stands still while paused, as QEMU's virtual clock does. */
export class HostClock implements TickClock {
  readonly deterministic = false;
  private start = performance.now();
  private pausedAt: number | null = null;
  /** performance.now() at mtime 0 (moved on by the time spent paused). */
  get startMs(): number {
    return this.start;
  }
  now(): number {
    const t = this.pausedAt ?? performance.now();
    return Math.floor((t - this.start) * (TIMEBASE_HZ / 1000));
  }
  skipTo(): void {}
  pause(): void {
    this.pausedAt ??= performance.now();
  }
  resume(): void {
    if (this.pausedAt === null) return;
    this.start += performance.now() - this.pausedAt;
    this.pausedAt = null;
  }
}

/** Instructions per mtime tick in deterministic mode (as if the guest ran at 100 MIPS). */
export const INSTRUCTIONS_PER_TICK = 10;

/** mtime derived from retired instructions, plus idle time skipped at WFI. */
export class InstructionClock implements TickClock {
  readonly deterministic = true;
  private skipped = 0;
  constructor(private readonly instructions: () => number) {}
  /** Ticks of idle time skipped so far (a snapshot keeps them, so a restored run goes on alike). */
  get skippedTicks(): number {
    return this.skipped;
  }
  set skippedTicks(n: number) {
    this.skipped = n;
  }
  now(): number {
    return Math.floor(this.instructions() / INSTRUCTIONS_PER_TICK) + this.skipped;
  }
  skipTo(tick: number): void {
    const n = this.now();
    if (tick > n && Number.isFinite(tick)) this.skipped += tick - n;
  }
}

/** Fixed start of the wall clock in deterministic mode: 2026-01-01T00:00:00Z. */
export const DETERMINISTIC_EPOCH_MS = Date.UTC(2026, 0, 1);

/** Wall-clock nanoseconds since the Unix epoch, following `ticks`. */
export function wallClockNs(ticks: TickClock): () => bigint {
  const startMs = ticks.deterministic ? DETERMINISTIC_EPOCH_MS : Date.now();
  const startTick = ticks.now();
  return () =>
    BigInt(startMs) * 1_000_000n + BigInt(ticks.now() - startTick) * BigInt(1e9 / TIMEBASE_HZ);
}
