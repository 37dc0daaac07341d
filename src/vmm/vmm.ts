// One guest's monitor: opens what a validated VmmConfig names (disks with their locks, the
// network backend, the boot files), builds the virt board, runs it across reboots, and takes
// orders (pause, resume, shutdown, quit) from the control socket or signals; keeps the console's
// output in a rotated file when the config names one (consoleLog.ts). close() leaves
// nothing behind: disks flushed and unlocked, network helpers stopped, socket removed; for a
// VMM that is killed, the reaper removes its files.
//
//   const vmm = await Vmm.start(parseVmmConfig(spec), { console: { input: null, output: null } });
//   vmm.exitOnSignals();
//   const exit = await vmm.run();   // closes everything when the guest is done

import { rmSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { flashBanks, type VirtBoard } from '../machine/board/virt.js';
import type { SeededEntropy } from '../machine/virtio/rng.js';
import type { NetBackend } from '../machine/virtio/netBackend.js';
import { formatMac } from '../machine/virtio/net.js';
import { engineCounters } from '../machine/hart/engineCounters.js';
import { TIMEBASE_HZ, VIRT } from '../machine/board/memoryMap.js';
import { bootsFlashAlone, flashBankImages, VmmConfigError, type VmmConfig } from './config.js';
import { openDisk, type DiskBackend } from './disk/openDisk.js';
import type { FlashStore } from '../machine/devices/flashStore.js';
import { ConsoleIO } from './console.js';
import { ConsoleLog } from './consoleLog.js';
import { HostClock, type TickClock } from './clocks.js';
import { BootFiles } from './bootFiles.js';
import { checkOverlays, freezeAll, LayeredDisk } from './disk/layeredDisk.js';
import type { TapBackend } from './net/tap.js';
import { announceGuest } from './net/announce.js';
import { ControlServer } from './controlServer.js';
import { reaper } from './reaper.js';
import type { VmmStatus } from './status.js';
import { restoreMachineSnapshot, writeMachineSnapshot, type VmmMachine } from './vmmSnapshot.js';
import { makeMachine, warmUpFor } from './vmmMachine.js';
import { followPlacement } from './virtioPlacement.js';
import { placementOf } from './snapshot/savedPlacement.js';
import { newGeneration } from './generation.js';
import { IdleTrim, limitMallocArenas } from './idleTrim.js';
import { hostMemory } from './hostMemory.js';
import { IncomingMigration } from './migration/destination.js';
import { MigrationSource } from './migration/source.js';
import { Throttle, type MigrationStats } from './migration/stats.js';
import { migrationHooks } from './migration/vmmHooks.js';
import { SnapshotError } from './snapshot/format.js';
import {
  readSnapshotFile,
  readSnapshotShape,
  type SnapshotReading,
  type SnapshotReadAhead,
} from './snapshot/snapshotFile.js';

/** How a run ended; `code` is the VMM's process exit status. */
export type VmmExit =
  | { kind: 'poweroff'; code: 0 }
  | { kind: 'quit'; code: 0 }
  | { kind: 'signal'; signal: NodeJS.Signals; code: number }
  | { kind: 'fail'; guestCode: number; code: 1 }
  | { kind: 'migrated'; code: 0 }
  | { kind: 'incoming-failed'; message: string; code: 1 }
  | { kind: 'fault'; message: string; code: 3 };

export type VmmState = 'incoming' | 'running' | 'paused' | 'stopping' | 'stopped' | 'migrated';

type HostNet = NetBackend & {
  whenReceived(): Promise<void>;
  close(): Promise<void>;
  readonly counters: object;
  /** The guest's DHCP lease, where the backend sees it (user networking). */
  readonly guestAddress?: string | null;
  /** Binds or unbinds the port forwards (user networking). */
  setForwards?(on: boolean): Promise<void>;
};

export interface VmmOptions {
  /** The console's terminal or pipes; null for none (a supervised VMM: console on the socket only). */
  console: {
    input: (NodeJS.ReadableStream & { isTTY?: boolean }) | null;
    output: NodeJS.WritableStream | null;
  };
  /** One line per notable event (default: stderr). */
  log?: (line: string) => void;
  /**
   * Supplies the boot files the config leaves out (firmware, kernel, initrd), e.g. Debian's,
   * fetched on first use. Called after the disks are locked, so that a disk in use is refused first.
   */
  defaultAssets?: () => Promise<{ firmwarePath: string; kernelPath: string; initrdPath: string }>;
  /** The restore file, read ahead by the caller since its process started (taken if it is config.restore). */
  snapshot?: SnapshotReadAhead;
}

/** What a snapshot wrote, and the disk images it froze (null for read-only disks). */
export interface SnapshotResult {
  path: string;
  bytes: number;
  milliseconds: number;
  frozen: (string | null)[];
}

/** Instructions per slice: about a millisecond of guest time. */
export const SLICE = 200_000;

/** Waits for a timer due within this many ms are slept precisely, without the event loop. */
const NEAR_MS = 1.5;
/** A word no one notifies: Atomics.wait on it sleeps for its timeout. */
const nap = new Int32Array(new SharedArrayBuffer(4));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Vmm {
  state: VmmState = 'running';
  readonly io: ConsoleIO;
  private board: VirtBoard | null = null;
  private clock: TickClock | null = null;
  /** The seeded entropy source of a deterministic run. */
  private entropy: SeededEntropy | null = null;
  /** The first boot's board, restored from config.restore at start. */
  private restored: VirtBoard | null = null;
  private boots = 0;
  /** What the flash banks hold, kept across the boards of every boot until the VMM ends. */
  private readonly flash: FlashStore[];
  private retiredBefore = 0;
  private readonly startedAt = Date.now();
  private quitReason: VmmExit | null = null;
  private resumeWaiter: (() => void) | null = null;
  private wakeLoop: (() => void) | null = null;
  private rate = { t: performance.now(), instructions: 0, mips: 0 };
  private control: ControlServer | null = null;
  private closed: Promise<void> | null = null;
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];
  /** Live migration (migration/): the stream out, the stream awaited, the guest's throttle. */
  migration: MigrationSource | null = null;
  incoming: IncomingMigration | null = null;
  readonly throttle = new Throttle();
  /** Gives back the memory of the code caches while the guest idles. */
  readonly idleTrim = new IdleTrim();
  /** How guest RAM gives pages the guest reported free back to the host (Ram.discarder). */
  private discarder: ((view: Uint8Array) => boolean) | null = null;
  /** Asks the host for huge pages under guest RAM (VirtBoardConfig.adviseRam). */
  private hugePages: ((view: Uint8Array) => boolean) | null = null;

  /** The configuration, its open virtio slots filled in by a restore or a migration (placeAs). */
  private cfg: VmmConfig;

  private constructor(
    config: VmmConfig,
    readonly disks: LayeredDisk[],
    private readonly flashImages: (DiskBackend | null)[],
    private readonly net: HostNet | null,
    private readonly files: BootFiles,
    options: VmmOptions,
    readonly log: (line: string) => void,
    private readonly consoleLog: ConsoleLog | null,
  ) {
    this.cfg = config;
    this.flash = flashBanks(flashImages);
    this.io = new ConsoleIO(options.console.input, options.console.output);
    if (this.io.isTerminal) reaper.noteTerminalMode();
    if (consoleLog) this.io.subscribe((chunk) => consoleLog.write(chunk));
  }

  get config(): VmmConfig {
    return this.cfg;
  }

  /**
   * Places the virtio devices whose slots the configuration leaves open where the saved board
   * of `shape` (a snapshot's or a migration source's, named by `where`) had them, for this boot
   * and the later ones; throws `fail`'s error for a configured slot that says otherwise.
   */
  placeAs(shape: unknown, where: string, fail: (message: string) => Error): void {
    this.cfg = followPlacement(this.cfg, placementOf(shape), where, fail);
  }

  /** Opens everything the config names; on any failure, closes what was opened and throws. */
  static async start(config: VmmConfig, options: VmmOptions): Promise<Vmm> {
    const log = options.log ?? ((line: string) => process.stderr.write(`\nberth: ${line}\n`));
    // A snapshot to restore is read, and its RAM inflated, on the thread pool meanwhile.
    const early = options.snapshot;
    const snapshot =
      config.restore === undefined
        ? null
        : early !== undefined && resolve(early.path) === resolve(config.restore)
          ? early
          : readSnapshotFile(config.restore);
    // A TAP device the VMM makes needs privileges; one handed over must be the device named.
    // Network backends are imported when used: they load libc through koffi, which a VMM
    // without a network (or one starting from a snapshot in a hurry) need not wait for.
    if (config.net.kind === 'tap') {
      const { inheritTap, tapPreflight } = await import('./net/tapDevice.js');
      const d = config.net.device;
      if (d) inheritTap(d.fd, d.name);
      else tapPreflight({ bridge: config.net.bridge });
    }
    reaper.enable({ terminal: options.console.input?.isTTY === true });
    limitMallocArenas();
    const disks: LayeredDisk[] = [];
    const flash: (DiskBackend | null)[] = [];
    let net: HostNet | null = null;
    let consoleLog: ConsoleLog | null = null;
    let vmm: Vmm | null = null;
    try {
      // An incoming VMM locks its disks at the switch, when the source has let them go; the
      // target of a mirror owns its writable disks from the start (the stream writes them).
      for (const d of config.disks) {
        const own = !config.incoming || (config.incoming.mirror === true && !d.readOnly);
        disks.push((own ? LayeredDisk.open : LayeredDisk.deferred)(d.path, d.readOnly));
      }
      for (const f of flashBankImages(config)) {
        const image = f && openDisk(f.path, f.readOnly);
        flash.push(image);
        if (image !== null && image.size !== VIRT.flash.bankSize) {
          throw new VmmConfigError(
            `flash: ${f!.path} has ${image.size} bytes; a flash bank takes exactly ` +
              `${VIRT.flash.bankSize} (32 MiB, as QEMU's pflash): truncate -s 32M pads a smaller image with zeros`,
          );
        }
      }
      let { firmware, kernel, initrd } = config;
      // Without a firmware, or a kernel when defaults are offered: the defaults (Debian's).
      // A firmware alone boots alone (a bare-metal program, as QEMU's -bios without -kernel).
      const defaults = kernel === undefined && options.defaultAssets && !bootsFlashAlone(config);
      if (firmware === undefined || defaults) {
        if (!options.defaultAssets) throw new VmmConfigError('firmware: a firmware file is needed');
        const a = await options.defaultAssets();
        firmware ??= a.firmwarePath;
        if (kernel === undefined) {
          kernel = a.kernelPath;
          initrd ??= a.initrdPath;
        }
      }
      const files = BootFiles.open({ firmware, kernel, initrd }, config.restore !== undefined);
      if (config.net.kind === 'user') {
        const { SlirpBackend } = await import('./net/slirp.js');
        // An incoming VMM binds its forwards at the switch, when the source has let them go.
        const forwardsDeferred = config.incoming !== undefined;
        net = await SlirpBackend.start({ forwards: config.net.forwards, forwardsDeferred, log });
      } else if (config.net.kind === 'tap') {
        const { TapBackend } = await import('./net/tap.js');
        net = await TapBackend.start({ bridge: config.net.bridge, device: config.net.device, log });
      }
      if (config.consoleLog) consoleLog = ConsoleLog.open(config.consoleLog, log);
      vmm = new Vmm(config, disks, flash, net, files, options, log, consoleLog);
      const mem = await hostMemory();
      vmm.discarder = mem?.dontNeed ?? null;
      vmm.hugePages = mem?.hugePages ?? null;
      // The engines warm up while the threadpool reads the kernel and initrd (BootFiles.open).
      warmUpFor(config);
      await files.ready();
      if (snapshot !== null) await vmm.restoreSnapshot(config.restore!, snapshot);
      if (config.incoming !== undefined) {
        const { listen, ...secure } = config.incoming;
        vmm.incoming = await IncomingMigration.listen(listen, secure);
        vmm.state = 'incoming';
      }
      if (config.controlSocket !== undefined) {
        vmm.control = await ControlServer.listen(config.controlSocket, vmm);
      }
      return vmm;
    } catch (e) {
      vmm?.io.close(); // the terminal leaves raw mode
      for (const d of disks) d.close();
      for (const f of flash) f?.close();
      await net?.close();
      await consoleLog?.close();
      throw e;
    }
  }

  /** Quits cleanly on SIGTERM, SIGINT and SIGHUP (status 128 + the signal's number). */
  exitOnSignals(): void {
    const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
    for (const [signal, n] of Object.entries(numbers) as [NodeJS.Signals, number][]) {
      const handler = (): void => this.quit({ kind: 'signal', signal, code: 128 + n });
      process.on(signal, handler);
      this.signalHandlers.push([signal, handler]);
    }
  }

  /** Boots the guest and runs it, across reboots, until it powers off or is told to quit; then closes. */
  async run(): Promise<VmmExit> {
    try {
      if (this.incoming) {
        const failed = await migrationHooks(this).receive();
        if (failed) return this.quitReason ?? failed;
      }
      if (this.config.deterministic && this.io.isPipe) await this.io.drain();
      for (;;) {
        const exit = await this.boot();
        if (exit !== 'reboot') return exit;
      }
    } finally {
      await this.close();
    }
  }

  private async boot(): Promise<VmmExit | 'reboot'> {
    let board = this.restored;
    this.restored = null;
    if (board === null) {
      if (this.board) this.retiredBefore += this.board.instructions();
      this.board = null;
      board = this.makeBoard();
      this.board = board;
    }
    this.boots++;
    try {
      return await this.loop(board, this.clock!);
    } finally {
      await board.remote?.stop(); // harts on threads of their own end with the boot
    }
  }

  /** A new machine for a boot, or a restore (its board, clock and entropy); this.board is left to the caller. */
  makeBoard(restoring = false): VirtBoard {
    const m = makeMachine({
      config: this.config,
      files: restoring ? this.files.forRestore() : this.files.forBoot(),
      disks: this.disks,
      net: this.net,
      io: this.io,
      flash: this.flash,
      log: this.log,
      paused: this.state === 'paused',
      instructions: () => (this.board ? this.board.instructions() : 0),
      hugePages: this.hugePages,
    });
    this.clock = m.clock;
    this.entropy = m.entropy;
    m.board.ram.discarder = this.discarder;
    return m.board;
  }

  /**
   * Makes the first boot's board and restores `path` into it, as `reading` (readSnapshotFile)
   * read it meanwhile; throws SnapshotError, changing nothing.
   */
  private async restoreSnapshot(path: string, reading: SnapshotReading): Promise<void> {
    const t0 = performance.now();
    // Devices without a configured slot go where the snapshot has them (older Berths placed
    // them otherwise); the head of the file says where, before the board is made.
    const shape = readSnapshotShape(path);
    if (shape !== null) {
      this.placeAs(
        shape,
        'the snapshot',
        (m) => new SnapshotError('board', `snapshot ${path}: ${m}`),
      );
    }
    const board = this.makeBoard(true);
    this.board = board; // a deterministic clock counts this board's instructions
    try {
      const t1 = performance.now();
      // The pages the file holds take their page faults while its RAM is inflated.
      board.ram.prefault(await reading.pages);
      const read = await reading.read;
      const t2 = performance.now();
      const info = restoreMachineSnapshot(this.machine(board), path, read);
      // A new generation: a new VM generation ID (the guest reseeds its RNG) and, on the
      // host's clock, the RTC at the host's time (Berth's images step their clock from it).
      const g = newGeneration(this.machine(board), info.shape);
      const t3 = performance.now(); // performance.now() counts from the process's start
      const ms = (a: number, b: number): string => `${(b - a).toFixed(0)} ms`;
      this.log(
        `restored ${path} (snapshot format ${info.formatVersion}, written by Berth ${info.writer}): ` +
          `board ${ms(t0, t1)}, then waited ${ms(t1, t2)} for the file read and inflated, ` +
          `checked and loaded it in ${ms(t2, t3)}; ${t3.toFixed(0)} ms after the process started; ` +
          `VM generation ID ${g.id}${g.rtcSet ? ', RTC set to the host time' : ''}` +
          `${g.macChanged ? ', another MAC' : ''}` +
          (g.key ? `, key ${g.key} pressed` : ', no input device to tell the guest'),
      );
    } catch (e) {
      this.board = null;
      throw e;
    }
    board.net?.poll(); // frames held in the snapshot go to the guest once it has buffers
    this.restored = board;
  }

  /** The running board (null before the first boot). */
  get currentBoard(): VirtBoard | null {
    return this.board;
  }

  /** Tells the bridge where the guest is now, after it came by migration (TAP cards). */
  /** Binds or unbinds the guest's port forwards (a migration moves them at its switch). */
  async portForwards(on: boolean): Promise<void> {
    await this.net?.setForwards?.(on);
  }

  announce(): void {
    if (this.config.net.kind === 'tap' && this.net && this.board?.net) {
      announceGuest(this.net, this.board.net.mac, this.log);
    }
  }

  /** The incoming board, its state loaded, boots next (migration/vmmHooks.ts). */
  adoptBoard(board: VirtBoard): void {
    this.board = board;
    this.restored = board;
  }

  machine(board: VirtBoard): VmmMachine {
    return { board, clock: this.clock!, entropy: this.entropy };
  }

  /**
   * Writes a snapshot of the machine to `path` (absolute), the guest paused meanwhile and
   * resumed after if it was running. With `overlays` (one absolute path per disk, null for a
   * read-only one), each writable disk is frozen at the same instant and the guest writes on
   * into its overlay (layeredDisk.ts); `frozen` names the images that now hold the disks as
   * the snapshot saw them.
   */
  snapshot(path: string, overlays?: (string | null)[]): SnapshotResult {
    if (!isAbsolute(path)) {
      throw new Error(`snapshot: the file must be an absolute path, not '${path}'`);
    }
    const board = this.board;
    if (board === null || (this.state !== 'running' && this.state !== 'paused')) {
      throw new Error(`snapshot: the guest is ${this.state}: there is no machine to snapshot`);
    }
    if (overlays !== undefined) checkOverlays(this.disks, overlays);
    const wasRunning = this.state === 'running';
    if (wasRunning) this.pause();
    const t = performance.now();
    try {
      for (const d of this.disks) d.flush();
      const bytes = writeMachineSnapshot(this.machine(board), path);
      let frozen: (string | null)[];
      try {
        frozen = freezeAll(this.disks, overlays ?? []);
      } catch (e) {
        rmSync(path, { force: true });
        throw e;
      }
      return { path, bytes, milliseconds: Math.round(performance.now() - t), frozen };
    } finally {
      if (wasRunning) this.resume();
    }
  }

  /** Slices of guest execution between turns of the event loop; sleeps while the guest idles. */
  private async loop(board: VirtBoard, clock: TickClock): Promise<VmmExit | 'reboot'> {
    const io = this.io;
    let lastYield = Date.now();
    // Lets I/O, signals and control requests in now and then while the guest runs on.
    const turn = async () => {
      if (Date.now() - lastYield < 10) return;
      await new Promise((r) => setImmediate(r));
      lastYield = Date.now();
    };
    for (;;) {
      if (io.quitRequested && !this.quitReason) this.quitReason = { kind: 'quit', code: 0 };
      if (this.quitReason) return this.quitReason;
      if (this.state === 'paused') {
        await new Promise<void>((r) => (this.resumeWaiter = r));
        lastYield = Date.now();
        continue;
      }
      this.feedInput(board);
      const sliceStart = performance.now();
      const stop = board.run(SLICE);
      io.flush();
      const sliceMs = performance.now() - sliceStart;
      // The guest idles only when every hart does: the trim's collection stops this thread.
      this.idleTrim.ran(sliceMs + (board.remote?.busyMsSince() ?? 0));
      await this.idleTrim.afterSlice(board.ram);
      const owed = this.throttle.after(sliceMs);
      board.remote?.throttle(this.throttle.percent);
      if (owed > 0) {
        const t = performance.now();
        await sleep(owed);
        this.throttle.paid(performance.now() - t);
        lastYield = Date.now();
      }
      this.sample(board);
      if (stop.kind === 'fault') return { kind: 'fault', message: stop.message, code: 3 };
      if (stop.kind === 'syscon') {
        const e = stop.event;
        if (e.kind === 'reboot') return 'reboot';
        return e.kind === 'fail'
          ? { kind: 'fail', guestCode: e.code, code: 1 }
          : { kind: 'poweroff', code: 0 };
      }
      if (stop.kind === 'wfi') {
        if (io.pending() > 0) {
          const before = io.pending();
          this.feedInput(board);
          if (io.pending() < before) continue; // the guest took input: let it run
        }
        const deadline = board.nextDeadline();
        if (clock.deterministic) {
          // Idle time passes at once; with no timer armed, wait for input. A guest that idles
          // on its timer never waits: it gets the event loop's turns as a computing one does.
          if (Number.isFinite(deadline)) {
            clock.skipTo(deadline);
            await turn();
          } else {
            await Promise.race([io.whenInput(), this.whenOrdered()]);
            lastYield = Date.now();
          }
          continue;
        }
        const ms = Number.isFinite(deadline)
          ? ((deadline - clock.now()) * 1000) / TIMEBASE_HZ
          : 1000;
        if (ms > NEAR_MS) {
          await this.idleTrim.idle(board.ram);
          // Node's timers count whole milliseconds and may fire up to one early: the rest
          // of the wait is slept below, on the next turn.
          const waits = [sleep(Math.min(ms, 1000)), io.whenInput(), this.whenOrdered()];
          if (this.net) waits.push(this.net.whenReceived());
          if (board.remote) waits.push(board.remote.whenAsked().then(() => undefined));
          await Promise.race(waits);
          lastYield = Date.now();
        } else if (ms > 0) {
          // A timer due this soon is slept for precisely, on the spot (not spun for).
          Atomics.wait(nap, 0, 0, ms);
        }
        continue;
      }
      await turn();
    }
  }

  private feedInput(board: VirtBoard): void {
    const io = this.io;
    if (io.pending() === 0) return;
    if (board.hasVirtioConsole) {
      board.pollVirtioConsole();
      return;
    }
    const room = board.uart.rxSpace();
    if (room > 0) board.uart.receive(io.take(room));
  }

  /** Resolves when an order (pause, quit, shutdown) should end an idle wait. */
  private whenOrdered(): Promise<void> {
    return new Promise((r) => (this.wakeLoop = r));
  }

  private poke(): void {
    const w = this.wakeLoop;
    this.wakeLoop = null;
    w?.();
  }

  private sample(board: VirtBoard): void {
    const now = performance.now();
    const dt = now - this.rate.t;
    if (dt < 1000) return;
    const n = this.retiredBefore + board.instructions();
    this.rate = { t: now, instructions: n, mips: (n - this.rate.instructions) / dt / 1000 };
  }

  /** Stops the guest's harts and its clock between two slices. */
  pause(): void {
    if (this.state !== 'running') return;
    this.state = 'paused';
    this.board?.remote?.pause();
    this.board?.holdDevices(true);
    if (this.clock instanceof HostClock) this.clock.pause();
    this.poke();
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'running';
    if (this.clock instanceof HostClock) this.clock.resume();
    this.board?.remote?.resume();
    this.board?.holdDevices(false);
    this.rate = { t: performance.now(), instructions: this.instructions(), mips: 0 };
    const r = this.resumeWaiter;
    this.resumeWaiter = null;
    r?.();
  }

  /**
   * Asks the guest to shut down, as a power button would; the guest powers off when it is done.
   * Returns false when the board has no power button.
   */
  shutdown(): boolean {
    const pressed = this.board?.pressPowerButton() ?? false;
    this.poke();
    return pressed;
  }

  /** Ends the run at the next slice boundary (a paused guest is not resumed). */
  quit(reason: VmmExit = { kind: 'quit', code: 0 }): void {
    this.quitReason ??= this.state === 'migrated' ? { kind: 'migrated', code: 0 } : reason;
    if (this.state === 'incoming') this.incoming?.close(); // the wait ends, nothing starts
    if (['running', 'paused', 'incoming'].includes(this.state)) this.state = 'stopping';
    this.poke();
    const r = this.resumeWaiter;
    this.resumeWaiter = null;
    r?.();
  }

  /** Instructions retired since the VMM started, over all boots. */
  instructions(): number {
    return this.retiredBefore + (this.board?.instructions() ?? 0);
  }

  /** Control-socket commands beyond the basic ones: resize, migrate, migrate-cancel. */
  command(cmd: string, req: Record<string, unknown>): unknown {
    if (cmd === 'resize') {
      // {"cmd": "resize", "cols": C, "rows": R}: the virtio console's window size (hvc0).
      const hvc = this.board?.virtioConsole;
      if (!hvc) {
        throw new Error(
          "the guest's console is the serial port (ttyS0), which carries no window size: " +
            'set it in the guest with stty rows R cols C',
        );
      }
      hvc.resize(Number(req.cols), Number(req.rows));
      return hvc.size;
    }
    return migrationHooks(this).command(cmd, req);
  }

  /** The migration under way or the last one, as status shows it. */
  migrationStats(): MigrationStats | null {
    return this.migration?.snapshot() ?? (this.incoming ? { ...this.incoming.stats } : null);
  }

  status(): VmmStatus {
    const cpu = process.cpuUsage();
    const board = this.board;
    return {
      name: this.config.name,
      pid: process.pid,
      state: this.state,
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      boots: this.boots,
      instructions: this.instructions(),
      mips: this.state === 'running' ? this.rate.mips : 0,
      memoryBytes: this.config.memory,
      rssBytes: process.memoryUsage.rss(),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      engine: board ? engineCounters(board.harts) : null,
      disks: this.config.disks.map((d, i) => ({
        path: this.disks[i]?.path ?? resolve(d.path),
        readOnly: d.readOnly,
        ...(board?.disks[i]?.counters ?? {}),
      })),
      net:
        this.config.net.kind === 'none'
          ? null
          : {
              kind: this.config.net.kind,
              mac: board?.net ? formatMac(board.net.mac) : null,
              ...(this.config.net.kind === 'tap' && this.net
                ? { device: (this.net as TapBackend).name, bridge: (this.net as TapBackend).bridge }
                : {}),
              card: board?.net ? { ...board.net.counters } : null,
              backend: this.net ? { ...this.net.counters } : null,
              address: this.net?.guestAddress ?? null,
            },
      migration: this.migrationStats(),
    };
  }

  /** Flushes and releases everything; idempotent. */
  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async doClose(): Promise<void> {
    this.migration?.cancel('the VMM is quitting');
    this.incoming?.close();
    if (this.state !== 'migrated') this.state = 'stopped';
    for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
    const errors: unknown[] = [];
    for (const d of [...this.disks, ...this.flashImages]) {
      if (d === null) continue;
      try {
        d.flush();
      } catch (e) {
        errors.push(e);
      } finally {
        d.close();
      }
    }
    this.io.close();
    await this.consoleLog?.close();
    await this.control?.close();
    await this.net?.close();
    if (errors.length > 0) throw errors[0];
  }
}
