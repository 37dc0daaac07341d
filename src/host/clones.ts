// `berth clone GUEST NEW`: a new guest that starts from GUEST's state without booting. The
// parent's machine and disks are captured at one instant as a snapshot would be
// (Snapshots.capture: it pauses meanwhile and writes on into new layers); the clone gets its
// own copy-on-write layers on the frozen disks and runs on from the captured machine in a VMM
// of its own (reason "cloned"), with its own network card: a new MAC address (its VMM tells
// the guest, see src/vmm/generation.ts) and no published ports unless given, since the
// parent's are taken. A stopped parent gives a stopped clone with its disks. The new
// generation ID each restore brings makes the clone's kernel reseed its random state.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, HostError } from './errors.js';
import type { GuestSpec } from './guestSpec.js';
import type { Operation } from './operations.js';
import type { SnapshotHost, Snapshots } from './snapshots.js';
import type { GuestView } from './supervisorBase.js';

export interface CloneOptions {
  /** Published ports of the clone (user networking), as in a spec; default none. */
  forwards?: unknown[];
}

export interface CloneHost extends SnapshotHost {
  create(input: unknown): GuestView;
  delete(name: string, opts?: { force?: boolean }): void;
}

export class Clones {
  constructor(
    private readonly host: CloneHost,
    private readonly snapshots: Snapshots,
  ) {}

  clone(parent: string, name: string, opts: CloneOptions = {}): Operation {
    const pg = this.host.guestRow(parent);
    if (pg.state === 'starting' || pg.state === 'stopping') {
      throw conflict(`guest '${parent}' is ${pg.state}: clone it once it is running or stopped`);
    }
    const prt = this.snapshots.claim(parent, `being cloned to '${name}'`);
    try {
      this.host.create(cloneSpec(pg.spec, name, opts));
    } catch (e) {
      prt.busy = null;
      throw e;
    }
    const { dirs, store } = this.host;
    const machineFile = join(dirs.guestDir(name), 'clone.snap');
    return this.host.operations.run(`Cloning guest ${parent} to ${name}`, name, async () => {
      let started = false;
      try {
        let stateful = false;
        await this.snapshots.capture(pg, prt, machineFile, (c) => {
          store.snapshots.setActive(parent, c.active);
          this.snapshots.giveLayers(this.host.guestRow(name), c.frozen);
          stateful = c.bytes !== null;
        });
        prt.busy = null;
        store.addEvent(name, 'cloned', 'user', parent);
        if (stateful) {
          this.host.runtime(name).restoreFrom = machineFile;
          started = true;
          await this.snapshots.await(this.host.start(name, 'cloned'), 'start of the clone');
        }
      } catch (e) {
        // Nothing of the clone is left when it did not get as far as its start.
        if (!started) this.host.delete(name, { force: true });
        throw e;
      } finally {
        prt.busy = null;
        rmSync(machineFile, { force: true });
      }
    });
  }
}

/** The parent's spec for the clone: its name, and a card of its own (a new MAC; ports as given). */
function cloneSpec(spec: GuestSpec, name: string, opts: CloneOptions): Record<string, unknown> {
  const net = spec.network;
  if (opts.forwards !== undefined && net.kind !== 'user') {
    throw new HostError(400, `forwards: the guest '${spec.name}' has no user networking`);
  }
  let network: Record<string, unknown> = { kind: 'none' };
  // The card stays on its bus: the clone starts from the parent's snapshot, on its board.
  const bus = net.kind !== 'none' && net.bus !== undefined ? { bus: net.bus } : {};
  if (net.kind === 'user') network = { kind: 'user', forwards: opts.forwards ?? [], ...bus };
  else if (net.kind === 'tap') network = { kind: 'tap', bridge: net.bridge, ...bus };
  return { ...spec, name, network, autostart: false };
}
