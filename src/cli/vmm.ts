// `berth vmm --config FILE`: runs one VMM from a complete JSON VmmConfig, the way a supervisor
// (the host daemon) starts guests: no terminal; the console, status and orders go through the
// control socket the config names.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readSnapshotFile } from '../vmm/snapshot/snapshotFile.js';

export const VMM_HELP = `Usage: berth vmm --config FILE [--stdio]

Runs one guest from FILE, a JSON VmmConfig (name, memory, firmware, kernel, initrd,
append, disks, net, console, jitThreshold, deterministic, powerButton, balloon, controlSocket,
consoleLog: {path, maxBytes (default 1M), keep (default 2)}, restore: a snapshot file to
start from, incoming: {listen: "HOST:PORT"} to wait for a live migration instead of booting). Boot files are not fetched: the config names them all.

Options:
  --config FILE   the configuration (required)
  --stdio         also put the console on stdin/stdout (default: control socket only)
`;

export async function vmmCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      config: { type: 'string' },
      stdio: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(VMM_HELP);
    return 0;
  }
  if (values.config === undefined) throw new Error('berth vmm: --config FILE is required');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(values.config, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the VMM configuration ${values.config}: ${(e as Error).message}`);
  }
  // A snapshot to restore is read, and its RAM inflated, on the thread pool while the VMM's
  // modules load (the config is checked once they have).
  const restore = (json as { restore?: unknown } | null)?.restore;
  const early =
    typeof restore === 'string' ? { path: restore, ...readSnapshotFile(restore) } : undefined;
  const { parseVmmConfig } = await import('../vmm/config.js');
  const { Vmm } = await import('../vmm/vmm.js');
  const config = parseVmmConfig(json);
  if (config.firmware === undefined) throw new Error('the configuration names no firmware');
  const vmm = await Vmm.start(config, {
    snapshot: early,
    console: values.stdio
      ? { input: process.stdin, output: process.stdout }
      : { input: null, output: null },
  });
  vmm.exitOnSignals();
  const exit = await vmm.run();
  if (exit.kind === 'fault') process.stderr.write(`berth: internal error: ${exit.message}\n`);
  if (exit.kind === 'incoming-failed') {
    process.stderr.write(`berth: the incoming migration failed: ${exit.message}\n`);
  }
  return exit.code;
}
