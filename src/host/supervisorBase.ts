// What the supervisor's actions (supervisor.ts) and its watching (watcher.ts) share: the
// options, the per-guest runtime, reading guests as the API shows them, stored state
// transitions with their events, waiting for a state, and the isolation of each VMM (its
// cgroup and its user ID).

import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { VmmStatus } from '../vmm/status.js';
import type { CgroupUsage, Cgroups } from './cgroups.js';
import { DiskLayers } from './diskLayers.js';
import { conflict, notFound } from './errors.js';
import type { GuestSpec } from './guestSpec.js';
import { GuestRuntime } from './guestRuntime.js';
import { guestNet, guestStats, type GuestNet, type GuestStats } from './guestStats.js';
import { vmmMemoryLimit } from './guestLaunch.js';
import { BERTH_MAIN, childrenOf, isOurProcess, signal } from './launcher.js';
import { Operations } from './operations.js';
import type { StateDir } from './stateDir.js';
import { canTransition, isActive, type GuestState } from './states.js';
import type { GuestRow, Store } from './store.js';
import { loadDefaultAssets, type DefaultAssets } from './vmmConfig.js';
import { freeVmmUid, type VmmAccount } from './vmmUser.js';

export interface SupervisorOptions {
  pollMs?: number;
  /** Guest memory the host may commit in all (default 80% of host memory). */
  memoryLimit?: number;
  /** How long a VMM may take to answer on its control socket after it is started. */
  startTimeoutMs?: number;
  /** How long a guest migrating in waits for its stream before it is given up. */
  incomingWaitMs?: number;
  defaultAssets?: DefaultAssets;
  berthMain?: string;
  /** Automatic restarts allowed per guest per minute before it is left crashed. */
  restartLimit?: number;
  /** Where VMMs' cgroups go (null: no limits). */
  cgroups?: Cgroups | null;
  /** The group unprivileged VMMs run with (null: VMMs run as the daemon's user). */
  account?: VmmAccount | null;
}

export interface GuestView {
  name: string;
  state: GuestState;
  reason: string;
  spec: GuestSpec;
  pid: number | null;
  /** The VMM's user ID while it runs (null: the daemon's own). */
  uid: number | null;
  /** The VMM's cgroup folders and what it used (null: no cgroup). */
  cgroup: { dirs: string[]; usage: CgroupUsage | null } | null;
  createdAt: string;
  updatedAt: string;
  status: VmmStatus | null;
  /** The VMM's CPU use over the daemon's last poll interval, in percent of one host CPU. */
  cpuPercent: number | null;
  /** Its published ports and the address it took (null: no network). */
  net: GuestNet | null;
}

export interface StopOptions {
  force?: boolean;
  /** Seconds to wait for a graceful power-off before quitting the VMM. */
  timeout?: number;
}

export abstract class SupervisorBase {
  readonly operations = new Operations();
  /** Emits 'state' (name, state) after each stored transition. */
  protected readonly changes = new EventEmitter();
  protected readonly runtimes = new Map<string, GuestRuntime>();
  protected closed = false;
  readonly memoryLimit: number;
  protected readonly pollMs: number;
  protected readonly startTimeoutMs: number;
  protected readonly incomingWaitMs: number;
  protected readonly defaultAssets: DefaultAssets;
  protected readonly berthMain: string;
  protected readonly restartLimit: number;
  readonly cgroups: Cgroups | null;
  readonly account: VmmAccount | null;
  /** Disk layers of snapshots and clones (diskLayers.ts). */
  readonly layers: DiskLayers;

  constructor(
    readonly store: Store,
    readonly dirs: StateDir,
    opts: SupervisorOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 500;
    this.memoryLimit = opts.memoryLimit ?? Math.floor(totalmem() * 0.8);
    this.startTimeoutMs = opts.startTimeoutMs ?? 120_000;
    this.incomingWaitMs = opts.incomingWaitMs ?? 60_000;
    this.defaultAssets = opts.defaultAssets ?? loadDefaultAssets;
    this.berthMain = opts.berthMain ?? BERTH_MAIN;
    this.restartLimit = opts.restartLimit ?? 5;
    this.cgroups = opts.cgroups ?? null;
    this.account = opts.account ?? null;
    this.layers = new DiskLayers(dirs, store.snapshots, this.account?.gid ?? null);
    this.changes.setMaxListeners(0);
  }

  abstract start(name: string, reason?: string): unknown;

  // ---- reading ----

  /** The guest's stored row (404 when there is none). */
  guestRow(name: string): GuestRow {
    return this.row(name);
  }

  /** What the daemon knows of the guest while it runs. */
  runtime(name: string): GuestRuntime {
    return this.rt(name);
  }

  protected rt(name: string): GuestRuntime {
    let r = this.runtimes.get(name);
    if (!r) this.runtimes.set(name, (r = new GuestRuntime()));
    return r;
  }

  protected row(name: string): GuestRow {
    const g = this.store.get(name);
    if (!g) throw notFound(`no guest named '${name}'`);
    return g;
  }

  protected view(g: GuestRow): GuestView {
    const active = isActive(g.state);
    const rt = this.runtimes.get(g.name);
    const status = active ? (rt?.status ?? null) : null;
    const cgroup =
      active && this.cgroups
        ? { dirs: this.cgroups.dirs(g.name), usage: this.cgroups.usage(g.name) }
        : null;
    return {
      name: g.name,
      state: g.state,
      reason: g.reason,
      spec: g.spec,
      pid: g.vmmPid,
      uid: active ? (rt?.uid ?? null) : null,
      cgroup,
      createdAt: g.createdAt,
      updatedAt: g.updatedAt,
      status,
      cpuPercent: status ? (rt?.cpuPercent ?? null) : null,
      net: guestNet(g.spec, status),
    };
  }

  get(name: string): GuestView {
    return this.view(this.row(name));
  }

  /** The guest's state resource: its figures in Incus's shape (guestStats.ts). */
  stats(name: string): GuestStats {
    const v = this.get(name);
    const rt = this.runtimes.get(name);
    return guestStats({
      ...v,
      memoryLimit: rt?.memoryLimit ?? (this.cgroups ? vmmMemoryLimit(v.spec) : null),
      statusAt: v.status ? (rt?.statusAt ?? null) : null,
    });
  }

  list(): GuestView[] {
    return this.store.list().map((g) => this.view(g));
  }

  logPath(name: string): string {
    this.row(name);
    return this.dirs.vmmLog(name);
  }

  /** The guest's console log (its older parts beside it as .1, .2), whether it runs or not. */
  consoleLogPath(name: string): string {
    this.row(name);
    return this.dirs.consoleLog(name);
  }

  controlSocketOf(name: string): string {
    const g = this.row(name);
    if (g.state !== 'running' && g.state !== 'paused') {
      throw conflict(`guest '${name}' is ${g.state}: its console is there while it runs`);
    }
    return this.dirs.controlSocket(name);
  }

  /** Guest memory committed by guests that have a VMM. */
  committedMemory(except?: string): number {
    return this.store
      .list()
      .filter((g) => isActive(g.state) && g.name !== except)
      .reduce((n, g) => n + g.spec.memory, 0);
  }

  // ---- the VMM's user ID ----

  /** Picks (and records in the guest's folder) a UID no other running guest's VMM has. */
  protected allocateUid(name: string): number {
    const used = this.store
      .list()
      .filter((g) => g.name !== name && (isActive(g.state) || this.rt(g.name).launching))
      .map((g) => this.rt(g.name).uid)
      .filter((u): u is number => u !== null);
    const uid = freeVmmUid(used);
    this.rt(name).uid = uid;
    mkdirSync(this.dirs.guestDir(name), { recursive: true, mode: 0o700 });
    writeFileSync(this.dirs.uidFile(name), `${uid}\n`, { mode: 0o600 });
    return uid;
  }

  /** The UID a previous daemon gave a guest's VMM (for adoption). */
  protected recordedUid(name: string): number | null {
    try {
      const n = Number.parseInt(readFileSync(this.dirs.uidFile(name), 'utf8'), 10);
      return Number.isInteger(n) ? n : null;
    } catch {
      return null;
    }
  }

  /** The running guest whose VMM has `uid`, if any. */
  protected guestWithUid(uid: number): string | null {
    for (const g of this.store.list()) {
      if (isActive(g.state) && this.runtimes.get(g.name)?.uid === uid) return g.name;
    }
    return null;
  }

  /**
   * Removes a guest the host no longer runs, whatever its state: one that moved to another host,
   * or an incoming one whose migration failed. Its events stay; its spec's files are left.
   */
  forget(name: string, reason: 'migrated' | 'migration-failed', detail: string): void {
    // The disks an incoming migration was copying are of no use once it failed.
    if (reason === 'migration-failed') {
      for (const f of this.runtimes.get(name)?.mirrorFiles ?? []) rmSync(f, { force: true });
    }
    rmSync(this.dirs.guestDir(name), { recursive: true, force: true });
    rmSync(this.dirs.runDir(name), { recursive: true, force: true });
    this.runtimes.delete(name);
    this.store.delete(name, reason, detail);
  }

  // ---- state changes ----

  protected transition(name: string, to: GuestState, reason: string, detail?: string): boolean {
    const g = this.store.get(name);
    if (!g) return false;
    if (g.state === to) return true;
    if (!canTransition(g.state, to)) return false;
    this.store.setState(name, to, reason, detail ?? null);
    this.changes.emit('state', name, to);
    return true;
  }

  /** Resolves with the state once the guest is in one of `states`; null after `ms` or on abort. */
  protected waitFor(
    name: string,
    states: GuestState[],
    ms: number,
    signal?: AbortSignal,
  ): Promise<GuestState | null> {
    return new Promise((resolve) => {
      const now = this.store.get(name)?.state;
      if (now === undefined || signal?.aborted) return resolve(null);
      if (states.includes(now)) return resolve(now);
      const done = (s: GuestState | null): void => {
        clearTimeout(timer);
        this.changes.off('state', on);
        signal?.removeEventListener('abort', aborted);
        resolve(s);
      };
      const on = (n: string, s: GuestState): void => {
        if (n === name && states.includes(s)) done(s);
      };
      const aborted = (): void => done(null);
      const timer = setTimeout(() => done(null), ms);
      this.changes.on('state', on);
      signal?.addEventListener('abort', aborted);
    });
  }

  /**
   * SIGKILL to the VMM. Before it has answered, its PID is not stored: then the wrapper's child
   * (so that the wrapper still records how it ended and the VMM's reaper removes its files), or
   * the wrapper's whole session before it has forked one.
   */
  protected kill(name: string): void {
    const g = this.store.get(name);
    if (!g) return;
    const config = this.dirs.vmmConfig(name);
    if (isOurProcess(g.vmmPid, config)) return signal(g.vmmPid, 'SIGKILL');
    if (g.sessionPid === null || !isOurProcess(g.sessionPid, config)) return;
    const vmm = childrenOf(g.sessionPid).filter((p) => isOurProcess(p, config));
    if (vmm.length === 0) signal(-g.sessionPid, 'SIGKILL');
    for (const p of vmm) signal(p, 'SIGKILL');
  }
}
