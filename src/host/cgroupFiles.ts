// What the cgroup v1 and v2 layouts (cgroups.ts, cgroupsV2.ts) share: the interface the
// supervisor uses, the mount table and the daemon's own groups as the kernel lists them, the
// folder of a group inside a mount, and small file helpers (numbers, removal, sweeping, the
// weight of the whole `berth` group).

import { readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/** CPU weight as in cgroup v2 (1-10000, default 100); v1's cpu.shares is weight*1024/100. */
export const DEFAULT_CPU_WEIGHT = 100;

export interface CgroupLimits {
  /** Bytes the VMM's group may hold (RSS and page cache), past which the kernel kills it. */
  memory: number;
  cpuWeight: number;
}

/** How much CPU time and memory a guest's group has used. */
export interface CgroupUsage {
  cpuNs: number;
  memoryBytes: number;
}

export interface Cgroups {
  readonly version: 1 | 2;
  /** The folders of one guest's group (one per hierarchy on v1). */
  dirs(guest: string): string[];
  /** Makes the guest's group and writes its limits; returns the cgroup.procs files to join. */
  create(guest: string, limits: CgroupLimits): string[];
  /** Removes the group; false when processes are still in it (try again later). */
  remove(guest: string): boolean;
  usage(guest: string): CgroupUsage | null;
  /** The kernel's count of OOM kills in the group (null when it does not say). */
  oomKills(guest: string): number | null;
  /** Removes the empty groups of guests not in `keep` (left by a daemon that was killed). */
  sweep(keep: Set<string>): void;
  /** Removes the `berth` group itself if no guest's group is left in it (the daemon stops). */
  close(): void;
}

export type CgroupDetection = { ok: true; cgroups: Cgroups } | { ok: false; reason: string };

/** A mounted cgroup hierarchy: where, which of its groups is its top (`root`), its options. */
export interface CgroupMount {
  mount: string;
  root: string;
  options: string[];
}

/** cgroup mounts from /proc/self/mountinfo: v1 hierarchies by controller, and a v2 mount. */
export function readMounts(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): {
  v1: Map<string, CgroupMount>;
  v2: CgroupMount | null;
} {
  const v1 = new Map<string, CgroupMount>();
  let v2: CgroupMount | null = null;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const fields = left.split(' ');
    const [fstype, , superOpts] = right.split(' ');
    const m: CgroupMount = { mount: fields[4], root: fields[3], options: superOpts.split(',') };
    if (fstype === 'cgroup2' && m.mount === '/sys/fs/cgroup') v2 = m;
    if (fstype !== 'cgroup') continue;
    for (const c of ['memory', 'cpu', 'cpuacct']) {
      if (m.options.includes(c) && !v1.has(c)) v1.set(c, m);
    }
  }
  return { v1, v2 };
}

/** The daemon's own group per v1 controller ('' key: the v2 path), from /proc/self/cgroup. */
export function ownGroups(text = readFileSync('/proc/self/cgroup', 'utf8')): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of text.trim().split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === '') own.set('', path);
    for (const c of ctrls.split(',')) if (c) own.set(c, path);
  }
  return own;
}

/**
 * The folder of the group `path` (as /proc/self/cgroup names it) in mount `m`, which shows its
 * hierarchy from the group `m.root` down (a container's mount shows the container's group as
 * its top); null when the group is not below that top.
 */
export function groupDir(m: CgroupMount, path: string): string | null {
  const rel = posix.relative(m.root, path);
  if (rel === '..' || rel.startsWith('../') || posix.isAbsolute(rel)) return null;
  return join(m.mount, rel);
}

export function readNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

export function rmdirGone(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

export function sweepBase(
  base: string,
  keep: Set<string>,
  remove: (guest: string) => boolean,
): void {
  try {
    for (const e of readdirSync(base, { withFileTypes: true })) {
      if (e.isDirectory() && !keep.has(e.name)) remove(e.name);
    }
  } catch {
    // nothing to sweep
  }
}

/**
 * Gives the `berth` group the kernel's default weight `none`, as libvirt's machine.slice has:
 * together its guests weigh what one ordinary process does against the rest of the host when
 * the CPUs are contended (and take all of them when nothing else runs). Not the sum of the
 * guests' weights: with ten guests booting on two CPUs (10240 shares), a process beside them
 * waited up to 36 s for the CPU, the daemon among them (its API and consoles stalled); with
 * the default, 77 ms at most, the guests as fast (measured with a 100 ms timer in a process
 * beside `test/host/tenGuests.test.ts`).
 */
export function groupWeight(base: string, file: string, none: number): void {
  try {
    writeFileSync(join(base, file), String(none));
  } catch {
    // the weight of the whole is a nicety; the guests' own weights hold regardless
  }
}
