// Live figures of a guest from its state resource (GET /v1/guests/NAME/state): CPU, resident
// memory, MIPS, instructions, and disk and network rates from the counters' change between two
// readings.

import type { Json } from './api.js';

export interface Figures {
  state: string;
  cpuPercent: number | null;
  rssBytes: number | null;
  mips: number | null;
  instructions: number | null;
  diskReadBps: number | null;
  diskWriteBps: number | null;
  netRxBps: number | null;
  netTxBps: number | null;
}

interface Totals {
  t: number;
  dr: number;
  dw: number;
  rx: number;
  tx: number;
}

function totals(s: Json, t: number): Totals {
  const c = { t, dr: 0, dw: 0, rx: 0, tx: 0 };
  for (const d of Object.values(s.disk ?? {}) as Json[]) {
    c.dr += d.bytesRead;
    c.dw += d.bytesWritten;
  }
  for (const n of Object.values(s.network ?? {}) as Json[]) {
    c.rx += n.counters?.bytesReceived ?? 0;
    c.tx += n.counters?.bytesSent ?? 0;
  }
  return c;
}

/** Turns successive state readings of one guest into figures with rates. */
export class FigureReader {
  private last: Totals | null = null;

  read(s: Json): Figures {
    const c = totals(s, Date.now());
    const p = s.pid !== null ? this.last : null;
    this.last = s.pid !== null ? c : null;
    const r = (k: keyof Omit<Totals, 't'>): number | null =>
      p && c.t > p.t && c[k] >= p[k] ? ((c[k] - p[k]) * 1000) / (c.t - p.t) : null;
    return {
      state: s.state,
      cpuPercent: s.cpu?.percent ?? null,
      rssBytes: s.memory?.rssBytes ?? null,
      mips: s.guest?.mips ?? null,
      instructions: s.guest?.instructions ?? null,
      diskReadBps: r('dr'),
      diskWriteBps: r('dw'),
      netRxBps: r('rx'),
      netTxBps: r('tx'),
    };
  }
}

/**
 * Calls `on` with each new event from the events stream, reopening it when it drops; `query`
 * is asked again at each opening (a `since` that moves on).
 */
export function watchEvents(query: () => string, on: (e: Json) => void): () => void {
  let ws: WebSocket | null = null;
  let stopped = false;
  let timer: number | undefined;
  const open = (): void => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/v1/events${query()}`);
    ws.onmessage = (m) => on(JSON.parse(String(m.data)));
    ws.onclose = () => {
      if (!stopped) timer = window.setTimeout(open, 2000);
    };
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    ws?.close();
  };
}
