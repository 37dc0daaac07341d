// Snapshots of guests through the daemon: create, list, restore and delete (berth snapshot).
// A snapshot of a running or paused guest holds its machine (the VMM's snapshot file, written
// while the guest is paused) and its disks as they were at that instant: each writable disk is
// frozen and the guest writes on into a new layer (diskLayers.ts, the VMM's LayeredDisk). A
// snapshot of a stopped guest holds its disks alone. A restore stops the guest (a forced stop:
// what it has now is discarded), gives it new layers on the snapshot's frozen disks and, for
// a snapshot with a machine, starts it from that machine (reason "restored"); a disk-only
// snapshot leaves it as it was, stopped, or booted afresh if it ran. One snapshot action runs
// per guest at a time.

import { chmodSync, chownSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { controlRequest } from '../vmm/controlClient.js';
import type { SnapshotResult } from '../vmm/vmm.js';
import type { VmmStatus } from '../vmm/status.js';
import type { DiskLayers } from './diskLayers.js';
import { conflict, HostError, notFound } from './errors.js';
import { lendFile, unlistLent } from './guestFiles.js';
import { logTail, type GuestRuntime } from './guestRuntime.js';
import { GuestName } from './guestSpec.js';
import type { Operation, Operations } from './operations.js';
import type { SnapshotRow } from './snapshotStore.js';
import type { StateDir } from './stateDir.js';
import type { GuestRow, Store } from './store.js';
import type { StopOptions } from './supervisorBase.js';
import { vmmDisks } from './vmmConfig.js';
import type { VmmAccount } from './vmmUser.js';

/** How long the VMM may take to write a snapshot (its RAM, deflated, while paused). */
const SNAPSHOT_TIMEOUT_MS = 600_000;

/** What the snapshot actions need of the supervisor. */
export interface SnapshotHost {
  readonly store: Store;
  readonly dirs: StateDir;
  readonly operations: Operations;
  readonly account: VmmAccount | null;
  readonly layers: DiskLayers;
  guestRow(name: string): GuestRow;
  runtime(name: string): GuestRuntime;
  start(name: string, reason?: string): Operation;
  stop(name: string, opts?: StopOptions): Operation;
}

/** What capture() froze: per VMM disk the frozen image and the one written now; the machine file's size (null: disks alone). */
export interface Captured {
  frozen: string[];
  active: string[];
  bytes: number | null;
}

/** A snapshot as the API shows it. */
export interface SnapshotView extends SnapshotRow {
  /** The machine file (null for a disk-only snapshot). */
  file: string | null;
}

export class Snapshots {
  constructor(private readonly host: SnapshotHost) {}

  list(guest: string): SnapshotView[] {
    this.host.guestRow(guest);
    return this.host.store.snapshots.list(guest).map((s) => this.view(s));
  }

  get(guest: string, name: string): SnapshotView {
    return this.view(this.row(guest, name));
  }

  private view(s: SnapshotRow): SnapshotView {
    return { ...s, file: s.stateful ? this.host.dirs.snapshotFile(s.guest, s.name) : null };
  }

  private row(guest: string, name: string): SnapshotRow {
    this.host.guestRow(guest);
    const s = this.host.store.snapshots.get(guest, name);
    if (!s) throw notFound(`guest '${guest}' has no snapshot named '${name}'`);
    return s;
  }

  /** Marks the guest busy with `what` for the time of an action; refuses a second one. */
  claim(guest: string, what: string): GuestRuntime {
    const rt = this.host.runtime(guest);
    if (rt.busy) throw conflict(`guest '${guest}' is busy ${rt.busy}; try again when it is done`);
    if (rt.launching) throw conflict(`guest '${guest}' is being launched; try again once it runs`);
    rt.busy = what;
    return rt;
  }

  create(guest: string, name: string): Operation {
    const g = this.host.guestRow(guest);
    const parsed = GuestName.safeParse(name);
    if (!parsed.success) {
      throw new HostError(400, `snapshot name: ${parsed.error.issues[0].message}`);
    }
    if (this.host.store.snapshots.get(guest, name)) {
      throw conflict(`guest '${guest}' has a snapshot named '${name}' already`);
    }
    if (g.state === 'starting' || g.state === 'stopping') {
      throw conflict(`guest '${guest}' is ${g.state}: snapshot it once it is running or stopped`);
    }
    const rt = this.claim(guest, `taking snapshot '${name}'`);
    const file = this.host.dirs.snapshotFile(guest, name);
    return this.host.operations.run(`Snapshot ${name} of guest ${guest}`, guest, async () => {
      try {
        await this.capture(g, rt, file, (c) =>
          this.host.store.snapshots.add(
            {
              guest,
              name,
              createdAt: new Date().toISOString(),
              stateful: c.bytes !== null,
              bytes: c.bytes ?? 0,
              disks: c.frozen,
            },
            c.active,
          ),
        );
        this.host.store.addEvent(guest, 'snapshot-created', 'user', name);
      } finally {
        rt.busy = null;
      }
    });
  }

  /** The guest's VMM disks: whether each is read-only, and the image each writes to now. */
  private disks(g: GuestRow): { readOnly: boolean; active: string }[] {
    const spec = vmmDisks(g.spec);
    const active = this.host.store.snapshots.active(g.name);
    return spec.map((d, i) => ({ readOnly: d.readOnly, active: active?.[i] ?? d.path }));
  }

  /**
   * Freezes the guest's writable disks at one instant and gives it new layers to write on
   * (diskLayers.ts); a running or paused guest's machine is saved to `machineFile` at the same
   * instant (it pauses meanwhile), a stopped guest's disks are frozen alone. `record` stores
   * the outcome (the new layers are swept unless it does).
   */
  async capture(
    g: GuestRow,
    rt: GuestRuntime,
    machineFile: string,
    record: (c: Captured) => void,
  ): Promise<void> {
    const { layers } = this.host;
    const disks = this.disks(g);
    const overlays = disks.map((d) => (d.readOnly ? null : layers.newLayer(d.active)));
    const active = overlays.map((o, i) => o ?? disks[i].active);
    try {
      if (g.state === 'running' || g.state === 'paused') {
        const r = await this.freezeRunning(g, rt, disks, overlays, machineFile);
        // The last status the watcher has shows the images before the freeze; so should not the API.
        rt.status?.disks.forEach((d, i) => (d.path = active[i] ?? d.path));
        record({ frozen: r.frozen.map((f, i) => f ?? disks[i].active), active, bytes: r.bytes });
      } else {
        for (const d of disks) if (!d.readOnly) layers.freeze(d.active, null);
        record({ frozen: disks.map((d) => d.active), active, bytes: null });
      }
    } finally {
      layers.settle(overlays);
      layers.sweep(); // overlays not taken up
    }
  }

  /** The VMM saves the machine to `machineFile` and freezes its disks into `overlays`. */
  private async freezeRunning(
    g: GuestRow,
    rt: GuestRuntime,
    disks: { readOnly: boolean; active: string }[],
    overlays: (string | null)[],
    machineFile: string,
  ): Promise<SnapshotResult> {
    const { dirs, layers, account } = this.host;
    const owners = dirs.ownersFile(g.name);
    const lending = account !== null && rt.uid !== null;
    const tmp = join(dirs.runDir(g.name), `snapshot-${process.pid}.snap`);
    try {
      if (lending) for (const o of overlays) if (o) lendFile(owners, o, rt.uid!, account.gid);
      let r: SnapshotResult;
      try {
        r = await controlRequest<SnapshotResult>(
          dirs.controlSocket(g.name),
          { cmd: 'snapshot', path: tmp, overlays },
          SNAPSHOT_TIMEOUT_MS,
        );
      } catch (e) {
        await this.adoptFreezes(g.name, disks, overlays, owners, lending);
        const tail = logTail(dirs.vmmLog(g.name), 600).trim();
        throw new HostError(
          500,
          `cannot snapshot '${g.name}': ${(e as Error).message}${tail ? `; its VMM's log ends: ${tail}` : ''}`,
        );
      }
      mkdirSync(dirname(machineFile), { recursive: true, mode: lending ? 0o711 : 0o700 });
      renameSync(tmp, machineFile);
      if (lending) chownSync(machineFile, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
      chmodSync(machineFile, 0o600);
      r.frozen.forEach((f) => f && layers.freeze(f, lending ? unlistLent(owners, f) : null));
      return r;
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  /**
   * After a failed snapshot request: a VMM that froze its disks anyway (the answer was lost)
   * writes to the overlays now, so they become the guest's images; otherwise they are dropped.
   */
  private async adoptFreezes(
    guest: string,
    disks: { readOnly: boolean; active: string }[],
    overlays: (string | null)[],
    owners: string,
    lending: boolean,
  ): Promise<void> {
    const status = await controlRequest<VmmStatus>(
      this.host.dirs.controlSocket(guest),
      { cmd: 'status' },
      5000,
    ).catch(() => null);
    const inUse = status?.disks.map((d) => d.path) ?? [];
    if (overlays.some((o) => o !== null && inUse.includes(o))) {
      disks.forEach((d, i) => {
        if (overlays[i] !== null)
          this.host.layers.freeze(d.active, lending ? unlistLent(owners, d.active) : null);
      });
      this.host.store.snapshots.setActive(
        guest,
        overlays.map((o, i) => o ?? disks[i].active),
      );
      return;
    }
    for (const o of overlays) if (o && lending) unlistLent(owners, o);
  }

  /** Removes a snapshot; the disk layers only it kept are deleted. */
  delete(guest: string, name: string): void {
    this.row(guest, name);
    const rt = this.claim(guest, `deleting snapshot '${name}'`);
    try {
      rmSync(this.host.dirs.snapshotFile(guest, name), { force: true });
      this.host.store.snapshots.remove(guest, name);
      this.host.layers.sweep();
      this.host.store.addEvent(guest, 'snapshot-deleted', 'user', name);
    } finally {
      rt.busy = null;
    }
  }

  restore(guest: string, name: string): Operation {
    const s = this.row(guest, name);
    const g = this.host.guestRow(guest);
    if (g.state === 'starting' || g.state === 'stopping') {
      throw conflict(`guest '${guest}' is ${g.state}: restore it once it is running or stopped`);
    }
    const rt = this.claim(guest, `restoring snapshot '${name}'`);
    const ran = g.state === 'running' || g.state === 'paused';
    return this.host.operations.run(`Restoring guest ${guest} to ${name}`, guest, async () => {
      try {
        if (ran) await this.await(this.host.stop(guest, { force: true }), 'stop');
        this.giveLayers(this.host.guestRow(guest), s.disks);
        this.host.store.addEvent(guest, 'snapshot-restored', 'user', name);
        if (s.stateful) rt.restoreFrom = this.host.dirs.snapshotFile(guest, name);
        if (s.stateful || ran) {
          await this.await(this.host.start(guest, s.stateful ? 'restored' : 'user'), 'start');
        }
      } finally {
        rt.busy = null;
        rt.restoreFrom = null;
      }
    });
  }

  /** New layers on `frozen` (read-only disks keep their file) become the guest's images. */
  giveLayers(g: GuestRow, frozen: string[]): void {
    const { layers, store } = this.host;
    const spec = vmmDisks(g.spec);
    if (frozen.length !== spec.length) {
      throw new HostError(
        500,
        `the snapshot holds ${frozen.length} disks, the guest ${spec.length}`,
      );
    }
    const overlays = frozen.map((f, i) => (spec[i].readOnly ? null : layers.newLayer(f)));
    try {
      store.snapshots.setActive(
        g.name,
        overlays.map((o, i) => o ?? frozen[i]),
      );
    } finally {
      layers.settle(overlays);
      layers.sweep();
    }
  }

  async await(op: Operation, what: string): Promise<void> {
    const done = await this.host.operations.wait(op.id, 3_600_000);
    if (done?.status !== 'Success')
      throw new Error(`the ${what} failed: ${done?.err ?? 'no answer'}`);
  }
}
