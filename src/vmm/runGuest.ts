// Drives a virt board on the host: slices of guest execution between turns of
// the event loop, console input fed as the UART has room, sleeping while the
// guest waits in WFI, and the guest's poweroff/reboot/failure as the result.

import type { VirtBoard } from '../machine/board/virt.js';
import { TIMEBASE_HZ } from '../machine/board/memoryMap.js';
import type { ConsoleIO } from './console.js';
import type { TickClock } from './clocks.js';

export type GuestExit =
  | { kind: 'poweroff' }
  | { kind: 'reboot' }
  | { kind: 'fail'; code: number }
  | { kind: 'fault'; message: string }
  | { kind: 'quit' };

/** Instructions per slice: about a millisecond of guest time. */
export const SLICE = 200_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function feedInput(board: VirtBoard, io: ConsoleIO): void {
  if (io.pending() === 0) return;
  if (board.hasVirtioConsole) {
    board.pollVirtioConsole();
    return;
  }
  const room = board.uart.rxSpace();
  if (room > 0) board.uart.receive(io.take(room));
}

/**
 * Runs `board` until the guest powers off, reboots, fails, or the user quits.
 * `wake`, when given, resolves when a host backend has news for an idle guest
 * (a network frame), so that WFI sleeps end early.
 */
export async function runGuest(
  board: VirtBoard,
  io: ConsoleIO,
  clock: TickClock,
  wake?: () => Promise<void>,
): Promise<GuestExit> {
  let lastYield = Date.now();
  for (;;) {
    if (io.quitRequested) return { kind: 'quit' };
    feedInput(board, io);
    const stop = board.run(SLICE);
    io.flush();
    if (stop.kind === 'fault') return { kind: 'fault', message: stop.message };
    if (stop.kind === 'syscon') {
      const e = stop.event;
      return e.kind === 'fail' ? { kind: 'fail', code: e.code } : { kind: e.kind };
    }
    if (stop.kind === 'wfi') {
      if (io.pending() > 0) {
        const before = io.pending();
        feedInput(board, io);
        if (io.pending() < before) continue; // the guest took input: let it run
      }
      const deadline = board.nextDeadline();
      if (clock.deterministic) {
        // Idle time passes at once; with no timer armed, wait for input.
        if (Number.isFinite(deadline)) clock.skipTo(deadline);
        else await io.whenInput();
        continue;
      }
      const ms = Number.isFinite(deadline) ? ((deadline - clock.now()) * 1000) / TIMEBASE_HZ : 1000;
      if (ms > 0.5) {
        const waits = [sleep(Math.min(ms, 1000)), io.whenInput()];
        if (wake) waits.push(wake());
        await Promise.race(waits);
        lastYield = Date.now();
      }
      continue;
    }
    // Let I/O in now and then while the guest computes.
    if (Date.now() - lastYield >= 10) {
      await new Promise((r) => setImmediate(r));
      lastYield = Date.now();
    }
  }
}
