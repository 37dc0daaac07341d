// `berth stats [NAME...] [--json] [--watch]`: per guest (the named ones, or all that have a VMM)
// its CPU share, memory, guest MIPS and instructions, disk and network counters, from the
// daemon's GET /v1/guests/NAME/state. Prints once by default (for scripts); --watch redraws
// every second until Ctrl-C (with --json: one JSON array per line).

import type { ApiClient } from '../host/apiClient.js';
import { bytes, count, table } from './format.js';

/** The state resource as the daemon answers it (src/host/guestStats.ts). */
export interface GuestStats {
  name: string;
  state: string;
  cpu: { seconds: number; percent: number | null } | null;
  memory: { guestBytes: number; rssBytes: number | null; limitBytes: number | null };
  guest: { instructions: number; mips: number; boots: number } | null;
  disk: Record<string, { bytesRead: number; bytesWritten: number; reads: number; writes: number }>;
  network: Record<
    string,
    {
      counters: {
        bytesReceived: number;
        bytesSent: number;
        packetsReceived: number;
        packetsSent: number;
      } | null;
    }
  >;
}

const ACTIVE = ['starting', 'running', 'paused', 'stopping'];

const guestPath = (n: string): string => `/v1/guests/${encodeURIComponent(n)}`;

/** The figures of the named guests, or of every guest that has a VMM. */
async function collect(api: ApiClient, names: string[]): Promise<GuestStats[]> {
  let wanted = names;
  if (wanted.length === 0) {
    const all = await api.call<{ name: string; state: string }[]>('GET', '/v1/guests');
    wanted = all.filter((g) => ACTIVE.includes(g.state)).map((g) => g.name);
  }
  return Promise.all(wanted.map((n) => api.call<GuestStats>('GET', `${guestPath(n)}/state`)));
}

const pair = (a: string, b: string): string => `${a} / ${b}`;

function render(stats: GuestStats[]): string {
  const rows = [
    [
      'NAME',
      'STATE',
      'CPU%',
      'RSS',
      'MEMORY',
      'MIPS',
      'INSTRUCTIONS',
      'DISK READ/WRITE',
      'DISK OPS R/W',
      'NET RX/TX',
      'PACKETS RX/TX',
    ],
  ];
  for (const s of stats) {
    const disks = Object.values(s.disk);
    const sum = (k: 'bytesRead' | 'bytesWritten' | 'reads' | 'writes'): number =>
      disks.reduce((n, d) => n + d[k], 0);
    const net = Object.values(s.network)[0]?.counters ?? null;
    const running = s.guest !== null;
    rows.push([
      s.name,
      s.state,
      s.cpu?.percent != null ? `${s.cpu.percent.toFixed(1)}%` : '-',
      s.memory.rssBytes !== null ? bytes(s.memory.rssBytes) : '-',
      bytes(s.memory.guestBytes),
      s.guest ? s.guest.mips.toFixed(1) : '-',
      s.guest ? count(s.guest.instructions) : '-',
      running && disks.length > 0 ? pair(bytes(sum('bytesRead')), bytes(sum('bytesWritten'))) : '-',
      running && disks.length > 0 ? pair(String(sum('reads')), String(sum('writes'))) : '-',
      net ? pair(bytes(net.bytesReceived), bytes(net.bytesSent)) : '-',
      net ? pair(String(net.packetsReceived), String(net.packetsSent)) : '-',
    ]);
  }
  return table(rows);
}

export async function statsCommand(
  api: ApiClient,
  names: string[],
  opts: { json: boolean; watch: boolean },
): Promise<number> {
  const out = (s: string): boolean => process.stdout.write(s);
  if (!opts.watch) {
    const stats = await collect(api, names);
    out(opts.json ? JSON.stringify(stats, null, 2) + '\n' : render(stats));
    return 0;
  }
  let stop = false;
  let wake: () => void = () => {};
  const onSignal = (): void => {
    stop = true;
    wake();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const clear = process.stdout.isTTY && !opts.json ? '\x1b[H\x1b[2J' : '';
  try {
    while (!stop) {
      const stats = await collect(api, names);
      if (stop) break;
      out(
        opts.json ? JSON.stringify(stats) + '\n' : `${clear}${render(stats)}${clear ? '' : '\n'}`,
      );
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
