// A guest's files, made accessible to its VMM's user alone for the time it runs (see
// vmmUser.ts). A writable disk is handed to the VMM's UID with mode 0600 and given back to its
// owner and mode when the VMM ends (the originals are kept in the guest's `owners.json`, so a
// later daemon restores them too); a read-only disk is left as it is and must be readable by
// others. Boot files (firmware, kernel, initramfs) are shared and not secret: they are copied
// once into STATE/boot/, readable by the VMMs' group, since the cache they come from (e.g.
// /root/.cache) is usually closed to other users. Every folder on the way to a disk must let the
// VMM's user pass (search permission); the daemon does not widen anyone's folders itself. The
// guest's console log folder (guests/NAME/console/, 0700) is lent to the VMM's user with the
// files in it, so that it can append to and rotate the log, and taken back when the VMM ends:
// other guests' VMMs, even one that gets the same UID later, never reach it.

import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { HostError } from './errors.js';
import { isVmmUid } from './vmmUser.js';

export interface Owner {
  path: string;
  uid: number;
  gid: number;
  mode: number;
}

/** The first folder on the way to `path` that `uid`/`gid` may not pass, or null. */
export function blockingDir(path: string, uid: number, gid: number): string | null {
  let dir = dirname(realpathSync(path));
  const dirs: string[] = [];
  for (;;) {
    dirs.unshift(dir);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  for (const d of dirs) {
    const st = statSync(d);
    const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return d;
  }
  return null;
}

function unreachable(what: string, path: string, dir: string, uid: number): HostError {
  const mode = (statSync(dir).mode & 0o777).toString(8).padStart(4, '0');
  return new HostError(
    400,
    `${what} ${path}: the guest's VMM runs as UID ${uid} and cannot pass the folder ${dir} ` +
      `(mode ${mode}); let others through it (chmod o+x ${dir}) or move the file`,
  );
}

function readOwners(ownersFile: string): Owner[] {
  try {
    return JSON.parse(readFileSync(ownersFile, 'utf8')) as Owner[];
  } catch {
    return [];
  }
}

/**
 * Lends one more file to a running VMM's user (mode 0600), listed in `owners.json` to be given
 * back with the others when the VMM ends.
 */
export function lendFile(ownersFile: string, path: string, uid: number, gid: number): void {
  const st = statSync(path);
  const owners = readOwners(ownersFile);
  owners.push({ path, uid: st.uid, gid: st.gid, mode: st.mode });
  writeFileSync(ownersFile, JSON.stringify(owners) + '\n', { mode: 0o600 });
  chownSync(path, uid, gid);
  chmodSync(path, 0o600);
}

/**
 * Takes a lent file off `owners.json` (it is not to be given back when the VMM ends) and
 * returns the owner and mode it had before it was lent, or null if it was not lent.
 */
export function unlistLent(ownersFile: string, path: string): Owner | null {
  const owners = readOwners(ownersFile);
  const i = owners.findIndex((o) => o.path === path);
  if (i < 0) return null;
  const [o] = owners.splice(i, 1);
  writeFileSync(ownersFile, JSON.stringify(owners) + '\n', { mode: 0o600 });
  return o;
}

/** Gives back what `owners.json` lists, then removes it; missing files are skipped. */
export function restoreGuestFiles(ownersFile: string): void {
  let owners: Owner[];
  try {
    owners = JSON.parse(readFileSync(ownersFile, 'utf8')) as Owner[];
  } catch {
    return;
  }
  for (const o of owners) {
    try {
      chownSync(o.path, o.uid, o.gid);
      chmodSync(o.path, o.mode & 0o7777);
    } catch {
      // gone or moved: nothing to give back
    }
  }
  rmSync(ownersFile, { force: true });
}

/**
 * Hands the guest's writable disks to `uid` (mode 0600) after checking all of them: a disk
 * another running guest holds, or one the VMM could not reach, is refused and nothing changes.
 * `holderOf` names the guest a VMM UID belongs to, if one runs.
 */
export function grantDisks(
  ownersFile: string,
  disks: { path: string; readOnly: boolean }[],
  uid: number,
  gid: number,
  holderOf: (uid: number) => string | null,
): void {
  restoreGuestFiles(ownersFile); // what a previous run left
  const owners: Owner[] = [];
  for (const d of disks) {
    const st = statSync(d.path);
    const blocked = blockingDir(d.path, uid, gid);
    if (blocked) throw unreachable('disk', d.path, blocked, uid);
    if (d.readOnly) {
      if ((st.mode & 0o004) === 0 && st.uid !== uid) {
        throw new HostError(
          400,
          `read-only disk ${d.path}: the guest's VMM runs as UID ${uid}; make the file ` +
            `readable by others (chmod o+r) to share it read-only`,
        );
      }
      continue;
    }
    const holder = isVmmUid(st.uid) && st.uid !== uid ? holderOf(st.uid) : null;
    if (holder) throw new HostError(409, `disk ${d.path} is in use by guest '${holder}'`);
    owners.push({ path: d.path, uid: st.uid, gid: st.gid, mode: st.mode });
  }
  writeFileSync(ownersFile, JSON.stringify(owners) + '\n', { mode: 0o600 });
  for (const o of owners) {
    chownSync(o.path, uid, gid);
    chmodSync(o.path, 0o600);
  }
}

/** A copy of a boot file in `bootDir` the VMMs' group may read (made once per file version). */
export function stageBootFile(bootDir: string, path: string, gid: number): string {
  const real = realpathSync(path);
  const st = statSync(real);
  const key = createHash('sha256')
    .update(`${real}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}`)
    .digest('hex')
    .slice(0, 16);
  const staged = join(bootDir, `${key}-${basename(real)}`);
  if (existsSync(staged)) return staged;
  mkdirSync(bootDir, { recursive: true, mode: 0o711 });
  const tmp = `${staged}.${process.pid}.tmp`;
  copyFileSync(real, tmp);
  chownSync(tmp, 0, gid);
  chmodSync(tmp, 0o640);
  renameSync(tmp, staged);
  return staged;
}

/**
 * Makes `dir` (mode 0700) and lends it to `uid`/`gid` with the regular files in it (0600), for
 * the VMM to write and rotate its console log there. Anything else in it (links, folders, a
 * file with several names) is left as it is: never followed, never handed over.
 */
export function lendConsoleDir(dir: string, uid: number, gid: number): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!lstatSync(dir).isDirectory()) throw new HostError(500, `${dir} is not a folder`);
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  for (const entry of readdirSync(dir)) {
    let fd: number;
    try {
      fd = openSync(
        join(dir, entry),
        constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      );
    } catch {
      continue; // a symbolic link, or gone
    }
    try {
      const st = fstatSync(fd);
      if (st.isFile() && st.nlink === 1) {
        fchownSync(fd, uid, gid);
        fchmodSync(fd, 0o600);
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** Takes the console log folder back from the VMM's user (the files in it stay closed behind it). */
export function reclaimConsoleDir(dir: string): void {
  try {
    if (!lstatSync(dir).isDirectory()) return;
    chownSync(dir, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
    chmodSync(dir, 0o700);
  } catch {
    // not made yet
  }
}
