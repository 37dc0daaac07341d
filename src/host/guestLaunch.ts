// Everything one start of a guest's VMM needs, in order: its complete config, its folders, its
// files and console log folder handed to its user (when VMMs run unprivileged), its cgroup with
// the memory limit and CPU weight, its TAP device for a tap card, and then the wrapper and VMM
// themselves (launcher.ts). A step that fails undoes the ones before it.

import { appendFileSync, chmodSync, chownSync, closeSync, mkdirSync, writeFileSync } from 'node:fs';
import type { Cgroups } from './cgroups.js';
import {
  grantDisks,
  lendConsoleDir,
  reclaimConsoleDir,
  restoreGuestFiles,
  stageBootFile,
} from './guestFiles.js';
import { makeGuestTap, tapDeviceName } from './guestNetwork.js';
import type { GuestSpec } from './guestSpec.js';
import { launchVmm } from './launcher.js';
import type { StateDir } from './stateDir.js';
import { vmmConfigFor, type DefaultAssets, type IncomingOptions } from './vmmConfig.js';
import type { VmmAccount } from './vmmUser.js';

const MIB = 1024 * 1024;

/**
 * Memory a VMM process needs beyond its guest's RAM: Node.js itself, the compiled machine, the
 * JIT's WebAssembly code and each executed page's decode array. Measured on a 128 MiB Debian
 * busybox guest booting to its prompt (process.memoryUsage and /proc/self/status every 5 s):
 * anonymous memory rose to 399 MiB (peak 409 MiB in another run), with the JIT off 234 MiB;
 * 44 MiB more of file pages (the node binary), charged to the group that first touches them.
 * An overhead of 192 MiB got ten such VMMs killed by their groups while they booted. What the
 * VMM spends is the performance issue's to cut; the limit follows what it spends now.
 */
export const VMM_MEMORY_OVERHEAD = 384 * MIB;

export interface LaunchContext {
  dirs: StateDir;
  defaultAssets: DefaultAssets;
  berthMain: string;
  cgroups: Cgroups | null;
  account: VmmAccount | null;
  /** The running guest a VMM UID belongs to (to refuse a disk another guest holds). */
  holderOf: (uid: number) => string | null;
}

export interface Launched {
  sessionPid: number;
  memoryLimit: number | null;
}

/** The cgroup memory limit of a guest's VMM. */
export function vmmMemoryLimit(spec: GuestSpec): number {
  return spec.vmmMemoryLimit ?? spec.memory + VMM_MEMORY_OVERHEAD;
}

/** What a start takes beyond the spec: the disk layers it writes to, a snapshot to restore. */
export interface LaunchFrom {
  activeDisks?: string[] | null;
  restore?: string;
  /** Where the VMM waits for a migration's stream (the destination of a migration). */
  incoming?: IncomingOptions;
}

export async function launchGuest(
  ctx: LaunchContext,
  spec: GuestSpec,
  uid: number | null,
  from: LaunchFrom = {},
): Promise<Launched> {
  const { dirs, account, cgroups } = ctx;
  const name = spec.name;
  const net = spec.network;
  const tapName = net.kind === 'tap' ? tapDeviceName(dirs.root, name) : undefined;
  const config = await vmmConfigFor(
    spec,
    { controlSocket: dirs.controlSocket(name), consoleLog: dirs.consoleLog(name), ...from },
    ctx.defaultAssets,
    tapName,
  );
  const user = account && uid !== null ? { uid, gid: account.gid } : null;
  dirs.prepare(user !== null);
  const guestDir = dirs.guestDir(name);
  mkdirSync(guestDir, { recursive: true, mode: 0o700 });
  chmodSync(guestDir, user ? 0o711 : 0o700);
  mkdirSync(dirs.runDir(name), { recursive: true, mode: 0o700 });
  mkdirSync(dirs.consoleDir(name), { recursive: true, mode: 0o700 });
  appendFileSync(
    dirs.vmmLog(name),
    `--- berth: starting ${name} at ${new Date().toISOString()}\n`,
    {
      mode: 0o600,
    },
  );
  let granted = false;
  try {
    if (user) {
      for (const k of ['firmware', 'kernel', 'initrd'] as const) {
        const p = config[k];
        if (p !== undefined) config[k] = stageBootFile(dirs.bootDir, p, user.gid);
      }
      // The snapshot to restore is lent as the disks are, for the VMM to read at its start.
      const lent = [...config.disks];
      if (config.restore !== undefined) lent.push({ path: config.restore, readOnly: false });
      grantDisks(dirs.ownersFile(name), lent, user.uid, user.gid, ctx.holderOf);
      granted = true;
      chownSync(dirs.runDir(name), user.uid, user.gid);
      chmodSync(dirs.runDir(name), 0o700);
      lendConsoleDir(dirs.consoleDir(name), user.uid, user.gid);
    }
    writeFileSync(dirs.vmmConfig(name), JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
    if (user) {
      chownSync(dirs.vmmConfig(name), user.uid, user.gid);
      chmodSync(dirs.vmmConfig(name), 0o400);
    }
    const memoryLimit = cgroups ? vmmMemoryLimit(spec) : null;
    const cgroupProcs = cgroups
      ? cgroups.create(name, { memory: memoryLimit!, cpuWeight: spec.cpuWeight })
      : [];
    let tapFd: number | undefined;
    try {
      if (net.kind === 'tap') tapFd = makeGuestTap(net.bridge, tapName!, name).fd;
      const sessionPid = await launchVmm(
        {
          config: dirs.vmmConfig(name),
          log: dirs.vmmLog(name),
          exit: dirs.exitFile(name),
          cgroupProcs,
          user: user ?? undefined,
          tapFd,
        },
        ctx.berthMain,
      );
      return { sessionPid, memoryLimit };
    } catch (e) {
      cgroups?.remove(name);
      throw e;
    } finally {
      if (tapFd !== undefined) closeSync(tapFd); // the wrapper and the VMM hold it now
    }
  } catch (e) {
    if (granted) {
      restoreGuestFiles(dirs.ownersFile(name));
      reclaimConsoleDir(dirs.consoleDir(name));
    }
    throw e;
  }
}
