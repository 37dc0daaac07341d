// Who a VMM runs as. A daemon running as root never runs guest code as root: each running
// guest's VMM gets a user ID of its own (VMM_UID_BASE + a slot, no passwd entry needed) and the
// group of the system user `berth-vmm` (made with `useradd --system` when missing; `nogroup`
// when that fails). One UID per guest, not one shared user, because processes of one user may
// signal and trace each other and open each other's files: with a UID each, a guest whose VMM
// is subverted still cannot touch another guest's VMM or disks. A daemon that is not root runs
// its VMMs as itself.

import { execFileSync } from 'node:child_process';

/** First UID handed to VMMs; 65536 of them, high enough to miss login users and subuid ranges. */
export const VMM_UID_BASE = 2_146_435_072; // 0x7ff00000
export const VMM_UID_COUNT = 65_536;

export interface VmmAccount {
  /** The group every VMM runs with. */
  gid: number;
  /** What the daemon says about it in its log. */
  description: string;
}

function idOf(flag: '-u' | '-g', name: string): number | null {
  try {
    const n = Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: 'pipe' }).trim());
    return Number.isInteger(n) ? n : null;
  } catch {
    return null;
  }
}

/**
 * The group VMMs run with, making the `berth-vmm` system user if it is missing; null when the
 * daemon is not root (VMMs then run as the daemon's user).
 */
export function prepareVmmAccount(name = 'berth-vmm'): VmmAccount | null {
  if (process.getuid?.() !== 0) return null;
  let gid = idOf('-g', name);
  let made = '';
  if (gid === null) {
    try {
      execFileSync(
        'useradd',
        ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent'].concat([
          '--shell',
          '/usr/sbin/nologin',
          name,
        ]),
        { stdio: 'pipe' },
      );
      made = ' (made now with useradd --system)';
    } catch (e) {
      const why = ((e as { stderr?: Buffer }).stderr?.toString() || (e as Error).message).trim();
      const nogroup = idOf('-g', 'nobody') ?? 65534;
      return {
        gid: nogroup,
        description: `cannot make the user ${name} (${why}); VMMs run with group ${nogroup} (nobody's)`,
      };
    }
    gid = idOf('-g', name);
    if (gid === null) return { gid: 65534, description: `${name} has no group; using 65534` };
  }
  return {
    gid,
    description: `VMMs run with group ${name} (${gid})${made}, each with a UID of its own from ${VMM_UID_BASE}`,
  };
}

/** The lowest VMM UID not in `used`. */
export function freeVmmUid(used: Iterable<number>): number {
  const taken = new Set(used);
  for (let i = 0; i < VMM_UID_COUNT; i++) {
    if (!taken.has(VMM_UID_BASE + i)) return VMM_UID_BASE + i;
  }
  throw new Error(`all ${VMM_UID_COUNT} VMM user IDs are in use`);
}

export function isVmmUid(uid: number): boolean {
  return uid >= VMM_UID_BASE && uid < VMM_UID_BASE + VMM_UID_COUNT;
}
