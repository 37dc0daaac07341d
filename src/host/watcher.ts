// The supervisor's watching: every `pollMs`, for each guest that has a VMM, the wrapper's exit
// file, then the wrapper's and the VMM's PIDs, then a `status` request on the control socket.
// An end the user did not ask for is a crash (or a guest shutdown on status 0) and the
// restart policy applies; an end of any kind gives back the guest's disks, takes back its
// console log folder and removes its cgroup. At start it adopts the VMMs a previous daemon
// left running.

import { controlRequest } from '../vmm/controlClient.js';
import type { VmmStatus } from '../vmm/status.js';
import { reclaimConsoleDir, restoreGuestFiles } from './guestFiles.js';
import { cpuPercent } from './guestStats.js';
import type { GuestRuntime } from './guestRuntime.js';
import { describeExit, isOurProcess, readExitStatus } from './launcher.js';
import { isActive } from './states.js';
import type { GuestRow } from './store.js';
import { SupervisorBase } from './supervisorBase.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Which side of a migration a guest in state migrating is on: its runtime says, or, after a
 * daemon restart, the reason it entered the state (incoming on the destination).
 */
function migrationSide(rt: GuestRuntime, reason: string): 'in' | 'out' {
  return rt.migration ?? (reason === 'incoming' ? 'in' : 'out');
}

export abstract class Watcher extends SupervisorBase {
  private timer: NodeJS.Timeout | null = null;
  /** Guests whose cgroup could not be removed yet (a process was still in it). */
  private readonly unreleased = new Set<string>();

  /** Adopts what a previous daemon left, starts autostart guests, then polls. */
  async init(): Promise<void> {
    for (const g of this.store.list()) {
      if (!isActive(g.state)) continue;
      const rt = this.rt(g.name);
      rt.uid = this.recordedUid(g.name);
      if (g.state === 'stopping') rt.stopRequested = 'graceful';
      const config = this.dirs.vmmConfig(g.name);
      const code = readExitStatus(this.dirs.exitFile(g.name));
      const alive = isOurProcess(g.sessionPid, config) || isOurProcess(g.vmmPid, config);
      if (code !== null || !alive) {
        this.onExit(g, code);
        continue;
      }
      // (an incoming guest keeps its reason: it tells the side of the migration, migrationSide)
      const incoming = g.state === 'migrating' && g.reason === 'incoming';
      const pid = `VMM pid ${g.vmmPid ?? '?'}`;
      this.store.setState(
        g.name,
        g.state,
        incoming ? 'incoming' : 'adopted',
        incoming ? `adopted, ${pid}` : pid,
      );
      if (g.state === 'stopping')
        void controlRequest(this.dirs.controlSocket(g.name), { cmd: 'quit' }).catch(() => null);
      await this.pollOne(g.name);
    }
    const active = this.store.list().filter((g) => isActive(g.state));
    this.cgroups?.sweep(new Set(active.map((g) => g.name)));
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

  /**
   * After close: the groups of guests stopped just before, which the reapers of their VMMs
   * still held, removed once those end (within `ms`), so that a daemon that stops leaves no
   * group of a stopped guest behind. Running guests keep theirs.
   */
  async releaseLeftGroups(ms = 3000): Promise<void> {
    const until = Date.now() + ms;
    while (this.unreleased.size > 0 && Date.now() < until) {
      await sleep(50);
      for (const name of this.unreleased) {
        const state = this.store.get(name)?.state;
        if (state !== undefined && isActive(state)) this.unreleased.delete(name);
        else this.release(name);
      }
    }
  }

  private tick(): void {
    if (this.closed) return;
    let guests: GuestRow[];
    try {
      guests = this.store.list();
    } catch {
      return; // the database is closing
    }
    for (const name of this.unreleased) {
      // A guest started again owns its group now: an empty group must not be removed while
      // the new VMM's wrapper is still on its way into it.
      const state = guests.find((g) => g.name === name)?.state;
      if (state !== undefined && isActive(state)) this.unreleased.delete(name);
      else this.release(name);
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
  protected async pollOne(name: string): Promise<void> {
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
      rt.cpuPercent = cpuPercent(rt.status, s);
      rt.status = s;
      rt.statusAt = Date.now();
      if (g.vmmPid !== s.pid) this.store.setPids(name, g.sessionPid, s.pid);
      // (a start being cancelled kills the VMM: it does not count as booted)
      if (g.state === 'migrating') this.watchMigration(g, s);
      else if (g.state === 'starting' && !rt.stopRequested) {
        const from = g.reason === 'restored' || g.reason === 'cloned' ? g.reason : 'booted';
        this.transition(name, 'running', from);
      } else if (g.state === 'running' && s.state === 'paused')
        this.transition(name, 'paused', 'vmm-reported');
      else if (g.state === 'paused' && s.state === 'running')
        this.transition(name, 'running', 'vmm-reported');
    } catch {
      // not answering yet (starting) or going away: the PID and exit file tell
    } finally {
      rt.polling = false;
    }
  }

  /**
   * A guest in state migrating. Incoming: running once its VMM runs it; its VMM told to quit
   * when no stream came within incomingWaitMs (the source gave up or died). Outgoing: its
   * operation follows it (migrations.ts) — unless this daemon restarted meanwhile; then the
   * VMM's status says how it ended (completed: the VMM ends by itself, and the guest is
   * forgotten then).
   */
  private watchMigration(g: GuestRow, s: VmmStatus): void {
    const rt = this.rt(g.name);
    const m = s.migration;
    if (migrationSide(rt, g.reason) === 'in') {
      rt.migration = 'in';
      if (s.state === 'running' || s.state === 'paused') {
        rt.migration = null;
        rt.incomingSince = null;
        rt.mirrorFiles = []; // the disks copied in are the guest's now: they stay
        this.transition(g.name, s.state, 'migrated', m?.peer);
      } else if (m?.status === 'setup') {
        rt.incomingSince ??= Date.now();
        if (Date.now() - rt.incomingSince > this.incomingWaitMs) {
          const sock = this.dirs.controlSocket(g.name);
          void controlRequest(sock, { cmd: 'quit' }).catch(() => null);
        }
      }
      return;
    }
    if (rt.migration === 'out') return;
    if (m?.status === 'failed' || m?.status === 'cancelled') {
      this.transition(g.name, 'running', 'migration-failed', m.error);
    } else if (m?.status === 'unknown') {
      this.transition(g.name, 'paused', 'migration-unknown', m.error);
    }
  }

  /** The VMM ended with `code` (null: unknown): the state follows, then the restart policy. */
  private onExit(g: GuestRow, code: number | null): void {
    const rt = this.rt(g.name);
    rt.status = null;
    rt.cpuPercent = null;
    this.store.setPids(g.name, null, null);
    const oom = this.outOfMemory(g.name);
    this.release(g.name);
    reclaimConsoleDir(this.dirs.consoleDir(g.name));
    const ended = describeExit(code);
    const clean = ended.clean;
    const detail = oom ? `${ended.detail}: ${oom}` : ended.detail;
    const side = g.state === 'migrating' ? migrationSide(rt, g.reason) : null;
    rt.migration = null;
    if (side === 'in' || (side === 'out' && clean)) {
      // In: the stream failed, the guest runs on at its source. Out: it runs at the destination.
      const why = side === 'in' ? 'migration-failed' : 'migrated';
      this.transition(g.name, 'stopped', why, detail);
      this.forget(g.name, why, detail);
      return;
    }
    if (rt.stopRequested) {
      const reason = rt.stopRequested === 'cancel' ? 'start-cancelled' : 'user';
      rt.stopRequested = null;
      this.transition(g.name, 'stopped', reason, code === 0 ? 'the VMM ended cleanly' : detail);
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

  /** Why the kernel killed the guest's VMM, when it ran out of its cgroup's memory. */
  private outOfMemory(name: string): string | null {
    const kills = this.cgroups?.oomKills(name) ?? null;
    if (!kills) return null;
    const limit = this.rt(name).memoryLimit;
    const mib = limit ? ` of ${Math.round(limit / 1048576)} MiB` : '';
    return `the kernel killed the VMM: it passed its cgroup's memory limit${mib}`;
  }

  /** Gives back the guest's disks and removes its cgroup (again later while it is busy). */
  protected release(name: string): void {
    restoreGuestFiles(this.dirs.ownersFile(name));
    if (this.rt(name).launching) return; // a new VMM is being placed in the group
    if (!this.cgroups || this.cgroups.remove(name)) this.unreleased.delete(name);
    else this.unreleased.add(name);
  }

  /**
   * Before a guest's VMM starts again: waits (up to `ms`) for what was left of the last one in
   * its cgroup (the reaper that removes its files) to end, and removes the group, so that the
   * new VMM starts in a fresh group with a fresh OOM count.
   */
  protected async clearOldGroup(name: string, ms = 3000): Promise<void> {
    if (!this.cgroups) return;
    const until = Date.now() + ms;
    while (!this.cgroups.remove(name) && Date.now() < until) await sleep(50);
    this.unreleased.delete(name);
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
