// The daemon's persistent state in SQLite (better-sqlite3, WAL): each guest's spec and current
// state (with the PIDs of its VMM), and an append-only events table (time, guest, type,
// reason, detail). Survives the daemon, so that a new daemon adopts running guests.

import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import type { GuestSpec } from './guestSpec.js';
import type { GuestState } from './states.js';
import { SnapshotStore } from './snapshotStore.js';

export interface GuestRow {
  name: string;
  spec: GuestSpec;
  state: GuestState;
  reason: string;
  /** The wrapper shell that leads the VMM's session (our child, or adopted). */
  sessionPid: number | null;
  /** The VMM process itself, as its status reports. */
  vmmPid: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface GuestEvent {
  id: number;
  time: string;
  guest: string;
  /** A lifecycle type: created, deleted, a state name (starting, running...), adopted. */
  type: string;
  reason: string;
  detail: string | null;
}

interface RawGuest {
  name: string;
  spec: string;
  state: string;
  reason: string;
  session_pid: number | null;
  vmm_pid: number | null;
  created_at: string;
  updated_at: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS guests (
  name TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  session_pid INTEGER,
  vmm_pid INTEGER,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  guest TEXT NOT NULL,
  type TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS events_guest ON events (guest, id);
`;

function toRow(r: RawGuest): GuestRow {
  return {
    name: r.name,
    spec: JSON.parse(r.spec) as GuestSpec,
    state: r.state as GuestState,
    reason: r.reason,
    sessionPid: r.session_pid,
    vmmPid: r.vmm_pid,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class Store {
  private readonly db: Database.Database;
  /** Emits 'event' with each GuestEvent as it is stored. */
  readonly events = new EventEmitter();
  /** Snapshots, disk layers and frozen bases (snapshotStore.ts). */
  readonly snapshots: SnapshotStore;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.snapshots = new SnapshotStore(this.db);
    this.events.setMaxListeners(0);
  }

  close(): void {
    this.db.close();
  }

  list(): GuestRow[] {
    return (this.db.prepare('SELECT * FROM guests ORDER BY name').all() as RawGuest[]).map(toRow);
  }

  get(name: string): GuestRow | null {
    const r = this.db.prepare('SELECT * FROM guests WHERE name = ?').get(name) as
      RawGuest | undefined;
    return r ? toRow(r) : null;
  }

  /** Adds a guest in state stopped, with its 'created' event, in one transaction. */
  create(spec: GuestSpec): GuestRow {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO guests (name, spec, state, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(spec.name, JSON.stringify(spec), 'stopped', 'created', now, now);
      this.addEvent(spec.name, 'created', 'user', null, now);
    })();
    return this.get(spec.name)!;
  }

  /** Removes a guest with its snapshots and layers (its events stay, ending with 'deleted'). */
  delete(name: string, reason = 'user', detail: string | null = null): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM guests WHERE name = ?').run(name);
      this.snapshots.forgetGuest(name);
      this.addEvent(name, 'deleted', reason, detail);
    })();
  }

  /** Records a new state and its event together. */
  setState(name: string, state: GuestState, reason: string, detail: string | null = null): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE guests SET state = ?, reason = ?, updated_at = ? WHERE name = ?')
        .run(state, reason, now, name);
      this.addEvent(name, state, reason, detail, now);
    })();
  }

  setPids(name: string, sessionPid: number | null, vmmPid: number | null): void {
    this.db
      .prepare('UPDATE guests SET session_pid = ?, vmm_pid = ? WHERE name = ?')
      .run(sessionPid, vmmPid, name);
  }

  addEvent(
    guest: string,
    type: string,
    reason: string,
    detail: string | null,
    time = new Date().toISOString(),
  ): GuestEvent {
    const info = this.db
      .prepare('INSERT INTO events (time, guest, type, reason, detail) VALUES (?, ?, ?, ?, ?)')
      .run(time, guest, type, reason, detail);
    const ev: GuestEvent = { id: Number(info.lastInsertRowid), time, guest, type, reason, detail };
    this.events.emit('event', ev);
    return ev;
  }

  /** Events, oldest first; of one guest when named; after id `since`; the last `limit`. */
  listEvents(opts: { guest?: string; since?: number; limit?: number } = {}): GuestEvent[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM (SELECT * FROM events WHERE (? IS NULL OR guest = ?) AND id > ?
         ORDER BY id DESC LIMIT ?) ORDER BY id`,
      )
      .all(opts.guest ?? null, opts.guest ?? null, opts.since ?? 0, opts.limit ?? 1000);
    return rows as GuestEvent[];
  }

  eventCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  }
}
