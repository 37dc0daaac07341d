// Where live migration meets the Vmm: the control-socket commands (migrate, migrate-cancel),
// what the sending side asks of the VMM (pause, disks released at the switch and taken back when
// the switch fails, the VMM ending once the guest runs elsewhere), and the incoming VMM's wait
// for its stream (disks locked only at the switch, the board adopted as the first boot's).

import type { VirtBoard } from '../../machine/board/virt.js';
import { StateReader } from '../../machine/state/stateReader.js';
import { InstructionClock } from '../clocks.js';
import type { Vmm, VmmExit } from '../vmm.js';
import { clockSection } from '../vmmSnapshot.js';
import { MigrationSource } from './source.js';
import { migrateOptions } from './target.js';
import { MigrationError } from './wire.js';

export function migrationHooks(vmm: Vmm) {
  return {
    command(cmd: string, req: Record<string, unknown>): unknown {
      if (cmd === 'migrate') {
        if (vmm.migration?.active) throw new MigrationError('a migration is under way already');
        if (vmm.state !== 'running' && vmm.state !== 'paused') {
          throw new MigrationError(`the guest is ${vmm.state}: there is nothing to migrate`);
        }
        if (vmm.config.flash.length > 0) {
          throw new MigrationError(
            'the guest has flash images (--flash), which do not migrate: stop it and start it elsewhere',
          );
        }
        const opts = migrateOptions(req);
        vmm.migration = new MigrationSource(sourceHost(vmm), opts);
        return vmm.migration.snapshot();
      }
      if (cmd === 'migrate-cancel') {
        const m = vmm.migration;
        if (!m || !m.cancel('cancelled on the control socket')) {
          throw new MigrationError(
            'no migration can be cancelled now (none under way, or past the switch)',
          );
        }
        return m.snapshot();
      }
      throw new MigrationError(`unknown command '${cmd}'`);
    },

    /** Waits for the incoming stream; returns the exit of a VMM whose stream failed, or null. */
    async receive(): Promise<VmmExit | null> {
      const incoming = vmm.incoming!;
      let board: VirtBoard | null = null;
      try {
        const received = await incoming.receive({
          // Devices without a configured slot go where the source has them.
          board: (shape) => {
            vmm.placeAs(shape, "the source's board", (m) => new MigrationError(m));
            board = vmm.makeBoard();
            board.holdDevices(true); // frames that come before the guest runs wait for it
            return board;
          },
          mirror: vmm.config.incoming?.mirror === true ? vmm.disks : null,
          acquire: async () => {
            const done = [];
            try {
              for (const d of vmm.disks) {
                d.reacquire();
                done.push(d);
              }
            } catch (e) {
              for (const d of done) d.release();
              throw new MigrationError(`the disks cannot be taken over: ${(e as Error).message}`);
            }
            try {
              await vmm.portForwards(true);
            } catch (e) {
              for (const d of done) d.release();
              throw new MigrationError(
                `the port forwards cannot be bound here: ${(e as Error).message}`,
              );
            }
          },
          loadExtras: (extras) => loadClock(vmm, board!, extras),
          log: vmm.log,
        });
        const running = received.running;
        vmm.adoptBoard(received.board);
        vmm.state = 'running';
        if (running) received.board.holdDevices(false);
        else vmm.pause(); // paused at the source: paused here
        vmm.announce();
        vmm.log(`migrated in from ${incoming.stats.peer}: ${incoming.stats.pagesSent} pages`);
        return null;
      } catch (e) {
        vmm.log(`incoming migration failed: ${(e as Error).message}`);
        return { kind: 'incoming-failed', message: (e as Error).message, code: 1 };
      }
    },
  };
}

function sourceHost(vmm: Vmm) {
  return {
    board: () => vmm.currentBoard,
    running: () => vmm.state === 'running',
    pause: () => vmm.pause(),
    resume: () => vmm.resume(),
    extras: () => ({ clock: clockSection(vmm.machine(vmm.currentBoard!)) }),
    disks: () => vmm.disks,
    throttle: vmm.throttle,
    release: async () => {
      for (const d of vmm.disks) d.release();
      await vmm.portForwards(false);
    },
    reacquire: async () => {
      for (const d of vmm.disks) d.reacquire();
      await vmm
        .portForwards(true)
        .catch((e: Error) => vmm.log(`the port forwards could not be bound again: ${e.message}`));
    },
    migrated: (holdMs: number) => {
      // The VMM ends now, or once told to quit within holdMs (its final figures read first).
      vmm.state = 'migrated';
      // (the timer does not keep the process alive: its control socket does, until the quit)
      if (holdMs > 0) setTimeout(() => vmm.quit(), holdMs).unref();
      else vmm.quit();
    },
    log: vmm.log,
  };
}

/** The source's vmm.clock section: a deterministic run goes on with its skipped time and entropy. */
function loadClock(
  vmm: Vmm,
  board: Parameters<Vmm['machine']>[0],
  extras: Record<string, unknown>,
) {
  const m = vmm.machine(board);
  const data = extras.clock;
  if (data === undefined) return;
  let skipped: number | null = null;
  let entropy: unknown = null;
  try {
    StateReader.read(data, (r) => {
      const deterministic = r.bool('deterministic');
      const ticks = r.int('skippedTicks', 0, Number.MAX_SAFE_INTEGER);
      const saved = r.raw('entropy');
      if (deterministic !== m.clock.deterministic) {
        throw new MigrationError('the source runs in another time mode (deterministic or not)');
      }
      if (m.clock instanceof InstructionClock) skipped = ticks;
      if (m.entropy && saved !== null) entropy = m.entropy.checkState(saved);
    });
  } catch (e) {
    throw new MigrationError(
      `the device state's vmm.clock section is refused: ${(e as Error).message}`,
    );
  }
  if (skipped !== null && m.clock instanceof InstructionClock) m.clock.skippedTicks = skipped;
  if (entropy !== null) m.entropy?.loadState(entropy as never);
}
