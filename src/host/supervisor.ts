// The supervisor's actions: create, delete, start, stop, restart, pause and resume. Each checks
// everything it can before changing anything; long ones run as operations, and say while they
// run whether a cancel is honoured (a start until its VMM answers, a graceful stop while it
// waits for the guest to power off). Starting hands the
// VMM's launch to guestLaunch.ts (config, files, cgroup, user); the watching of what runs is
// in watcher.ts, the shared parts in supervisorBase.ts.

import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { makeDiskCopies, type CopiedDisk } from './copyStorage.js';
import { controlRequest } from '../vmm/controlClient.js';
import { conflict, HostError } from './errors.js';
import { launchGuest, type LaunchContext } from './guestLaunch.js';
import { checkTapHost, withMac } from './guestNetwork.js';
import { parseGuestSpec } from './guestSpec.js';
import { logTail } from './guestRuntime.js';
import { OperationCancelled, type Operation, type OperationControl } from './operations.js';
import type { GuestView, StopOptions } from './supervisorBase.js';
import { isActive, type GuestState } from './states.js';
import type { GuestRow } from './store.js';
import type { VmmStatus } from '../vmm/status.js';
import { Clones } from './clones.js';
import { Migrations } from './migrations.js';
import { Snapshots } from './snapshots.js';
import { Watcher } from './watcher.js';

export type { GuestView, StopOptions, SupervisorOptions } from './supervisorBase.js';

const MIB = 1024 * 1024;

export class Supervisor extends Watcher {
  /** Snapshots: create, list, restore, delete (snapshots.ts). */
  readonly snapshots = new Snapshots(this);
  /** Clones of guests (clones.ts). */
  readonly clones = new Clones(this, this.snapshots);
  /** The certificate of the API over TCP, which incoming migration streams are served with. */
  migrationTls: { cert: string; key: string } | null = null;
  /** Live migrations to other hosts (migrations.ts); the incoming side is takeIncoming. */
  readonly migrations = new Migrations(this, (n, to, reason, detail) =>
    this.transition(n, to, reason, detail),
  );

  create(input: unknown): GuestView {
    const parsed = parseGuestSpec(input);
    this.dirs.checkSocketPath(parsed.name);
    if (this.store.get(parsed.name))
      throw conflict(`a guest named '${parsed.name}' exists already`);
    if (parsed.network.kind === 'tap') checkTapHost(parsed.network.bridge);
    const spec = withMac(
      parsed,
      this.store.list().map((g) => g.spec),
    );
    const g = this.store.create(spec);
    return this.view(g);
  }

  /**
   * Deletes a stopped guest. One with snapshots, or with disk layers (what it wrote since its
   * first snapshot lives there, not in its spec's files), only with `force`.
   */
  delete(name: string, opts: { force?: boolean } = {}): void {
    const g = this.row(name);
    if (isActive(g.state)) {
      throw conflict(`guest '${name}' is ${g.state}: stop it before deleting it`);
    }
    const snaps = this.store.snapshots.list(name).length;
    if (!opts.force && (snaps > 0 || this.store.snapshots.active(name) !== null)) {
      throw conflict(
        `guest '${name}' has ${snaps} snapshot(s) and disk layers that hold what it wrote since ` +
          `its first snapshot (its spec's disk files do not): add force to delete them with it`,
      );
    }
    const busy = this.rt(name).busy;
    if (busy) throw conflict(`guest '${name}' is busy ${busy}; try again when it is done`);
    rmSync(this.dirs.guestDir(name), { recursive: true, force: true });
    rmSync(this.dirs.runDir(name), { recursive: true, force: true });
    this.runtimes.delete(name);
    this.store.delete(name);
    this.layers.sweep(); // its disk layers (the files of its spec stay, given back as they were)
  }

  /**
   * The destination of a migration: a new guest from `input`, checked as a create is and
   * against the host's memory, recorded as migrating (reason incoming), its VMM started to wait
   * for the stream on `host`. Resolves with the port the VMM listens on; a failure removes the
   * guest again. The watcher sees it running once the stream has come (reason migrated).
   */
  async takeIncoming(
    input: unknown,
    host: string,
    copyDisks: (CopiedDisk | null)[] | null = null,
  ): Promise<{ name: string; port: number; token: string | null }> {
    // With the storage: new disks here, named in the spec, deleted if the migration fails.
    let files: string[] = [];
    if (copyDisks !== null)
      ({ input, files } = makeDiskCopies(this.dirs.disksDir, input, copyDisks));
    let name: string;
    try {
      name = this.create(input).name;
    } catch (e) {
      for (const f of files) rmSync(f, { force: true });
      throw e;
    }
    const rt = this.rt(name);
    rt.mirrorFiles = files;
    try {
      this.checkMemory(this.row(name));
      rt.migration = 'in';
      rt.launching = true;
      this.transition(name, 'migrating', 'incoming');
      const uid = this.account ? this.allocateUid(name) : null;
      await this.clearOldGroup(name);
      // Over TLS (the daemon's own certificate, which the source has pinned) with a token made
      // for this one stream, when the daemon serves its API over TCP.
      const tls = this.migrationTls;
      const token = tls ? randomBytes(32).toString('hex') : null;
      const launched = await launchGuest(this.launchContext(), this.row(name).spec, uid, {
        incoming: {
          listen: `${host.includes(':') ? `[${host}]` : host}:0`,
          ...(tls ? { tls, token: token! } : {}),
          ...(copyDisks !== null ? { mirror: true } : {}),
        },
      });
      rt.memoryLimit = launched.memoryLimit;
      this.store.setPids(name, launched.sessionPid, null);
      rt.launching = false;
      return { name, port: await this.incomingPort(name), token };
    } catch (e) {
      rt.launching = false;
      this.kill(name);
      this.release(name);
      this.forget(name, 'migration-failed', `it could not begin: ${(e as Error).message}`);
      throw e instanceof HostError ? e : new HostError(500, (e as Error).message);
    }
  }

  /** The port an incoming VMM listens on, once it answers (within the start timeout). */
  private async incomingPort(name: string): Promise<number> {
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      const s = await controlRequest<VmmStatus>(
        this.dirs.controlSocket(name),
        { cmd: 'status' },
        2000,
      ).catch(() => null);
      const listen = s?.migration?.listen;
      if (listen) return Number(listen.slice(listen.lastIndexOf(':') + 1));
      if (this.store.get(name)?.state !== 'migrating') break; // its VMM ended
      await new Promise((r) => setTimeout(r, 100));
    }
    const tail = logTail(this.dirs.vmmLog(name)).trim();
    throw new Error(
      `the VMM for '${name}' did not listen for the stream${tail ? `: ${tail}` : ''}`,
    );
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

  /**
   * Starts a stopped or crashed guest: an operation that ends when its VMM answers. Cancelling it
   * before then kills the VMM being started (SIGKILL: it does not answer yet); the guest ends
   * stopped, reason start-cancelled.
   */
  override start(name: string, reason = 'user'): Operation {
    const g = this.row(name);
    if (g.state !== 'stopped' && g.state !== 'crashed') {
      throw conflict(`guest '${name}' is ${g.state} already`);
    }
    if (this.migrations.draining) {
      throw conflict(`the host is being drained: '${name}' starts once the drain has ended`);
    }
    this.checkMemory(g);
    this.beginStart(g, reason);
    return this.operations.run(`Starting guest ${name}`, name, (ctl) =>
      this.finishStart(name, ctl),
    );
  }

  private beginStart(g: GuestRow, reason: string): void {
    const rt = this.rt(g.name);
    rt.stopRequested = null;
    rt.status = null;
    rt.launching = true;
    this.transition(g.name, 'starting', reason);
  }

  private async finishStart(name: string, ctl: OperationControl): Promise<void> {
    const rt = this.rt(name);
    const g = this.row(name);
    ctl.cancellable(() => this.cancelStart(name));
    try {
      const uid = this.account ? this.allocateUid(name) : null;
      await this.clearOldGroup(name);
      const launched = await launchGuest(this.launchContext(), g.spec, uid, {
        activeDisks: this.store.snapshots.active(name),
        restore: rt.restoreFrom ?? undefined,
      });
      rt.memoryLimit = launched.memoryLimit;
      this.store.setPids(name, launched.sessionPid, null);
    } catch (e) {
      rt.launching = false;
      const message = e instanceof Error ? e.message : String(e);
      this.transition(name, 'stopped', 'start-failed', message);
      if (ctl.signal.aborted) throw new OperationCancelled(`the start of '${name}' was cancelled`);
      throw new HostError(
        e instanceof HostError ? e.status : 500,
        `cannot start '${name}': ${message}`,
      );
    } finally {
      rt.launching = false;
      rt.restoreFrom = null; // a later start (a restart by policy) boots afresh
    }
    const state = ctl.signal.aborted
      ? null
      : await this.waitFor(
          name,
          ['running', 'paused', 'stopped', 'crashed'],
          this.startTimeoutMs,
          ctl.signal,
        );
    if (ctl.signal.aborted) {
      ctl.uncancellable(`the start of '${name}' is being cancelled`);
      await this.killUntilEnded(name, 10_000);
      throw new OperationCancelled(
        `the start of '${name}' was cancelled; its VMM was killed before it answered`,
      );
    }
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

  /** A cancel of a start, at once: refused once the VMM answered; finishStart then kills it. */
  private cancelStart(name: string): void {
    const g = this.row(name);
    const rt = this.rt(name);
    if (g.state !== 'starting' || rt.stopRequested) {
      throw conflict(`guest '${name}' is ${g.state}, no longer starting: stop it instead`);
    }
    rt.stopRequested = 'cancel'; // its end is no crash, and its answer no boot
  }

  /**
   * SIGKILL to a guest's VMM until the watcher sees it gone: just after its launch, its
   * wrapper may not show its command line yet (forked, not yet exec'd), so kill() retries.
   */
  private async killUntilEnded(name: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      this.kill(name);
      if (await this.waitFor(name, ['stopped', 'crashed'], 250)) return;
    }
  }

  private launchContext(): LaunchContext {
    return {
      dirs: this.dirs,
      defaultAssets: this.defaultAssets,
      berthMain: this.berthMain,
      cgroups: this.cgroups,
      account: this.account,
      holderOf: (uid) => this.guestWithUid(uid),
    };
  }

  /**
   * Stops a guest: power button, then quit after `timeout` s, then SIGKILL (force: quit at once).
   * A graceful stop may be cancelled while it waits for the guest to power off: the guest is
   * running again (reason stop-cancelled), though a guest that heeds the button already
   * pressed may still power off. A forced stop, or one past its graceful part, is not cancelled.
   */
  stop(name: string, opts: StopOptions = {}): Operation {
    const g = this.row(name);
    const rt = this.rt(name);
    if (g.state === 'stopped' || g.state === 'crashed') {
      throw conflict(`guest '${name}' is ${g.state} already`);
    }
    if (rt.launching) {
      throw conflict(`guest '${name}' is being launched; stop it once its VMM answers`);
    }
    if (g.state === 'migrating') {
      throw conflict(`guest '${name}' is migrating: cancel its migration (its operation) first`);
    }
    if (g.state === 'stopping' && !opts.force) {
      throw conflict(`guest '${name}' is stopping already; add force to quit it now`);
    }
    rt.stopRequested = opts.force ? 'force' : 'graceful';
    this.transition(name, 'stopping', 'user');
    const timeout = opts.timeout ?? g.spec.stopTimeout;
    return this.operations.run(`Stopping guest ${name}`, name, (ctl) =>
      this.finishStop(name, !!opts.force, timeout, ctl),
    );
  }

  private async finishStop(
    name: string,
    force: boolean,
    timeoutS: number,
    ctl: OperationControl,
  ): Promise<void> {
    const sock = this.dirs.controlSocket(name);
    const ask = (cmd: string): Promise<unknown> =>
      controlRequest(sock, { cmd }, 2000).catch(() => null);
    const stopped = (ms: number, signal?: AbortSignal): Promise<boolean> =>
      this.waitFor(name, ['stopped', 'crashed'], ms, signal).then((s) => s !== null);
    const cancelled = (): OperationCancelled =>
      new OperationCancelled(`the stop of '${name}' was cancelled; the guest runs on`);
    if (!force) {
      ctl.cancellable(() => this.cancelStop(name));
      if (this.rt(name).status?.state === 'paused') await ask('resume');
      if (ctl.signal.aborted) throw cancelled();
      await ask('shutdown');
      if (ctl.signal.aborted) throw cancelled();
      if (await stopped(timeoutS * 1000, ctl.signal)) return;
      if (ctl.signal.aborted) throw cancelled();
      ctl.uncancellable(
        `the stop of '${name}' is past its graceful part (its VMM was told to quit)`,
      );
    } else ctl.uncancellable(`a forced stop (of '${name}') is not cancelled`);
    await ask('quit');
    if (await stopped(5000)) return;
    this.kill(name);
    if (await stopped(5000)) return;
    throw new Error(`'${name}' did not stop, even after SIGKILL`);
  }

  /** A cancel of a graceful stop, at once: the guest is running again. */
  private cancelStop(name: string): void {
    const g = this.row(name);
    const rt = this.rt(name);
    if (g.state !== 'stopping' || rt.stopRequested !== 'graceful') {
      const why = rt.stopRequested === 'force' ? 'a forced stop is under way' : `it is ${g.state}`;
      throw conflict(`the stop of '${name}' cannot be cancelled now: ${why}`);
    }
    rt.stopRequested = null;
    this.transition(name, 'running', 'stop-cancelled');
  }

  /**
   * A stop, then a start. Cancelling it cancels the part under way: the stop while it waits for
   * the guest to power off (the guest runs on), or the start (the guest ends stopped).
   */
  restart(name: string, opts: StopOptions = {}): Operation {
    const g = this.row(name);
    if (g.state !== 'running' && g.state !== 'paused') {
      throw conflict(`guest '${name}' is ${g.state}: only a running or paused guest restarts`);
    }
    const stop = this.stop(name, opts);
    return this.operations.run(`Restarting guest ${name}`, name, async (ctl) => {
      ctl.cancellable(() => this.operations.cancelNow(stop.id));
      const done = await this.operations.wait(stop.id, 3_600_000);
      if (done?.status === 'Cancelled') {
        throw new OperationCancelled(`the restart of '${name}' was cancelled; the guest runs on`);
      }
      if (done?.status !== 'Success') throw new Error(done?.err || 'the stop failed');
      const g2 = this.row(name);
      this.checkMemory(g2);
      this.beginStart(g2, 'restarted');
      await this.finishStart(name, ctl);
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
}
