// Disk layers: the qcow2 overlays a guest writes to after a snapshot froze its disks, as QEMU's
// external snapshots and libvirt's --disk-only snapshots make them. A snapshot freezes the
// image each writable disk writes to (the user's own file at first, a layer after) and gives
// the disk a new layer backed by it; a restore or a clone gives the guest new layers on the
// snapshot's frozen images. Layers live in STATE/layers/, named at random.
//
// Frozen images are only read, and may be read by several VMMs at once (a guest and its
// clones), so when VMMs run as users of their own a frozen image is not lent to one of them:
// it gets the VMMs' group and mode 0640 (a user's file keeps its owner; what it had is
// recorded and given back once nothing reads through it). The layer a guest writes is lent to
// its VMM as its disks are (guestFiles.ts).
//
// Nothing counts references: sweep() walks the backing chains of every guest's active images
// and every snapshot's frozen ones, deletes the layers none of them reaches and gives back the
// users' files none of them reaches. Layers made for an action under way are kept until it
// settles them.

import { chmodSync, chownSync, readdirSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { backingChain } from '../vmm/disk/backingChain.js';
import { pruneFallbackLocks } from '../vmm/disk/diskLock.js';
import { createQcow2 } from '../vmm/disk/qcow2Create.js';
import type { Owner } from './guestFiles.js';
import type { SnapshotStore } from './snapshotStore.js';
import type { StateDir } from './stateDir.js';

export class DiskLayers {
  /** Layers made for actions under way, not yet recorded. */
  private readonly pending = new Set<string>();

  constructor(
    private readonly dirs: StateDir,
    private readonly store: SnapshotStore,
    /** The group of the VMMs' users (null: VMMs run as the daemon's user). */
    private readonly vmmGid: number | null,
  ) {}

  isLayer(path: string): boolean {
    return dirname(path) === this.dirs.layersDir;
  }

  /** A new, empty layer backed by `backing` (the daemon's, mode 0600); settle() it after. */
  newLayer(backing: string): string {
    const path = join(this.dirs.layersDir, `${randomBytes(8).toString('hex')}.qcow2`);
    this.pending.add(path);
    createQcow2(path, undefined, { backingFile: backing });
    chmodSync(path, 0o600);
    return path;
  }

  /** Ends the pending state of layers: recorded now, or to be swept. */
  settle(paths: (string | null)[]): void {
    for (const p of paths) if (p !== null) this.pending.delete(p);
  }

  /**
   * Makes a just frozen image readable by every VMM (see above). `lentFrom`: the owner and mode
   * it had before it was lent to a running VMM, if it was.
   */
  freeze(path: string, lentFrom: Owner | null): void {
    if (this.vmmGid === null) return;
    if (this.isLayer(path)) {
      chownSync(path, process.getuid?.() ?? 0, this.vmmGid);
      chmodSync(path, 0o640);
      return;
    }
    const st = statSync(path);
    const before = lentFrom ?? { path, uid: st.uid, gid: st.gid, mode: st.mode };
    this.store.addFrozenBase({ ...before, path, mode: before.mode & 0o7777 });
    chownSync(path, before.uid, this.vmmGid);
    chmodSync(path, 0o640);
  }

  /** Deletes the layers nothing reads through; gives back the users' files nothing reads. */
  sweep(): void {
    const reached = new Set<string>();
    const roots = [...this.store.allActive().flat(), ...this.store.list().flatMap((s) => s.disks)];
    for (const r of roots) for (const f of chainOf(r)) reached.add(f);
    for (const name of safeList(this.dirs.layersDir)) {
      if (!name.endsWith('.qcow2') || name.startsWith('.')) continue; // e.g. disk lock folders
      const p = join(this.dirs.layersDir, name);
      if (!reached.has(p) && !this.pending.has(p)) rmSync(p, { force: true });
    }
    pruneFallbackLocks(); // per-image lock folders that VMMs of other users could not remove
    for (const b of this.store.frozenBases()) {
      if (reached.has(b.path)) continue;
      try {
        chownSync(b.path, b.uid, b.gid);
        chmodSync(b.path, b.mode);
      } catch {
        // gone: nothing to give back
      }
      this.store.removeFrozenBase(b.path);
    }
  }
}

function chainOf(path: string): string[] {
  try {
    return backingChain(path);
  } catch {
    return [path]; // gone or unreadable: it reaches nothing further
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
