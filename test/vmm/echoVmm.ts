// A VMM in this process running the echo guest (echo.S) from a config, with its control socket
// in `dir` and its console collected; resolves once the guest has said "echo ready" (or, when
// the config restores a snapshot or waits for a migration, once the VMM runs).

import { join } from 'node:path';
import { parseVmmConfig } from '../../src/vmm/config.js';
import type { MigrationStats } from '../../src/vmm/migration/stats.js';
import { Vmm, type VmmExit } from '../../src/vmm/vmm.js';
import { echoGuestElf } from './echoGuest.js';
import { until } from '../support/wait.js';
import { openConsole } from '../../src/vmm/controlClient.js';

export interface EchoVmm {
  vmm: Vmm;
  sock: string;
  /** The console output so far, as text. */
  out: () => string;
  done: Promise<VmmExit>;
}

export async function startEcho(
  dir: string,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<EchoVmm> {
  const sock = join(dir, `${name}.sock`);
  const config = parseVmmConfig({
    name,
    memory: '32M',
    firmware: echoGuestElf(),
    controlSocket: sock,
    ...extra,
  });
  const vmm = await Vmm.start(config, { console: { input: null, output: null }, log: () => {} });
  let out = '';
  vmm.io.subscribe((c) => (out += c.toString('latin1')));
  const done = vmm.run();
  if (config.restore === undefined && config.incoming === undefined) {
    await until('the guest to start', () => out.includes('echo ready'));
  }
  return { vmm, sock, out: () => out, done };
}

/** Types `text` on the VMM's console (a client of its own) and waits for the guest's echo of it. */
export async function typeInto(sock: string, text: string, out: () => string): Promise<void> {
  const c = await openConsole(sock, { replay: false });
  const before = out().length;
  c.socket.write(text);
  await until(`the echo of ${text}`, () => out().slice(before).includes(text));
  c.socket.destroy();
}

/** The statistics of `a`'s outgoing migration once it has ended (completed, failed, ...). */
export async function migrationEnded(a: { vmm: Vmm }, ms = 60_000): Promise<MigrationStats> {
  let last: MigrationStats | null = null;
  await until(
    'the migration to end',
    () => {
      last = a.vmm.migrationStats();
      return last !== null && !['setup', 'active', 'device'].includes(last.status);
    },
    ms,
  );
  return last!;
}

/** Prints a migration's figures as a TAP comment (what the test run shows of it). */
export function printFigures(what: string, m: MigrationStats): void {
  process.stdout.write(
    `# ${what}: ${m.status}, ${m.rounds} rounds, ${m.bytesSent} bytes ` +
      `(disk ${m.diskBytesSent}), ${m.pagesSent} pages, total ${m.totalMs} ms, ` +
      `downtime ${m.downtimeMs} ms (expected ${m.expectedDowntimeMs}), ` +
      `throughput ${m.throughputBytesPerSecond} B/s, dirty ${m.dirtyBytesPerSecond} B/s, ` +
      `max throttle ${m.maxThrottlePercent}%\n`,
  );
}
