// `berth ls` as a table: per guest its state and why, uptime, memory, CPU share, RSS, VMM PID and
// addresses (the DHCP lease it took on user networking, then its published ports).

import { bytes, duration, table } from './format.js';

/** A guest as GET /v1/guests answers it (what the CLI reads of it). */
export interface GuestView {
  name: string;
  state: string;
  reason: string;
  pid: number | null;
  spec: { memory: number; restart: string; stopTimeout: number };
  status: { uptimeSeconds: number; rssBytes: number } | null;
  cpuPercent: number | null;
  net: { address: string | null; ports: string[] } | null;
}

/** The guest's DHCP lease and published ports, or '-'. */
function addresses(g: GuestView): string {
  const all = [...(g.net?.address ? [g.net.address] : []), ...(g.net?.ports ?? [])];
  return all.length > 0 ? all.join(', ') : '-';
}

export function lsTable(guests: GuestView[]): string {
  const rows = [['NAME', 'STATE', 'REASON', 'UPTIME', 'MEMORY', 'CPU%', 'RSS', 'PID', 'ADDRESSES']];
  for (const g of guests) {
    const s = g.status;
    rows.push([
      g.name,
      g.state,
      g.reason,
      s ? duration(s.uptimeSeconds) : '-',
      bytes(g.spec.memory),
      g.cpuPercent !== null ? g.cpuPercent.toFixed(1) : '-',
      s ? bytes(s.rssBytes) : '-',
      g.pid === null ? '-' : String(g.pid),
      addresses(g),
    ]);
  }
  return table(rows);
}
