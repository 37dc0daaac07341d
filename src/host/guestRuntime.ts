// What the daemon knows about a guest beyond the database, while it runs: the VMM's last
// status and CPU share, whether a status request is in flight, a stop the user asked for, recent restarts,
// the user ID its VMM runs as.

import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import type { VmmStatus } from '../vmm/status.js';

export class GuestRuntime {
  status: VmmStatus | null = null;
  statusAt = 0;
  /** The VMM's CPU use between its last two statuses, in percent of one host CPU. */
  cpuPercent: number | null = null;
  polling = false;
  /** Between the start request and the VMM's PID being stored. */
  launching = false;
  /** The user asked for this stop, or cancelled the start (so the VMM's end is no crash). */
  stopRequested: 'graceful' | 'force' | 'cancel' | null = null;
  /** Times of automatic restarts, for the restart limit. */
  restarts: number[] = [];
  /** The VMM's user ID (null: the daemon's own). */
  uid: number | null = null;
  /** The cgroup memory limit of the running VMM (null: none). */
  memoryLimit: number | null = null;
  /** The snapshot machine file the next start restores (set by a restore or a clone). */
  restoreFrom: string | null = null;
  /** A snapshot action under way (create, restore, clone), which others wait out. */
  busy: string | null = null;
  /** A migration under way: out of this host, or into it (migrations.ts). */
  migration: 'out' | 'in' | null = null;
  /** An incoming migration's copies of the disks (copyStorage.ts): deleted if it fails. */
  mirrorFiles: string[] = [];
  /** When an incoming guest's VMM was first seen waiting for its stream. */
  incomingSince: number | null = null;
}

/** The last `bytes` of a log file, or '' when there is none. */
export function logTail(path: string, bytes = 2048): string {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const n = Math.min(size, bytes);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
