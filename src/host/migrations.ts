// Live migration of a running guest to the daemon of another host (the stream itself is the
// VMM's: src/vmm/migration/). This daemon asks the destination's API (TLS pinned by its
// certificate's fingerprint, its bearer token) to take the guest: the destination checks that
// it can run it, records it as migrating and starts a VMM that waits for the stream on the
// address its API was reached at (Supervisor.takeIncoming). This daemon then tells its own VMM
// to send the guest there and follows the migration as an operation whose metadata are the
// VMM's statistics (the fields of QEMU's query-migrate).
//
// Completed: the guest runs at the destination, and this host forgets it when its VMM ends
// (watcher.ts). Failed or cancelled before the switch: it runs on here (reason
// migration-failed), and the destination forgets its copy when its VMM ends. Unknown (the last
// acknowledgement lost): it stays paused here, as QEMU leaves it, and the operation says so.
// Disks are files both hosts reach at the same paths, or, with copyStorage, the writable ones
// are copied while the guest runs (copyStorage.ts: the destination makes its own). Snapshots and
// disk layers, which live in this host's state folder, do not move, so a guest that has them is
// refused.

import { controlRequest } from '../vmm/controlClient.js';
import type { MigrationStats } from '../vmm/migration/stats.js';
import type { VmmStatus } from '../vmm/status.js';
import { ApiClient } from './apiClient.js';
import { describeDisks } from './copyStorage.js';
import { badRequest, conflict, HostError } from './errors.js';
import type { GuestRuntime } from './guestRuntime.js';
import { OperationCancelled, type Operation, type OperationControl } from './operations.js';
import type { Operations } from './operations.js';
import { normalizeFingerprint, type RemoteTarget } from './remoteTarget.js';
import type { GuestState } from './states.js';
import type { StateDir } from './stateDir.js';
import type { GuestRow, Store } from './store.js';

/** Where to and how: the destination daemon's API and the VMM's migrate options. */
export interface MigrateRequest {
  /** https://HOST:PORT of the destination daemon (`berth daemon --listen`). */
  url: string;
  /** Its bearer token (the content of its token file). */
  token: string;
  /** The SHA-256 fingerprint of its certificate, as it printed it. */
  fingerprint: string;
  downtimeMs?: number;
  maxBandwidth?: number | null;
  timeoutS?: number;
  /** Copy the writable disks while the guest runs (copyStorage.ts) instead of sharing them. */
  copyStorage?: boolean;
}

export interface MigrationHost {
  readonly store: Store;
  readonly dirs: StateDir;
  readonly operations: Operations;
  guestRow(name: string): GuestRow;
  runtime(name: string): GuestRuntime;
}

type Transition = (name: string, to: GuestState, reason: string, detail?: string) => boolean;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** How long the operation waits on a VMM that neither answers nor ends (SIGSTOPped, stuck). */
const SILENT_MS = 20_000;

export class Migrations {
  constructor(
    private readonly host: MigrationHost,
    private readonly transition: Transition,
  ) {}

  /** Checks everything it can, then migrates `name` as an operation. */
  migrate(name: string, req: MigrateRequest): Operation {
    const g = this.host.guestRow(name);
    if (g.state !== 'running') {
      throw conflict(`guest '${name}' is ${g.state}: only a running guest migrates`);
    }
    const rt = this.host.runtime(name);
    if (rt.busy) throw conflict(`guest '${name}' is busy ${rt.busy}; try again when it is done`);
    const snaps = this.host.store.snapshots;
    if (snaps.list(name).length > 0 || snaps.active(name) !== null) {
      throw conflict(
        `guest '${name}' has snapshots or disk layers, which live in this host's state folder ` +
          `and do not move with it: delete its snapshots first`,
      );
    }
    const target = remoteOf(req);
    rt.migration = 'out';
    this.transition(name, 'migrating', 'user', target.url.origin);
    return this.host.operations.run(`Migrating guest ${name} to ${target.url.host}`, name, (ctl) =>
      this.follow(name, target, req, ctl),
    );
  }

  private async follow(
    name: string,
    target: RemoteTarget,
    req: MigrateRequest,
    ctl: OperationControl,
  ): Promise<void> {
    const rt = this.host.runtime(name);
    const sock = this.host.dirs.controlSocket(name);
    const runsOn = (why: string): void => {
      rt.migration = null;
      this.transition(name, 'running', 'migration-failed', why);
    };
    const dest = new ApiClient('', target);
    try {
      const spec = this.host.guestRow(name).spec;
      const copy = req.copyStorage === true;
      const { port, token } = await dest.call<{ port: number; token: string | null }>(
        'POST',
        '/v1/migrations/incoming',
        copy ? { spec, copyStorage: true, disks: describeDisks(spec) } : { spec },
      );
      await controlRequest(sock, {
        cmd: 'migrate',
        to: `${target.url.hostname}:${port}`,
        // the stream pinned to the certificate this daemon pinned for the API, with its token
        ...(token ? { tls: { fingerprint: target.fingerprint }, token } : {}),
        downtimeMs: req.downtimeMs ?? 300,
        maxBandwidth: req.maxBandwidth ?? null,
        timeoutS: req.timeoutS ?? 600,
        mirror: copy,
        holdMs: 10_000, // for the final figures: it ends when told to quit below
      });
    } catch (e) {
      const why = (e as Error).message;
      runsOn(why);
      throw new HostError(
        e instanceof HostError ? e.status : 502,
        `cannot migrate '${name}': ${why}; it runs on here`,
      );
    }
    let last: MigrationStats | null = null;
    ctl.cancellable(() => {
      if (last?.status === 'device') {
        throw conflict(`the migration of '${name}' is switching hosts: it cannot be cancelled`);
      }
    });
    let cancelSent = false;
    let answered = Date.now();
    for (;;) {
      await sleep(200);
      if (ctl.signal.aborted && !cancelSent) {
        cancelSent = true;
        await controlRequest(sock, { cmd: 'migrate-cancel' }).catch(() => null);
      }
      const s = await controlRequest<VmmStatus>(sock, { cmd: 'status' }, 2000).catch(() => null);
      if (s === null) {
        // Its VMM has ended: after the switch the watcher forgets the guest.
        const g = this.host.store.get(name);
        if (g === null) return;
        if (g.state !== 'migrating') {
          throw new Error(`the VMM of '${name}' ended during the migration (${g.state})`);
        }
        if (Date.now() - answered > SILENT_MS) {
          // Stopped or stuck: the watcher settles the guest when its VMM answers or ends.
          rt.migration = null;
          throw new Error(
            `the VMM of '${name}' has not answered for ${SILENT_MS / 1000} s ` +
              `(last seen: ${last?.status ?? 'starting'}); the guest stays migrating until ` +
              'its VMM answers (the watcher then reads how the migration ended) or ends',
          );
        }
        continue;
      }
      answered = Date.now();
      const m = s.migration;
      if (m?.direction !== 'out') continue;
      last = m;
      ctl.report({ ...m });
      if (m.status === 'completed') {
        ctl.uncancellable(`the migration of '${name}' has completed`);
        await controlRequest(sock, { cmd: 'quit' }).catch(() => null);
        await this.forgotten(name, 15_000);
        await shownRunning(dest, name, 15_000);
        return;
      }
      if (m.status === 'failed' || m.status === 'cancelled') {
        runsOn(m.error ?? m.status);
        if (ctl.signal.aborted) {
          throw new OperationCancelled(`the migration of '${name}' was cancelled; it runs on here`);
        }
        throw new Error(
          `the migration of '${name}' failed: ${m.error ?? m.status}; it runs on here`,
        );
      }
      if (m.status === 'unknown') {
        rt.migration = null;
        this.transition(name, 'paused', 'migration-unknown', m.error);
        throw new Error(
          `the migration of '${name}' ended unknown: ${m.error ?? ''}; it stays paused here ` +
            `(resume it only if the destination does not run it)`,
        );
      }
    }
  }

  /** Whether a drain is under way (the host refuses to start guests meanwhile). */
  draining = false;

  /**
   * `berth host drain`: migrates every running guest, one after the other, to the destination.
   * While it runs the host starts no guest (a start is refused, so nothing lands behind it).
   * Its metadata list each guest's outcome; it fails when any guest stayed.
   */
  drain(req: MigrateRequest): Operation {
    if (this.draining) throw conflict('the host is being drained already');
    remoteOf(req); // a bad destination is refused at once
    this.draining = true;
    return this.host.operations.run('Draining the host', null, async (ctl) => {
      const outcome: { guest: string; status: string; err: string }[] = [];
      try {
        const names = this.host.store
          .list()
          .filter((g) => g.state === 'running')
          .map((g) => g.name);
        for (const name of names) {
          if (ctl.signal.aborted) break;
          let status = 'Failure';
          let err = '';
          try {
            const op = this.migrate(name, req);
            const done = await this.host.operations.wait(op.id, 24 * 3_600_000);
            status = done?.status ?? 'Failure';
            err = done?.err ?? '';
          } catch (e) {
            err = (e as Error).message;
          }
          outcome.push({ guest: name, status, err });
          ctl.report({ guests: outcome });
        }
        ctl.report({ guests: outcome });
        const left = this.host.store.list().filter((g) => g.state !== 'stopped');
        if (left.length > 0) {
          throw new Error(
            `${left.length} guest(s) still on this host: ` +
              left.map((g) => `${g.name} (${g.state})`).join(', '),
          );
        }
      } finally {
        this.draining = false;
      }
    });
  }

  /** Waits until the watcher has forgotten the guest (its VMM ended after the switch). */
  private async forgotten(name: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.host.store.get(name) !== null && Date.now() < deadline) await sleep(100);
  }
}

/**
 * Waits until the destination daemon shows the guest running (its watcher sees the VMM run a
 * moment after the switch), so that the operation ends when the guest is there for all to see.
 * A destination that does not answer in time is left be: the guest runs there all the same.
 */
async function shownRunning(dest: ApiClient, name: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const g = await dest
      .call<{ state?: string }>('GET', `/v1/guests/${encodeURIComponent(name)}`)
      .catch(() => null);
    if (g?.state === 'running' || g?.state === 'paused') return;
    await sleep(100);
  }
}

function remoteOf(req: MigrateRequest): RemoteTarget {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw badRequest(`url: '${req.url}' is not a URL such as https://192.0.2.7:8443`);
  }
  if (url.protocol !== 'https:' || !url.port) {
    throw badRequest(`url: give the destination daemon's https://HOST:PORT (not '${req.url}')`);
  }
  try {
    return { url, token: req.token, fingerprint: normalizeFingerprint(req.fingerprint) };
  } catch (e) {
    throw badRequest((e as Error).message.replace('--fingerprint', 'fingerprint'));
  }
}
