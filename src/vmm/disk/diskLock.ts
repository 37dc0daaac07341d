// Advisory locks on disk images, so that two virtual machines never write one
// image at once (which corrupts it) and no guest writes an image that others
// read (e.g. the backing file of a thin clone). As with QEMU's image locking:
// one writer, or any number of readers.
//
// Node has no flock/fcntl, so a lock is a directory next to the image,
// `.NAME.berth-lock/`, holding one file per user of the image. A holder file
// is named `rw-PID-NONCE` or `ro-PID-NONCE`, is written completely under a
// temporary name and renamed into place, and records who holds it: PID,
// process start time, boot id, PID namespace and host name. A holder whose
// process is gone (checked through /proc; the start time beats PID reuse, the
// boot id a reboot) is stale: it is removed and no longer counts, so a VMM
// killed with SIGKILL never leaves an image unusable. A clean release removes
// the file and the then empty directory; a VMM's reaper (reaper.ts) removes
// them when the VMM is killed, so that nothing is left behind at all.
//
// Taking a lock creates the holder file first and only then looks at the
// others; a conflict withdraws it. Of two processes taking conflicting locks
// at the same time, the later to look sees the other, so at most one wins;
// when both see each other they retry after a short random pause.
//
// When the image's directory is not writable (a read-only mount, or another
// user's directory) the holder file goes to a per-host directory under the
// temporary directory instead, named by the image's device and inode. Every
// process looks in both places, so holders of either kind see each other.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BlockBackendError } from '../../machine/virtio/blockBackend.js';
import { reaper } from '../reaper.js';

export type LockMode = 'ro' | 'rw';

/** The image is in use in a conflicting way, or cannot be locked; the message says what to do. */
export class DiskLockError extends BlockBackendError {}

/** What a holder file records. */
interface HolderRecord {
  pid: number;
  /** Start time of the process in clock ticks after boot (/proc/PID/stat field 22). */
  start: number | null;
  bootId: string | null;
  pidNs: string | null;
  host: string;
  mode: LockMode;
  /** e.g. 'the backing file of /x/clone.qcow2' */
  purpose?: string;
  /** The holder's command line, for the error message. */
  cmd: string;
  image: string;
  since: string;
}

interface Holder {
  file: string;
  mode: LockMode;
  pid: number;
  record: HolderRecord | null;
  /** True when its liveness cannot be checked from here (another host or PID namespace). */
  unverifiable: boolean;
}

const HOLDER_NAME = /^(ro|rw)-(\d+)-[0-9a-f]+$/;
const TMP_PREFIX = '.tmp-';
/** Attempts when conflicting holders are themselves only just being taken. */
const RACE_ATTEMPTS = 4;
/** A holder younger than this may be a simultaneous attempt that will withdraw. */
const RACE_WINDOW_MS = 2000;

function readOr<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

const bootId: string | null = readOr(
  () => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
  null,
);
const pidNs: string | null = readOr(() => fs.readlinkSync('/proc/self/ns/pid'), null);

/**
 * Start time of process `pid` in clock ticks after boot; 'gone' if it has
 * ended (a zombie too), null if /proc cannot tell (no /proc, or hidepid).
 */
function startTime(pid: number | 'self'): number | 'gone' | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name in field 2 may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return 'gone'; // ended, not yet reaped
  const v = Number(fields[19]);
  return Number.isFinite(v) ? v : null;
}

const mine = startTime('self');
const myStart = typeof mine === 'number' ? mine : null;

/** Whether the holder's process may still be running; null when it cannot be checked from here. */
function alive(r: { pid: number; record: HolderRecord | null }): boolean | null {
  const rec = r.record;
  if (rec) {
    if (rec.host !== os.hostname()) return null;
    if (rec.bootId && bootId && rec.bootId !== bootId) return false; // rebooted since
    if (rec.pidNs && pidNs && rec.pidNs !== pidNs) return null;
  }
  try {
    process.kill(r.pid, 0);
  } catch (e) {
    // EPERM: it exists, as another user's process.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const st = startTime(r.pid);
  if (st === 'gone') return false;
  // Another process that got the PID since starts later than the holder did.
  return !(st !== null && rec && rec.start !== null && rec.start !== st);
}

/** Sleeps without giving up the thread (locks are taken in synchronous code). */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // gone already, or another user's: neither matters
  }
}

function rmdirQuietly(dir: string): void {
  try {
    fs.rmdirSync(dir); // fails while other holders remain: then it stays
  } catch {
    // not empty, or gone
  }
}

/** The two places holder files of `image` may live: next to it, and the per-host fallback. */
export function lockDirs(image: string): { primary: string; fallback: string } {
  const real = fs.realpathSync(image);
  const st = fs.statSync(real);
  return {
    primary: path.join(path.dirname(real), `.${path.basename(real)}.berth-lock`),
    fallback: path.join(fallbackRoot(), `${st.dev}-${st.ino}`),
  };
}

function fallbackRoot(): string {
  return path.join(os.tmpdir(), 'berth-disk-locks');
}

/**
 * Removes the empty per-image folders of the fallback root. The last holder to leave removes
 * its folder, but in the sticky root only the folder's maker may: a VMM whose folder another
 * user made (a guest and its clone read one frozen image) leaves it, and a supervisor running
 * as root prunes it here.
 */
export function pruneFallbackLocks(): void {
  const root = fallbackRoot();
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const n of names) rmdirQuietly(path.join(root, n));
}

/** Every user may add holders to the fallback root; the sticky bit keeps them from removing others'. */
function ensureFallbackRoot(): void {
  const root = fallbackRoot();
  try {
    fs.mkdirSync(root, { mode: 0o1777 });
    fs.chmodSync(root, 0o1777); // mkdir's mode is cut by the umask
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if (!fs.lstatSync(root).isDirectory()) throw new Error(`${root} is not a directory`);
}

function readHolders(dir: string): Holder[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // no holders there (or none we may see)
  }
  const out: Holder[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.startsWith(TMP_PREFIX)) {
      // Left by a process that died between writing and renaming it.
      const age = readOr(() => Date.now() - fs.statSync(file).mtimeMs, 0);
      if (age > 60_000) unlinkQuietly(file);
      continue;
    }
    const m = HOLDER_NAME.exec(name);
    if (!m) continue;
    let record: HolderRecord | null = null;
    try {
      record = JSON.parse(fs.readFileSync(file, 'utf8')) as HolderRecord;
    } catch (e) {
      if (isMissing(e)) continue; // released meanwhile
    }
    const h = { file, mode: m[1] as LockMode, pid: Number(m[2]), record };
    const live = alive(h);
    if (live === false) {
      unlinkQuietly(file); // stale: its process is gone
      continue;
    }
    out.push({ ...h, unverifiable: live === null });
  }
  return out;
}

function conflicts(want: LockMode, held: LockMode): boolean {
  return want === 'rw' || held === 'rw';
}

function describe(h: Holder): string {
  const r = h.record;
  const who =
    h.pid === process.pid && r?.host === os.hostname()
      ? `this process (PID ${h.pid})`
      : `process ${h.pid}${r?.cmd ? ` (${r.cmd})` : ''}${r && r.host !== os.hostname() ? ` on host ${r.host}` : ''}`;
  const how = h.mode === 'rw' ? 'read-write' : 'read-only';
  return `${who} has it open ${how}${r?.purpose ? ` as ${r.purpose}` : ''}`;
}

function conflictMessage(image: string, want: LockMode, holders: Holder[]): string {
  let advice: string;
  if (holders.every((h) => h.pid === process.pid && !h.unverifiable)) {
    advice =
      'The same image, or the backing file of another disk, is attached twice: attach each image once';
  } else if (want === 'ro') {
    advice = 'A reader would see it change under it: stop that virtual machine first';
  } else if (holders.some((h) => h.mode === 'rw')) {
    advice =
      'Two writers would corrupt it: stop that virtual machine first, or give this one its own copy of the image';
  } else {
    advice =
      'It cannot be written while others read it: stop them first, or attach it read-only here too with ,ro';
  }
  const unverifiable = holders.filter((h) => h.unverifiable);
  if (unverifiable.length > 0) {
    advice += `. If that process no longer runs, remove the stale lock file ${unverifiable.map((h) => h.file).join(', ')}`;
  }
  return `disk image ${image} is in use: ${holders.map(describe).join('; ')}. ${advice}.`;
}

/** Lock files still held by this process, removed if it exits without releasing them. */
const held = new Set<string>();
let exitHook = false;

function cleanUpAtExit(): void {
  for (const file of held) {
    unlinkQuietly(file);
    rmdirQuietly(path.dirname(file));
  }
}

/** A taken lock on one disk image; release() gives it up (idempotent). */
export class DiskLock {
  private released = false;

  /** @internal */
  constructor(
    readonly image: string,
    readonly mode: LockMode,
    /** The holder file this lock created. */
    readonly file: string,
  ) {
    held.add(file);
    reaper.track(file);
    reaper.track(path.dirname(file), { dir: true });
    if (!exitHook) {
      exitHook = true;
      process.on('exit', cleanUpAtExit);
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.file);
    unlinkQuietly(this.file);
    rmdirQuietly(path.dirname(this.file));
    reaper.untrack(this.file);
    reaper.untrack(path.dirname(this.file), { dir: true });
  }
}

export interface DiskLockOptions {
  /** What the image is used as, shown to whoever is refused, e.g. 'the backing file of X'. */
  purpose?: string;
  /** @internal For tests: skip the directory next to the image, as if it were not writable. */
  fallbackOnly?: boolean;
}

/** Writes a holder file into `dir` (created if needed); returns its path, or throws the fs error. */
function createHolder(dir: string, name: string, record: HolderRecord): string {
  const tmp = path.join(dir, `${TMP_PREFIX}${name}`);
  const file = path.join(dir, name);
  for (let attempt = 0; ; attempt++) {
    try {
      const made = fs.mkdirSync(dir, { recursive: true, mode: 0o777 });
      // A per-image folder in the shared fallback root is for every user of the image (VMMs of
      // a guest and of its clones run as different users): writable by all, sticky like /tmp.
      if (made !== undefined && path.dirname(dir) === fallbackRoot()) fs.chmodSync(dir, 0o1777);
      fs.writeFileSync(tmp, JSON.stringify(record) + '\n', { flag: 'wx' });
      break;
    } catch (e) {
      // The directory may vanish between mkdir and the write, when its last holder leaves.
      if (!isMissing(e) || attempt >= 5) throw e;
    }
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    unlinkQuietly(tmp);
    throw e;
  }
  return file;
}

/**
 * Locks `image` (an existing file) for reading ('ro', shared) or writing
 * ('rw', exclusive). Throws DiskLockError, naming the holders, when the
 * image is in use in a conflicting way.
 */
export function acquireDiskLock(
  image: string,
  mode: LockMode,
  options: DiskLockOptions = {},
): DiskLock {
  let dirs: { primary: string; fallback: string };
  try {
    dirs = lockDirs(image);
  } catch (e) {
    throw new DiskLockError(`cannot lock disk image ${image}: ${(e as Error).message}`);
  }
  const name = `${mode}-${process.pid}-${randomBytes(6).toString('hex')}`;
  const record: HolderRecord = {
    pid: process.pid,
    start: myStart,
    bootId,
    pidNs,
    host: os.hostname(),
    mode,
    purpose: options.purpose,
    cmd: process.argv.slice(1).join(' ').slice(0, 200),
    image: path.resolve(image),
    since: new Date().toISOString(),
  };
  for (let attempt = 1; ; attempt++) {
    let file: string;
    try {
      if (options.fallbackOnly) throw Object.assign(new Error('skipped'), { code: 'EACCES' });
      file = createHolder(dirs.primary, name, record);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') {
        throw new DiskLockError(
          `cannot lock disk image ${image}: cannot create a lock file in ${dirs.primary}: ${(e as Error).message}`,
        );
      }
      try {
        ensureFallbackRoot();
        file = createHolder(dirs.fallback, name, record);
      } catch (e2) {
        throw new DiskLockError(
          `cannot lock disk image ${image}: its directory is not writable (${code}) and the ` +
            `lock file cannot go to ${dirs.fallback} either: ${(e2 as Error).message}. ` +
            `Set TMPDIR to a writable directory shared by the users of the image`,
        );
      }
    }
    const others = [...readHolders(dirs.primary), ...readHolders(dirs.fallback)].filter(
      (h) => h.file !== file && conflicts(mode, h.mode),
    );
    if (others.length === 0) return new DiskLock(image, mode, file);
    unlinkQuietly(file);
    rmdirQuietly(path.dirname(file));
    const racing = others.some((h) => {
      if (h.pid === process.pid) return false; // ours: it will not withdraw
      const since = h.record ? Date.parse(h.record.since) : NaN;
      return !(Date.now() - since > RACE_WINDOW_MS);
    });
    if (!racing || attempt >= RACE_ATTEMPTS) {
      throw new DiskLockError(conflictMessage(image, mode, others));
    }
    sleepMs(10 + Math.random() * 90 * attempt);
  }
}
