// Control groups for the VMMs: each guest's VMM (and its wrapper shell) runs in a group of its
// own with a memory limit and a CPU weight, nested under the daemon's own group so that the
// host's layout is respected: on cgroup v1, MOUNT/<daemon's path>/berth/<guest> in each of the
// memory, cpu and cpuacct hierarchies; on cgroup v2 (when /sys/fs/cgroup is cgroup2),
// /sys/fs/cgroup/<daemon's path>/berth/<guest> with the memory and cpu controllers.
//
// The daemon makes the group and writes its limits; the launcher's wrapper writes its own PID
// into each `cgroup.procs` file before it starts the VMM, so no guest instruction runs
// outside the group. The group is removed once its processes are gone. Where cgroups cannot be
// used (not root, nothing mounted, a controller missing), `detectCgroups` says why and the
// daemon runs its VMMs without limits.

import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

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
}

function sweepBase(base: string, keep: Set<string>, remove: (guest: string) => boolean): void {
  try {
    for (const e of readdirSync(base, { withFileTypes: true })) {
      if (e.isDirectory() && !keep.has(e.name)) remove(e.name);
    }
  } catch {
    // nothing to sweep
  }
}

interface MountedHierarchy {
  mount: string;
  options: string[];
}

/** cgroup mounts from /proc/self/mountinfo: v1 hierarchies by controller, and a v2 mount. */
function readMounts(): { v1: Map<string, string>; v2: string | null } {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const mount = left.split(' ')[4];
    const [fstype, , superOpts] = right.split(' ');
    if (fstype === 'cgroup2' && mount === '/sys/fs/cgroup') v2 = mount;
    if (fstype !== 'cgroup') continue;
    const h: MountedHierarchy = { mount, options: superOpts.split(',') };
    for (const c of ['memory', 'cpu', 'cpuacct']) {
      if (h.options.includes(c) && !v1.has(c)) v1.set(c, h.mount);
    }
  }
  return { v1, v2 };
}

/** The daemon's own group per v1 controller ('' key: the v2 path), from /proc/self/cgroup. */
function ownGroups(): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === '') own.set('', path);
    for (const c of ctrls.split(',')) if (c) own.set(c, path);
  }
  return own;
}

function readNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

function rmdirGone(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Gives the `berth` group the sum of its guests' weights, so that together they weigh what as
 * many ordinary processes would against the rest of the host (not one process's worth).
 */
function rebalance(base: string, file: string, min: number, max: number): void {
  try {
    let sum = 0;
    for (const e of readdirSync(base, { withFileTypes: true })) {
      if (e.isDirectory()) sum += readNumber(join(base, e.name, file)) ?? 0;
    }
    writeFileSync(join(base, file), String(Math.min(max, Math.max(min, sum || 1024))));
  } catch {
    // the weight of the whole is a nicety; the guests' own weights hold regardless
  }
}

class CgroupsV1 implements Cgroups {
  readonly version = 1;
  /** Per controller: the folder under which guests' groups go. */
  constructor(private readonly bases: { memory: string; cpu: string; cpuacct: string }) {}

  dirs(guest: string): string[] {
    return [...new Set(Object.values(this.bases))].map((b) => join(b, guest));
  }

  create(guest: string, limits: CgroupLimits): string[] {
    const dirs = this.dirs(guest);
    for (const d of dirs) mkdirSync(d, { recursive: true });
    const mem = join(this.bases.memory, guest);
    writeFileSync(join(mem, 'memory.limit_in_bytes'), String(limits.memory));
    // No swap past the limit either, where the kernel accounts it.
    const memsw = join(mem, 'memory.memsw.limit_in_bytes');
    if (existsSync(memsw)) writeFileSync(memsw, String(limits.memory));
    const shares = Math.max(2, Math.round((limits.cpuWeight * 1024) / 100));
    writeFileSync(join(this.bases.cpu, guest, 'cpu.shares'), String(shares));
    rebalance(this.bases.cpu, 'cpu.shares', 2, 262144);
    return dirs.map((d) => join(d, 'cgroup.procs'));
  }

  remove(guest: string): boolean {
    const gone = this.dirs(guest)
      .map(rmdirGone)
      .every((x) => x);
    rebalance(this.bases.cpu, 'cpu.shares', 2, 262144);
    return gone;
  }

  sweep(keep: Set<string>): void {
    sweepBase(this.bases.memory, keep, (g) => this.remove(g));
  }

  usage(guest: string): CgroupUsage | null {
    const cpu = readNumber(join(this.bases.cpuacct, guest, 'cpuacct.usage'));
    const mem = readNumber(join(this.bases.memory, guest, 'memory.usage_in_bytes'));
    return cpu === null || mem === null ? null : { cpuNs: cpu, memoryBytes: mem };
  }

  oomKills(guest: string): number | null {
    try {
      const t = readFileSync(join(this.bases.memory, guest, 'memory.oom_control'), 'utf8');
      const m = /^oom_kill (\d+)/m.exec(t);
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }
}

class CgroupsV2 implements Cgroups {
  readonly version = 2;
  constructor(private readonly base: string) {}

  dirs(guest: string): string[] {
    return [join(this.base, guest)];
  }

  create(guest: string, limits: CgroupLimits): string[] {
    const d = join(this.base, guest);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'memory.max'), String(limits.memory));
    if (existsSync(join(d, 'memory.swap.max'))) writeFileSync(join(d, 'memory.swap.max'), '0');
    writeFileSync(join(d, 'cpu.weight'), String(limits.cpuWeight));
    rebalance(this.base, 'cpu.weight', 1, 10000);
    return [join(d, 'cgroup.procs')];
  }

  remove(guest: string): boolean {
    const gone = rmdirGone(join(this.base, guest));
    rebalance(this.base, 'cpu.weight', 1, 10000);
    return gone;
  }

  sweep(keep: Set<string>): void {
    sweepBase(this.base, keep, (g) => this.remove(g));
  }

  usage(guest: string): CgroupUsage | null {
    const d = join(this.base, guest);
    try {
      const m = /^usage_usec (\d+)/m.exec(readFileSync(join(d, 'cpu.stat'), 'utf8'));
      const mem = readNumber(join(d, 'memory.current'));
      return m && mem !== null ? { cpuNs: Number(m[1]) * 1000, memoryBytes: mem } : null;
    } catch {
      return null;
    }
  }

  oomKills(guest: string): number | null {
    try {
      const t = readFileSync(join(this.base, guest, 'memory.events'), 'utf8');
      const m = /^oom_kill (\d+)/m.exec(t);
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }
}

/** Enables memory and cpu for `dir`'s children (v2); the daemon leaves its group if it must. */
function enableV2Controllers(own: string, base: string): void {
  const want = '+memory +cpu';
  try {
    writeFileSync(join(own, 'cgroup.subtree_control'), want);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
    // "No internal processes": the daemon moves into a leaf of its own first.
    const leaf = join(own, 'berth-daemon');
    mkdirSync(leaf, { recursive: true });
    writeFileSync(join(leaf, 'cgroup.procs'), String(process.pid));
    writeFileSync(join(own, 'cgroup.subtree_control'), want);
  }
  mkdirSync(base, { recursive: true });
  writeFileSync(join(base, 'cgroup.subtree_control'), want);
}

export type CgroupDetection = { ok: true; cgroups: Cgroups } | { ok: false; reason: string };

/**
 * Finds where the VMMs' groups go (from the mount table and the daemon's own groups) and makes
 * the `group` folder under the daemon's group in each hierarchy.
 */
export function detectCgroups(group = 'berth'): CgroupDetection {
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: 'the daemon does not run as root, so it cannot make cgroups' };
  }
  let mounts: ReturnType<typeof readMounts>;
  let own: Map<string, string>;
  try {
    mounts = readMounts();
    own = ownGroups();
  } catch (e) {
    return { ok: false, reason: `cannot read the cgroup mounts: ${(e as Error).message}` };
  }
  try {
    if (mounts.v2) {
      const ownDir = join(mounts.v2, own.get('') ?? '/');
      const controllers = readFileSync(join(ownDir, 'cgroup.controllers'), 'utf8').split(/\s+/);
      for (const c of ['memory', 'cpu']) {
        if (!controllers.includes(c)) {
          return { ok: false, reason: `cgroup v2: the ${c} controller is not available` };
        }
      }
      const base = join(ownDir, group);
      enableV2Controllers(ownDir, base);
      return { ok: true, cgroups: new CgroupsV2(base) };
    }
    const bases: Record<string, string> = {};
    for (const c of ['memory', 'cpu', 'cpuacct']) {
      const mount = mounts.v1.get(c);
      if (!mount) return { ok: false, reason: `no cgroup hierarchy with the ${c} controller` };
      bases[c] = join(mount, own.get(c) ?? '/', group);
      mkdirSync(bases[c], { recursive: true });
    }
    return {
      ok: true,
      cgroups: new CgroupsV1(bases as { memory: string; cpu: string; cpuacct: string }),
    };
  } catch (e) {
    return { ok: false, reason: `cannot make cgroups: ${(e as Error).message}` };
  }
}
