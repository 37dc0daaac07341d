// The supervisor's actions: create, delete, start, stop, restart, pause and resume. Each checks
// everything it can before changing anything; long ones run as operations. Starting hands the
// VMM's launch to guestLaunch.ts (config, files, cgroup, user); the watching of what runs is
// in watcher.ts, the shared parts in supervisorBase.ts.

import { rmSync } from 'node:fs';
import { controlRequest } from '../vmm/controlClient.js';
import { conflict, HostError } from './errors.js';
import { launchGuest, type LaunchContext } from './guestLaunch.js';
import { checkTapHost, withMac } from './guestNetwork.js';
import { parseGuestSpec } from './guestSpec.js';
import { logTail } from './guestRuntime.js';
import type { Operation } from './operations.js';
import type { GuestView, StopOptions } from './supervisorBase.js';
import { isActive, type GuestState } from './states.js';
import type { GuestRow } from './store.js';
import { Watcher } from './watcher.js';

export type { GuestView, StopOptions, SupervisorOptions } from './supervisorBase.js';

const MIB = 1024 * 1024;

export class Supervisor extends Watcher {
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

  delete(name: string): void {
    const g = this.row(name);
    if (isActive(g.state)) {
      throw conflict(`guest '${name}' is ${g.state}: stop it before deleting it`);
    }
    rmSync(this.dirs.guestDir(name), { recursive: true, force: true });
    rmSync(this.dirs.runDir(name), { recursive: true, force: true });
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
  override start(name: string, reason = 'user'): Operation {
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
      const uid = this.account ? this.allocateUid(name) : null;
      const launched = await launchGuest(this.launchContext(), g.spec, uid);
      rt.memoryLimit = launched.memoryLimit;
      this.store.setPids(name, launched.sessionPid, null);
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
}
