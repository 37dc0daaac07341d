// Control groups for the VMMs: each guest's VMM (and its wrapper shell) runs in a group of its
// own with a memory limit and a CPU weight, nested under the daemon's own group so that the
// host's layout is respected: on cgroup v1, MOUNT/<daemon's path>/berth/<guest> in each of the
// memory, cpu and cpuacct hierarchies (here); on cgroup v2 (when /sys/fs/cgroup is cgroup2),
// /sys/fs/cgroup/<daemon's path>/berth/<guest> with the memory and cpu controllers, the daemon
// itself moved into a leaf beside it (cgroupsV2.ts).
//
// The daemon makes the group and writes its limits; the launcher's wrapper writes its own PID
// into each `cgroup.procs` file before it starts the VMM, so no guest instruction runs
// outside the group. The group is removed once its processes are gone. Where cgroups cannot be
// used (not root on v1, no delegation on v2, nothing mounted, a controller missing),
// `detectCgroups` says why and the daemon runs its VMMs without limits.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  groupDir,
  ownGroups,
  readMounts,
  readNumber,
  groupWeight,
  rmdirGone,
  sweepBase,
  type CgroupDetection,
  type CgroupLimits,
  type Cgroups,
  type CgroupUsage,
} from './cgroupFiles.js';
import { cgroupsV2At } from './cgroupsV2.js';

export { DEFAULT_CPU_WEIGHT } from './cgroupFiles.js';
export type { CgroupDetection, CgroupLimits, Cgroups, CgroupUsage } from './cgroupFiles.js';

/** cpu.shares: the kernel's default, and the least it takes. */
const SHARES = { min: 2, none: 1024 };

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
    const shares = Math.max(SHARES.min, Math.round((limits.cpuWeight * SHARES.none) / 100));
    writeFileSync(join(this.bases.cpu, guest, 'cpu.shares'), String(shares));
    groupWeight(this.bases.cpu, 'cpu.shares', SHARES.none);
    return dirs.map((d) => join(d, 'cgroup.procs'));
  }

  remove(guest: string): boolean {
    const gone = this.dirs(guest)
      .map(rmdirGone)
      .every((x) => x);
    return gone;
  }

  sweep(keep: Set<string>): void {
    sweepBase(this.bases.memory, keep, (g) => this.remove(g));
  }

  close(): void {
    for (const b of new Set(Object.values(this.bases))) rmdirGone(b);
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

/**
 * Finds where the VMMs' groups go (from the mount table and the daemon's own groups) and makes
 * the `group` folder under the daemon's group in each hierarchy.
 */
export function detectCgroups(group = 'berth'): CgroupDetection {
  let mounts: ReturnType<typeof readMounts>;
  let own: Map<string, string>;
  try {
    mounts = readMounts();
    own = ownGroups();
  } catch (e) {
    return { ok: false, reason: `cannot read the cgroup mounts: ${(e as Error).message}` };
  }
  try {
    if (mounts.v2) return cgroupsV2At(mounts.v2, group);
    if (process.getuid?.() !== 0) {
      return { ok: false, reason: 'the daemon does not run as root, so it cannot make cgroups' };
    }
    const bases: Record<string, string> = {};
    for (const c of ['memory', 'cpu', 'cpuacct']) {
      const m = mounts.v1.get(c);
      if (!m) return { ok: false, reason: `no cgroup hierarchy with the ${c} controller` };
      const dir = groupDir(m, own.get(c) ?? '/');
      if (dir === null) {
        return { ok: false, reason: `the daemon's ${c} group is not in ${m.mount}` };
      }
      bases[c] = join(dir, group);
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
