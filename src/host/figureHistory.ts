// The last hour of each guest's figures, for the web console's charts: every interval (5 s) the
// daemon samples the state resource of each guest with a VMM and keeps, per guest, a ring of
// samples: CPU percent, resident memory, MIPS, instructions, and disk and network rates (bytes
// per second since the previous sample). Guests without a VMM get no samples; their ring is
// kept (the chart shows the gap) until it ages out or the guest is deleted.

import type { GuestStats } from './guestStats.js';

export interface FigureSample {
  /** Milliseconds since the epoch. */
  t: number;
  cpuPercent: number | null;
  rssBytes: number | null;
  mips: number | null;
  instructions: number | null;
  diskReadBps: number | null;
  diskWriteBps: number | null;
  netRxBps: number | null;
  netTxBps: number | null;
}

export interface FigureSource {
  list(): { name: string }[];
  stats(name: string): GuestStats;
}

interface Counters {
  t: number;
  diskRead: number;
  diskWrite: number;
  netRx: number;
  netTx: number;
}

export const HOUR_MS = 3600_000;
export const DEFAULT_INTERVAL_MS = 5000;

function counters(s: GuestStats, t: number): Counters {
  const c = { t, diskRead: 0, diskWrite: 0, netRx: 0, netTx: 0 };
  for (const d of Object.values(s.disk)) {
    c.diskRead += d.bytesRead;
    c.diskWrite += d.bytesWritten;
  }
  for (const n of Object.values(s.network)) {
    c.netRx += n.counters?.bytesReceived ?? 0;
    c.netTx += n.counters?.bytesSent ?? 0;
  }
  return c;
}

/** Bytes per second from a to b; null without a previous sample or across a VMM restart. */
function rate(a: Counters | undefined, b: Counters, key: keyof Omit<Counters, 't'>): number | null {
  if (!a || b.t <= a.t || b[key] < a[key]) return null;
  return ((b[key] - a[key]) * 1000) / (b.t - a.t);
}

export class FigureHistory {
  private rings = new Map<string, FigureSample[]>();
  private last = new Map<string, Counters>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private source: FigureSource,
    readonly intervalMs = DEFAULT_INTERVAL_MS,
    readonly keepMs = HOUR_MS,
  ) {}

  start(): this {
    this.timer ??= setInterval(() => this.sample(), this.intervalMs).unref();
    this.sample();
    return this;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes one sample of every guest with a VMM. */
  sample(t = Date.now()): void {
    const names = new Set<string>();
    for (const { name } of this.source.list()) {
      names.add(name);
      let s: GuestStats;
      try {
        s = this.source.stats(name);
      } catch {
        continue; // deleted meanwhile
      }
      if (s.pid === null || s.guest === null) {
        this.last.delete(name);
        continue;
      }
      const c = counters(s, t);
      const prev = this.last.get(name);
      this.last.set(name, c);
      const ring = this.rings.get(name) ?? [];
      ring.push({
        t,
        cpuPercent: s.cpu?.percent ?? null,
        rssBytes: s.memory.rssBytes,
        mips: s.guest.mips,
        instructions: s.guest.instructions,
        diskReadBps: rate(prev, c, 'diskRead'),
        diskWriteBps: rate(prev, c, 'diskWrite'),
        netRxBps: rate(prev, c, 'netRx'),
        netTxBps: rate(prev, c, 'netTx'),
      });
      this.rings.set(name, ring);
    }
    for (const [name, ring] of this.rings) {
      if (!names.has(name)) {
        this.rings.delete(name);
        this.last.delete(name);
        continue;
      }
      const from = ring.findIndex((x) => x.t > t - this.keepMs);
      if (from !== 0) ring.splice(0, from < 0 ? ring.length : from);
    }
  }

  /** The samples of the last hour, oldest first. */
  samples(name: string): FigureSample[] {
    const cut = Date.now() - this.keepMs;
    return (this.rings.get(name) ?? []).filter((x) => x.t > cut);
  }
}
