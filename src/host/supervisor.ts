// The supervisor: runs each guest's VMM as a process of its own (launcher.ts), moves guests
// through the states of states.ts (each transition stored with its event), watches every VMM
// by its PID, its wrapper's exit file and its control socket's status (every `pollMs`), applies
// restart policies, and adopts the VMMs a previous daemon left running. Actions check
// everything they can before changing anything; long ones run as operations.

import { EventEmitter } from 'node:events';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { controlRequest } from '../vmm/controlClient.js';
import type { VmmStatus } from '../vmm/status.js';
import { conflict, HostError, notFound } from './errors.js';
import { parseGuestSpec, type GuestSpec } from './guestSpec.js';
import { GuestRuntime, logTail } from './guestRuntime.js';
import {
  BERTH_MAIN,
  describeExit,
  isOurProcess,
  launchVmm,
  readExitStatus,
  signal,
} from './launcher.js';
import { Operations, type Operation } from './operations.js';
import type { StateDir } from './stateDir.js';
import { canTransition, isActive, type GuestState } from './states.js';
import type { GuestRow, Store } from './store.js';
import { loadDefaultAssets, vmmConfigFor, type DefaultAssets } from './vmmConfig.js';

export interface SupervisorOptions {
  pollMs?: number;
  /** Guest memory the host may commit in all (default 80% of host memory). */
  memoryLimit?: number;
  /** How long a VMM may take to answer on its control socket after it is started. */
  startTimeoutMs?: number;
  defaultAssets?: DefaultAssets;
  berthMain?: string;
  /** Automatic restarts allowed per guest per minute before it is left crashed. */
  restartLimit?: number;
}

export interface GuestView {
  name: string;
  state: GuestState;
  reason: string;
  spec: GuestSpec;
  pid: number | null;
  createdAt: string;
  updatedAt: string;
  status: VmmStatus | null;
}

export interface StopOptions {
  force?: boolean;
  /** Seconds to wait for a graceful power-off before quitting the VMM. */
  timeout?: number;
}

const MIB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Supervisor {
  readonly operations = new Operations();
  /** Emits 'state' (name, state) after each stored transition. */
  private readonly changes = new EventEmitter();
  private readonly runtimes = new Map<string, GuestRuntime>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  readonly memoryLimit: number;
  private readonly pollMs: number;
  private readonly startTimeoutMs: number;
  private readonly defaultAssets: DefaultAssets;
  private readonly berthMain: string;
  private readonly restartLimit: number;

  constructor(
    readonly store: Store,
    readonly dirs: StateDir,
    opts: SupervisorOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 500;
    this.memoryLimit = opts.memoryLimit ?? Math.floor(totalmem() * 0.8);
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000;
    this.defaultAssets = opts.defaultAssets ?? loadDefaultAssets;
    this.berthMain = opts.berthMain ?? BERTH_MAIN;
    this.restartLimit = opts.restartLimit ?? 5;
    this.changes.setMaxListeners(0);
  }

  // ---- reading ----

  private rt(name: string): GuestRuntime {
    let r = this.runtimes.get(name);
    if (!r) this.runtimes.set(name, (r = new GuestRuntime()));
    return r;
  }

  private row(name: string): GuestRow {
    const g = this.store.get(name);
    if (!g) throw notFound(`no guest named '${name}'`);
    return g;
  }

  private view(g: GuestRow): GuestView {
    const status = isActive(g.state) ? (this.runtimes.get(g.name)?.status ?? null) : null;
    return {
      name: g.name,
      state: g.state,
      reason: g.reason,
      spec: g.spec,
      pid: g.vmmPid,
      createdAt: g.createdAt,
      updatedAt: g.updatedAt,
      status,
    };
  }

  get(name: string): GuestView {
    return this.view(this.row(name));
  }

  list(): GuestView[] {
    return this.store.list().map((g) => this.view(g));
  }

  logPath(name: string): string {
    this.row(name);
    return this.dirs.vmmLog(name);
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

  // ---- state changes ----

  private transition(name: string, to: GuestState, reason: string, detail?: string): boolean {
    const g = this.store.get(name);
    if (!g) return false;
    if (g.state === to) return true;
    if (!canTransition(g.state, to)) return false;
    this.store.setState(name, to, reason, detail ?? null);
    this.changes.emit('state', name, to);
    return true;
  }

  /** Resolves with the state once the guest is in one of `states`; rejects after `ms`. */
  private waitFor(name: string, states: GuestState[], ms: number): Promise<GuestState | null> {
    return new Promise((resolve) => {
      const now = this.store.get(name)?.state;
      if (now === undefined) return resolve(null);
      if (states.includes(now)) return resolve(now);
      const done = (s: GuestState | null): void => {
        clearTimeout(timer);
        this.changes.off('state', on);
        resolve(s);
      };
      const on = (n: string, s: GuestState): void => {
        if (n === name && states.includes(s)) done(s);
      };
      const timer = setTimeout(() => done(null), ms);
      this.changes.on('state', on);
    });
  }

  // ---- actions ----

  create(input: unknown): GuestView {
    const spec = parseGuestSpec(input);
    this.dirs.checkSocketPath(spec.name);
    if (this.store.get(spec.name)) throw conflict(`a guest named '${spec.name}' exists already`);
    const g = this.store.create(spec);
    return this.view(g);
  }

  delete(name: string): void {
    const g = this.row(name);
    if (isActive(g.state)) {
      throw conflict(`guest '${name}' is ${g.state}: stop it before deleting it`);
    }
    rmSync(this.dirs.guestDir(name), { recursive: true, force: true });
    this.runtimes.delete(name);
    this.store.delete(name);
  }

  private checkMemory(g: GuestRow): void {
    const committed = this.committedMemory(g.name);
    if (committed + g.spec.memory > this.memoryLimit) {
      const m = (n: number): string => `${Math.round(n / MIB)} MiB`;
      throw new HostError(
        507,
        `not enough host memory to start '${g.name}': it needs ${m(g.spec.memory)}, running ` +
          `guests hold ${m(committed)} and the limit is ${m(this.memoryLimit)} ` +
          `(${m(this.memoryLimit - committed)} left)`,
      );
    }
  }

  /** Starts a stopped or crashed guest: an operation that ends when its VMM answers. */
  start(name: string, reason = 'user'): Operation {
    const g = this.row(name);
    if (g.state !== 'stopped' && g.state !== 'crashed') {
      throw conflict(`guest '${name}' is ${g.state} already`);
    }
    this.checkMemory(g);
    this.beginStart(g, reason);
    return this.operations.run(`Starting guest ${name}`, name, () => this.finishStart(name));
  }

  private beginStart(g: GuestRow, reason: string): void {
    const rt = this.rt(g.name);
    rt.stopRequested = null;
    rt.status = null;
    rt.launching = true;
    this.transition(g.name, 'starting', reason);
  }

  private async finishStart(name: string): Promise<void> {
    const rt = this.rt(name);
    const g = this.row(name);
    try {
      const config = await vmmConfigFor(g.spec, this.dirs.controlSocket(name), this.defaultAssets);
      this.dirs.prepare();
      mkdirSync(this.dirs.guestDir(name), { recursive: true, mode: 0o700 });
      appendFileSync(
        this.dirs.vmmLog(name),
        `--- berth: starting ${name} at ${new Date().toISOString()}\n`,
        {
          mode: 0o600,
        },
      );
      writeFileSync(this.dirs.vmmConfig(name), JSON.stringify(config, null, 2) + '\n', {
        mode: 0o600,
      });
      const pid = await launchVmm(
        {
          config: this.dirs.vmmConfig(name),
          log: this.dirs.vmmLog(name),
          exit: this.dirs.exitFile(name),
        },
        this.berthMain,
      );
      this.store.setPids(name, pid, null);
    } catch (e) {
      rt.launching = false;
      const message = e instanceof Error ? e.message : String(e);
      this.transition(name, 'stopped', 'start-failed', message);
      throw new HostError(
        e instanceof HostError ? e.status : 500,
        `cannot start '${name}': ${message}`,
      );
    } finally {
      rt.launching = false;
    }
    const state = await this.waitFor(
      name,
      ['running', 'paused', 'stopped', 'crashed'],
      this.startTimeoutMs,
    );
    if (state === 'running' || state === 'paused') return;
    if (state === null) {
      this.kill(name);
      throw new Error(
        `'${name}' did not answer on its control socket in ${this.startTimeoutMs / 1000} s; it was killed`,
      );
    }
    const tail = logTail(this.dirs.vmmLog(name)).trim();
    throw new Error(`'${name}' ended while starting${tail ? `: ${tail}` : ''}`);
  }

  /** SIGKILL to the VMM (or its whole session while its PID is not known yet). */
  private kill(name: string): void {
    const g = this.store.get(name);
    if (!g) return;
    const config = this.dirs.vmmConfig(name);
    if (isOurProcess(g.vmmPid, config)) signal(g.vmmPid, 'SIGKILL');
    else if (isOurProcess(g.sessionPid, config)) signal(-g.sessionPid!, 'SIGKILL');
  }

  /** Stops a guest: power button, then quit after `timeout` s, then SIGKILL (force: quit at once). */
  stop(name: string, opts: StopOptions = {}): Operation {
    const g = this.row(name);
    const rt = this.rt(name);
    if (g.state === 'stopped' || g.state === 'crashed') {
      throw conflict(`guest '${name}' is ${g.state} already`);
    }
    if (rt.launching) {
      throw conflict(`guest '${name}' is being launched; stop it once its VMM answers`);
    }
    if (g.state === 'stopping' && !opts.force) {
      throw conflict(`guest '${name}' is stopping already; add force to quit it now`);
    }
    rt.stopRequested = opts.force ? 'force' : 'graceful';
    this.transition(name, 'stopping', 'user');
    const timeout = opts.timeout ?? g.spec.stopTimeout;
    return this.operations.run(`Stopping guest ${name}`, name, () =>
      this.finishStop(name, !!opts.force, timeout),
    );
  }

  private async finishStop(name: string, force: boolean, timeoutS: number): Promise<void> {
    const sock = this.dirs.controlSocket(name);
    const ask = (cmd: string): Promise<unknown> =>
      controlRequest(sock, { cmd }, 2000).catch(() => null);
    const stopped = (ms: number): Promise<boolean> =>
      this.waitFor(name, ['stopped', 'crashed'], ms).then((s) => s !== null);
    if (!force) {
      if (this.rt(name).status?.state === 'paused') await ask('resume');
      await ask('shutdown');
      if (await stopped(timeoutS * 1000)) return;
    }
    await ask('quit');
    if (await stopped(5000)) return;
    this.kill(name);
    if (await stopped(5000)) return;
    throw new Error(`'${name}' did not stop, even after SIGKILL`);
  }

  restart(name: string, opts: StopOptions = {}): Operation {
    const g = this.row(name);
    if (g.state !== 'running' && g.state !== 'paused') {
      throw conflict(`guest '${name}' is ${g.state}: only a running or paused guest restarts`);
    }
    const stop = this.stop(name, opts);
    return this.operations.run(`Restarting guest ${name}`, name, async () => {
      const done = await this.operations.wait(stop.id, 3_600_000);
      if (done?.status !== 'Success') throw new Error(done?.err || 'the stop failed');
      const g2 = this.row(name);
      this.checkMemory(g2);
      this.beginStart(g2, 'restarted');
      await this.finishStart(name);
    });
  }

  async pause(name: string): Promise<GuestView> {
    return this.pauseResume(name, 'pause', 'running', 'paused');
  }

  async resume(name: string): Promise<GuestView> {
    return this.pauseResume(name, 'resume', 'paused', 'running');
  }

  private async pauseResume(
    name: string,
    cmd: 'pause' | 'resume',
    from: GuestState,
    to: GuestState,
  ): Promise<GuestView> {
    const g = this.row(name);
    if (g.state !== from) throw conflict(`guest '${name}' is ${g.state}, not ${from}`);
    try {
      await controlRequest(this.dirs.controlSocket(name), { cmd }, 5000);
    } catch (e) {
      throw new HostError(500, `the VMM of '${name}' did not ${cmd}: ${(e as Error).message}`);
    }
    this.transition(name, to, 'user');
    const rt = this.rt(name);
    if (rt.status) rt.status = { ...rt.status, state: to === 'paused' ? 'paused' : 'running' };
    return this.get(name);
  }

  // ---- watching ----

  /** Adopts what a previous daemon left, starts autostart guests, then polls. */
  async init(): Promise<void> {
    for (const g of this.store.list()) {
      if (!isActive(g.state)) continue;
      const rt = this.rt(g.name);
      if (g.state === 'stopping') rt.stopRequested = 'graceful';
      const config = this.dirs.vmmConfig(g.name);
      const code = readExitStatus(this.dirs.exitFile(g.name));
      const alive = isOurProcess(g.sessionPid, config) || isOurProcess(g.vmmPid, config);
      if (code !== null || !alive) {
        this.onExit(g, code);
        continue;
      }
      this.store.setState(g.name, g.state, 'adopted', `VMM pid ${g.vmmPid ?? '?'}`);
      if (g.state === 'stopping')
        void controlRequest(this.dirs.controlSocket(g.name), { cmd: 'quit' }).catch(() => null);
      await this.pollOne(g.name);
    }
    for (const g of this.store.list()) {
      if (g.spec.autostart && (g.state === 'stopped' || g.state === 'crashed')) {
        try {
          this.start(g.name, 'autostart');
        } catch (e) {
          this.store.addEvent(g.name, 'error', 'autostart', (e as Error).message);
        }
      }
    }
    this.timer = setInterval(() => this.tick(), this.pollMs);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    if (this.closed) return;
    let guests: GuestRow[];
    try {
      guests = this.store.list();
    } catch {
      return; // the database is closing
    }
    for (const g of guests) {
      try {
        this.watch(g);
      } catch (e) {
        // one guest's trouble must not stop the watching of the others
        this.store.addEvent(g.name, 'error', 'watch', (e as Error).message);
      }
    }
  }

  private watch(g: GuestRow): void {
    if (!isActive(g.state)) return;
    const rt = this.rt(g.name);
    if (rt.launching) return;
    const code = readExitStatus(this.dirs.exitFile(g.name));
    const config = this.dirs.vmmConfig(g.name);
    if (code !== null) this.onExit(g, code);
    else if (!isOurProcess(g.sessionPid, config) && !isOurProcess(g.vmmPid, config)) {
      this.onExit(g, null);
    } else if (!rt.polling) void this.pollOne(g.name);
  }

  /** Asks one VMM for its status and brings the guest's state in line with it. */
  private async pollOne(name: string): Promise<void> {
    const rt = this.rt(name);
    rt.polling = true;
    try {
      const s = await controlRequest<VmmStatus>(
        this.dirs.controlSocket(name),
        { cmd: 'status' },
        2000,
      );
      const g = this.store.get(name);
      if (!g || !isActive(g.state) || this.closed) return;
      rt.status = s;
      rt.statusAt = Date.now();
      if (g.vmmPid !== s.pid) this.store.setPids(name, g.sessionPid, s.pid);
      if (g.state === 'starting') this.transition(name, 'running', 'booted');
      else if (g.state === 'running' && s.state === 'paused')
        this.transition(name, 'paused', 'vmm-reported');
      else if (g.state === 'paused' && s.state === 'running')
        this.transition(name, 'running', 'vmm-reported');
    } catch {
      // not answering yet (starting) or going away: the PID and exit file tell
    } finally {
      rt.polling = false;
    }
  }

  /** The VMM ended with `code` (null: unknown): the state follows, then the restart policy. */
  private onExit(g: GuestRow, code: number | null): void {
    const rt = this.rt(g.name);
    rt.status = null;
    this.store.setPids(g.name, null, null);
    const { clean, detail } = describeExit(code);
    if (rt.stopRequested) {
      rt.stopRequested = null;
      this.transition(g.name, 'stopped', 'user', code === 0 ? 'the VMM ended cleanly' : detail);
      return;
    }
    if (g.state === 'starting') {
      this.transition(g.name, 'stopped', 'start-failed', detail);
      return;
    }
    if (clean) {
      this.transition(g.name, 'stopped', 'guest-shutdown', detail);
      if (g.spec.restart === 'always') this.autoRestart(g.name);
      return;
    }
    this.transition(g.name, 'crashed', code === null ? 'vanished' : 'crashed', detail);
    if (g.spec.restart !== 'no') this.autoRestart(g.name);
  }

  private autoRestart(name: string): void {
    if (this.closed) return;
    const rt = this.rt(name);
    const now = Date.now();
    rt.restarts = rt.restarts.filter((t) => now - t < 60_000);
    if (rt.restarts.length >= this.restartLimit) {
      this.store.addEvent(
        name,
        'restart-limit',
        'restart-limit',
        `${rt.restarts.length} restarts in the last minute; left as it is`,
      );
      return;
    }
    rt.restarts.push(now);
    try {
      this.start(name, 'restarted');
    } catch (e) {
      this.store.addEvent(name, 'error', 'restarted', (e as Error).message);
    }
  }

  /** For tests and shutdown: waits until nothing is in flight. */
  async settle(ms = 1000): Promise<void> {
    await sleep(0);
    await this.operations.settle(ms);
  }
}
