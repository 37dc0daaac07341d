// A guest's figures as the API reports them: its addresses (port forwards from the spec, the
// DHCP lease its VMM saw), the CPU share of its VMM over the daemon's last poll interval, and
// the state resource (GET /v1/guests/NAME/state) in Incus's shape: cpu, memory, disk and
// network sections, each network card and disk keyed by its name in the guest (eth0, vda...).

import type { VmmStatus } from '../vmm/status.js';
import type { PortForward } from '../vmm/net/portForward.js';
import type { GuestSpec } from './guestSpec.js';
import type { GuestState } from './states.js';

/** Where a guest can be reached (null: it has no network). */
export interface GuestNet {
  kind: string;
  /** The IPv4 address the guest took by DHCP, while its VMM runs (user networking). */
  address: string | null;
  /** Published ports as `HOSTADDR:HOSTPORT->GUESTPORT/PROTO`. */
  ports: string[];
}

/** A port forward of the spec (given as "8080:80" or "127.0.0.1/8022:22/udp") as Docker prints it. */
export function portLabel(f: PortForward): string {
  return `${f.hostAddress ?? '0.0.0.0'}:${f.hostPort}->${f.guestPort}/${f.proto}`;
}

export function guestNet(spec: GuestSpec, status: VmmStatus | null): GuestNet | null {
  if (spec.network.kind === 'none') return null;
  return {
    kind: spec.network.kind,
    address: status?.net?.address ?? null,
    ports: spec.network.kind === 'user' ? spec.network.forwards.map(portLabel) : [],
  };
}

/** The VMM's CPU use between two of its statuses, in percent of one host CPU (null: no interval). */
export function cpuPercent(prev: VmmStatus | null, cur: VmmStatus): number | null {
  if (!prev || prev.pid !== cur.pid) return null;
  const dt = cur.uptimeSeconds - prev.uptimeSeconds;
  if (dt < 0.05) return null;
  return Math.max(0, ((cur.cpuSeconds - prev.cpuSeconds) / dt) * 100);
}

/** Counters of one virtio disk, as the state resource reports them. */
export interface DiskStats {
  path: string;
  readOnly: boolean;
  bytesRead: number;
  bytesWritten: number;
  reads: number;
  writes: number;
  flushes: number;
  errors: number;
}

/** Counters of the guest's network card, seen from the guest (received: delivered to it). */
export interface NetCounters {
  bytesReceived: number;
  bytesSent: number;
  packetsReceived: number;
  packetsSent: number;
  packetsDroppedInbound: number;
  packetsDroppedOutbound: number;
}

/** One network card: its addresses and its counters (null while there is no VMM). */
export interface NetStats extends GuestNet {
  hwaddr: string | null;
  counters: NetCounters | null;
}

export interface GuestStats {
  name: string;
  state: GuestState;
  reason: string;
  pid: number | null;
  /** Seconds since the VMM started (null: no VMM). */
  uptimeSeconds: number | null;
  /** When the daemon last heard the VMM's status (every 500 ms while it runs). */
  sampledAt: string | null;
  /** CPU time of the VMM process; percent of one host CPU over the daemon's last poll interval. */
  cpu: { seconds: number; percent: number | null } | null;
  /** Guest RAM as specified; resident memory of the VMM; the cgroup's limit (null: none). */
  memory: { guestBytes: number; rssBytes: number | null; limitBytes: number | null };
  /** The guest's own progress: instructions retired since the VMM started, MIPS of late, boots. */
  guest: { instructions: number; mips: number; boots: number } | null;
  disk: Record<string, DiskStats>;
  network: Record<string, NetStats>;
}

/** What a view of a guest (supervisorBase.ts) brings to its state resource. */
export interface StatsSource {
  name: string;
  state: GuestState;
  reason: string;
  pid: number | null;
  spec: GuestSpec;
  status: VmmStatus | null;
  cpuPercent: number | null;
  net: GuestNet | null;
  memoryLimit: number | null;
  statusAt: number | null;
}

/** Disk names in the guest: vda, vdb... in the order of the spec (Linux probes them so). */
const diskName = (i: number): string => `vd${String.fromCharCode(97 + i)}`;

export function guestStats(g: StatsSource): GuestStats {
  const s = g.status;
  const disk: GuestStats['disk'] = {};
  (s?.disks ?? []).forEach((d, i) => {
    disk[diskName(i)] = {
      path: d.path,
      readOnly: d.readOnly,
      bytesRead: d.bytesRead ?? 0,
      bytesWritten: d.bytesWritten ?? 0,
      reads: d.readRequests ?? 0,
      writes: d.writeRequests ?? 0,
      flushes: d.flushes ?? 0,
      errors: d.errors ?? 0,
    };
  });
  const network: GuestStats['network'] = {};
  if (g.net) {
    const card = s?.net?.card ?? null;
    network.eth0 = {
      ...g.net,
      hwaddr: s?.net?.mac ?? null,
      counters: card && {
        bytesReceived: card.rxBytes,
        bytesSent: card.txBytes,
        packetsReceived: card.rxFrames,
        packetsSent: card.txFrames,
        packetsDroppedInbound: card.rxDropped + card.rxInvalid,
        packetsDroppedOutbound: card.txDropped,
      },
    };
  }
  return {
    name: g.name,
    state: g.state,
    reason: g.reason,
    pid: g.pid,
    uptimeSeconds: s ? s.uptimeSeconds : null,
    sampledAt: s && g.statusAt ? new Date(g.statusAt).toISOString() : null,
    cpu: s ? { seconds: s.cpuSeconds, percent: g.cpuPercent } : null,
    memory: {
      guestBytes: g.spec.memory,
      rssBytes: s ? s.rssBytes : null,
      limitBytes: s ? g.memoryLimit : null,
    },
    guest: s ? { instructions: s.instructions, mips: s.mips, boots: s.boots } : null,
    disk,
    network,
  };
}
