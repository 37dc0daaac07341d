// The VMMs' groups on cgroup v2 (one unified hierarchy). Layout, under the daemon's own group
// OWN (a systemd service's group, say):
//
//   OWN/                  cgroup.subtree_control: +memory +cpu   (no processes)
//   OWN/GROUP-daemon/     the daemon itself                       (a leaf)
//   OWN/GROUP/            cgroup.subtree_control: +memory +cpu   cpu.weight: the default (100)
//   OWN/GROUP/NAME/       one guest's wrapper, VMM and reaper: memory.max, memory.swap.max 0,
//                         cpu.weight
//
// The kernel lets a group pass controllers to its children only while it holds no processes
// itself (the "no internal processes" rule; the root group is exempt), so the daemon first
// moves itself into a leaf of its own. It does not move anyone else: when other processes
// share its group (a login shell's session, say), it says so and runs without limits. A daemon
// that is not root needs OWN delegated to it (owned by its user, as systemd's Delegate=yes
// does). GROUP is `berth`, or `berth-HASH` for another state folder (daemon.ts).

import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  groupDir,
  ownGroups,
  readNumber,
  groupWeight,
  rmdirGone,
  sweepBase,
  type CgroupDetection,
  type CgroupLimits,
  type CgroupMount,
  type Cgroups,
  type CgroupUsage,
} from './cgroupFiles.js';

/** The controllers the VMMs' groups need. */
export const V2_CONTROLLERS = ['memory', 'cpu'];
/** cpu.weight: the kernel's default. */
const WEIGHT = { none: 100 };

export class CgroupsV2 implements Cgroups {
  readonly version = 2;
  constructor(private readonly base: string) {}

  dirs(guest: string): string[] {
    return [join(this.base, guest)];
  }

  create(guest: string, limits: CgroupLimits): string[] {
    const d = join(this.base, guest);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'memory.max'), String(limits.memory));
    // No swap past the limit either, where the kernel accounts swap.
    if (existsSync(join(d, 'memory.swap.max'))) writeFileSync(join(d, 'memory.swap.max'), '0');
    writeFileSync(join(d, 'cpu.weight'), String(limits.cpuWeight));
    groupWeight(this.base, 'cpu.weight', WEIGHT.none);
    return [join(d, 'cgroup.procs')];
  }

  remove(guest: string): boolean {
    const gone = rmdirGone(join(this.base, guest));
    return gone;
  }

  sweep(keep: Set<string>): void {
    sweepBase(this.base, keep, (g) => this.remove(g));
  }

  close(): void {
    rmdirGone(this.base);
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

const pidsIn = (dir: string): number[] =>
  readFileSync(join(dir, 'cgroup.procs'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);

/**
 * Makes the layout above in the daemon's group of cgroup2 mount `m` (its group found in
 * /proc/self/cgroup), with `controllers` for the guests' groups; or says why it cannot.
 */
export function cgroupsV2At(
  m: CgroupMount,
  group: string,
  controllers = V2_CONTROLLERS,
): CgroupDetection {
  const path = ownGroups().get('') ?? '/';
  const own = groupDir(m, path);
  if (own === null) {
    return { ok: false, reason: `cgroup v2: the daemon's group ${path} is not in ${m.mount}` };
  }
  for (const f of ['cgroup.procs', 'cgroup.subtree_control']) {
    try {
      accessSync(join(own, f), constants.W_OK);
    } catch (e) {
      return {
        ok: false,
        reason:
          `cgroup v2: the daemon cannot write ${join(own, f)} ` +
          `(${(e as NodeJS.ErrnoException).code}): run it as root, or in a group delegated to ` +
          `its user (systemd: Delegate=yes, e.g. systemd-run --user -p Delegate=yes berth daemon)`,
      };
    }
  }
  const available = readFileSync(join(own, 'cgroup.controllers'), 'utf8').split(/\s+/);
  const missing = controllers.filter((c) => !available.includes(c));
  if (missing.length > 0) {
    return {
      ok: false,
      reason:
        `cgroup v2: the ${missing.join(' and ')} controller${missing.length > 1 ? 's are' : ' is'} ` +
        `not available in the daemon's group ${own} (cgroup.controllers: ` +
        `${available.join(' ').trim() || 'none'}); its parent must enable ${missing.length > 1 ? 'them' : 'it'} ` +
        `in cgroup.subtree_control (systemd: Delegate=yes)`,
    };
  }
  // The root group has no cgroup.type and may hold processes; any other must not.
  if (existsSync(join(own, 'cgroup.type'))) {
    const leaf = join(own, `${group}-daemon`);
    mkdirSync(leaf, { recursive: true });
    writeFileSync(join(leaf, 'cgroup.procs'), String(process.pid));
    const others = pidsIn(own);
    if (others.length > 0) {
      try {
        writeFileSync(join(own, 'cgroup.procs'), String(process.pid));
        rmdirSync(leaf);
      } catch {
        // the group enables controllers already: the daemon stays in its leaf
      }
      return {
        ok: false,
        reason:
          `cgroup v2: the daemon's group ${own} holds other processes too (PIDs ` +
          `${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''}), and a group ` +
          `that holds processes cannot pass controllers to its children; start the daemon in ` +
          `a group of its own (a systemd service with Delegate=yes, or systemd-run --scope ` +
          `-p Delegate=yes berth daemon)`,
      };
    }
  }
  const enable = controllers.map((c) => `+${c}`).join(' ');
  writeFileSync(join(own, 'cgroup.subtree_control'), enable);
  const base = join(own, group);
  mkdirSync(base, { recursive: true });
  writeFileSync(join(base, 'cgroup.subtree_control'), enable);
  return { ok: true, cgroups: new CgroupsV2(base) };
}
