// The daemon's records of snapshots and disk layers, in the daemon's SQLite database (store.ts):
// each snapshot (guest, name, time, whether it holds the machine or the disks alone, the size
// of its machine file, the frozen image of each VMM disk), each guest's active disk images
// (the layers its writes go to; none recorded: the spec's own files), and the users' disk
// files that became frozen bases, with the owner and mode they had, given back when nothing
// reads through them any more (diskLayers.ts).

import type Database from 'better-sqlite3';

export interface SnapshotRow {
  guest: string;
  name: string;
  createdAt: string;
  /** True: the machine was saved too (the guest ran); false: the disks alone. */
  stateful: boolean;
  /** Size of the machine file (0 for a disk-only snapshot). */
  bytes: number;
  /** The frozen image of each VMM disk, in VMM order (a read-only disk: its own file). */
  disks: string[];
}

export interface FrozenBase {
  path: string;
  uid: number;
  gid: number;
  mode: number;
}

export const SNAPSHOT_SCHEMA = `
CREATE TABLE IF NOT EXISTS snapshots (
  guest TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  stateful INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  disks TEXT NOT NULL,
  PRIMARY KEY (guest, name)
);
CREATE TABLE IF NOT EXISTS disk_layers (
  guest TEXT PRIMARY KEY,
  paths TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS frozen_bases (
  path TEXT PRIMARY KEY,
  uid INTEGER NOT NULL,
  gid INTEGER NOT NULL,
  mode INTEGER NOT NULL
);
`;

interface RawSnapshot {
  guest: string;
  name: string;
  created_at: string;
  stateful: number;
  bytes: number;
  disks: string;
}

const toSnapshot = (r: RawSnapshot): SnapshotRow => ({
  guest: r.guest,
  name: r.name,
  createdAt: r.created_at,
  stateful: r.stateful === 1,
  bytes: r.bytes,
  disks: JSON.parse(r.disks) as string[],
});

export class SnapshotStore {
  constructor(private readonly db: Database.Database) {
    db.exec(SNAPSHOT_SCHEMA);
  }

  list(guest?: string): SnapshotRow[] {
    const rows = this.db
      .prepare('SELECT * FROM snapshots WHERE (? IS NULL OR guest = ?) ORDER BY guest, created_at')
      .all(guest ?? null, guest ?? null) as RawSnapshot[];
    return rows.map(toSnapshot);
  }

  get(guest: string, name: string): SnapshotRow | null {
    const r = this.db
      .prepare('SELECT * FROM snapshots WHERE guest = ? AND name = ?')
      .get(guest, name) as RawSnapshot | undefined;
    return r ? toSnapshot(r) : null;
  }

  /** Records a snapshot and the guest's new active images together. */
  add(s: SnapshotRow, active: string[]): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO snapshots (guest, name, created_at, stateful, bytes, disks) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(s.guest, s.name, s.createdAt, s.stateful ? 1 : 0, s.bytes, JSON.stringify(s.disks));
      this.setActive(s.guest, active);
    })();
  }

  remove(guest: string, name: string): void {
    this.db.prepare('DELETE FROM snapshots WHERE guest = ? AND name = ?').run(guest, name);
  }

  /** Forgets a guest's snapshots and layers (the guest is being deleted). */
  forgetGuest(guest: string): void {
    this.db.prepare('DELETE FROM snapshots WHERE guest = ?').run(guest);
    this.db.prepare('DELETE FROM disk_layers WHERE guest = ?').run(guest);
  }

  /** The images a guest's VMM disks write to, or null: the spec's own files. */
  active(guest: string): string[] | null {
    const r = this.db.prepare('SELECT paths FROM disk_layers WHERE guest = ?').get(guest) as
      { paths: string } | undefined;
    return r ? (JSON.parse(r.paths) as string[]) : null;
  }

  setActive(guest: string, paths: string[]): void {
    this.db
      .prepare(
        'INSERT INTO disk_layers (guest, paths) VALUES (?, ?) ON CONFLICT (guest) DO UPDATE SET paths = excluded.paths',
      )
      .run(guest, JSON.stringify(paths));
  }

  /** Every guest's active images. */
  allActive(): string[][] {
    const rows = this.db.prepare('SELECT paths FROM disk_layers').all() as { paths: string }[];
    return rows.map((r) => JSON.parse(r.paths) as string[]);
  }

  frozenBases(): FrozenBase[] {
    return this.db.prepare('SELECT * FROM frozen_bases').all() as FrozenBase[];
  }

  /** Records a user's file as a frozen base (its first record wins: the owner it had before). */
  addFrozenBase(b: FrozenBase): void {
    this.db
      .prepare(
        'INSERT INTO frozen_bases (path, uid, gid, mode) VALUES (?, ?, ?, ?) ON CONFLICT (path) DO NOTHING',
      )
      .run(b.path, b.uid, b.gid, b.mode);
  }

  removeFrozenBase(path: string): void {
    this.db.prepare('DELETE FROM frozen_bases WHERE path = ?').run(path);
  }
}
