// What a VMM reports about itself on its control socket (the `status` request): state,
// progress, host resources and per-device counters. Plain JSON, for the host daemon.

import type { EngineCounters } from '../machine/hart/engineCounters.js';
import type { VirtioBlkCounters } from '../machine/virtio/blk.js';
import type { VirtioNetCounters } from '../machine/virtio/net.js';
import type { MigrationStats } from './migration/stats.js';

export interface VmmStatus {
  name: string;
  pid: number;
  state: 'incoming' | 'running' | 'paused' | 'stopping' | 'stopped' | 'migrated';
  uptimeSeconds: number;
  /** Boots so far (1 + guest reboots). */
  boots: number;
  /** Instructions retired since the VMM started. */
  instructions: number;
  /** Guest instructions per second, in millions, over the last second or so (0 while paused). */
  mips: number;
  /** Guest RAM. */
  memoryBytes: number;
  /** Resident memory of the VMM process. */
  rssBytes: number;
  /** CPU time of the VMM process (user + system). */
  cpuSeconds: number;
  /** The harts' engines since the machine started (null before it has one). */
  engine: EngineCounters | null;
  disks: ({ path: string; readOnly: boolean } & Partial<VirtioBlkCounters>)[];
  net: {
    kind: string;
    mac: string | null;
    /** A TAP card's device and the bridge it is on. */
    device?: string;
    bridge?: string;
    /** The guest's card. */
    card: VirtioNetCounters | null;
    /** The host side (user network or TAP). */
    backend: object | null;
    /** The IPv4 address the guest took by DHCP (user networking; null before its lease, or on TAP). */
    address: string | null;
  } | null;
  /** The migration under way, or the last one (out of or into this VMM); null when none. */
  migration: MigrationStats | null;
}
