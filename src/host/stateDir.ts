// Where the daemon keeps its state: /var/lib/berth as root, else $XDG_STATE_HOME/berth (or
// ~/.local/state/berth). Inside: berth.db (SQLite), berth.sock (the API), guests/NAME/ (the
// VMM's config, log, exit status, UID and lent disks; console/ holds the guest's console log,
// lent to the VMM's user while it runs; snapshots/ their machine files), layers/ (disk
// layers, diskLayers.ts), boot/ (boot files VMMs may read) and
// run/NAME/sock (control sockets in folders of their VMMs' own, short paths because a UNIX
// socket path holds at most 107 bytes).

import { chmodSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { badRequest } from './errors.js';

export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/berth';
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'berth');
}

/** The largest UNIX socket path Linux accepts (sun_path less its NUL). */
export const MAX_SOCKET_PATH = 107;

export class StateDir {
  constructor(readonly root: string) {}

  get db(): string {
    return join(this.root, 'berth.db');
  }
  get apiSocket(): string {
    return join(this.root, 'berth.sock');
  }
  guestDir(name: string): string {
    return join(this.root, 'guests', name);
  }
  vmmConfig(name: string): string {
    return join(this.guestDir(name), 'vmm.json');
  }
  vmmLog(name: string): string {
    return join(this.guestDir(name), 'vmm.log');
  }
  /** The folder the VMM writes and rotates the guest's console log in (lent to its user). */
  consoleDir(name: string): string {
    return join(this.guestDir(name), 'console');
  }
  /** The guest's console output (console.log.1, .2 beside it: the older parts). */
  consoleLog(name: string): string {
    return join(this.consoleDir(name), 'console.log');
  }
  /** Written by the VMM's wrapper shell with the VMM's exit status when it ends. */
  exitFile(name: string): string {
    return join(this.guestDir(name), 'exit');
  }
  /** The VMM's user ID, for a later daemon that adopts it. */
  uidFile(name: string): string {
    return join(this.guestDir(name), 'uid');
  }
  /** Owners and modes of the disks handed to the VMM's user, given back when it ends. */
  ownersFile(name: string): string {
    return join(this.guestDir(name), 'owners.json');
  }
  /** Boot files copied where unprivileged VMMs can read them. */
  get bootDir(): string {
    return join(this.root, 'boot');
  }
  /** A folder of the VMM's own (its user makes its control socket there). */
  runDir(name: string): string {
    return join(this.root, 'run', name);
  }
  controlSocket(name: string): string {
    return join(this.runDir(name), 'sock');
  }
  /** The guest's snapshots: SNAP.snap holds the machine of a snapshot taken while it ran. */
  snapshotDir(name: string): string {
    return join(this.guestDir(name), 'snapshots');
  }
  snapshotFile(name: string, snapshot: string): string {
    return join(this.snapshotDir(name), `${snapshot}.snap`);
  }
  /**
   * Disk layers (qcow2 overlays) of every guest: the images guests write after a snapshot froze
   * their disks, and the frozen ones snapshots and clones read through (diskLayers.ts).
   */
  get layersDir(): string {
    return join(this.root, 'layers');
  }

  /**
   * Disks this host made for guests that migrated in with their storage (copyStorage.ts):
   * NAME.N.img or NAME.N.qcow2, the guest's disk N. They stay when the guest is deleted, as
   * the files of any spec do.
   */
  get disksDir(): string {
    return join(this.root, 'disks');
  }

  /**
   * Makes the folders: mode 0700 (guests' consoles and configs are the owner's only), or 0711
   * when VMMs run as other users (`passable`): they may pass through to their own files, named
   * in their configs, but list nothing. The database and sockets are 0600 in any case.
   */
  prepare(passable = false): void {
    const mode = passable ? 0o711 : 0o700;
    for (const d of [
      this.root,
      join(this.root, 'guests'),
      join(this.root, 'run'),
      this.layersDir,
      this.disksDir,
    ]) {
      mkdirSync(d, { recursive: true, mode });
      chmodSync(d, mode);
    }
  }

  /** Refuses a name whose control socket path would be too long for this state folder. */
  checkSocketPath(name: string): void {
    const p = this.controlSocket(name);
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH) {
      throw badRequest(
        `name: '${name}' is too long for the state folder ${this.root}: its control socket ` +
          `${p} would pass the ${MAX_SOCKET_PATH}-byte limit of UNIX socket paths`,
      );
    }
  }
}
