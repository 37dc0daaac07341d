#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=1 --no-memory-reducer --no-wasm-lazy-compilation --v8-pool-size=1
// The `berth` command line.

import { parseArgs } from 'node:util';
import { readSnapshotFile, type SnapshotReadAhead } from '../vmm/snapshot/snapshotFile.js';

const HELP = `berth - virtual servers on a RISC-V machine written in TypeScript

Usage:
  berth run [options]  boot a virtual server (berth run --help for the options)
  berth image build    build a root disk and initramfs (berth image --help)
  berth vmm --config F run one guest from a JSON configuration, driven through its
                       control socket (berth vmm --help)
  berth daemon         run the host daemon (berth daemon --help)
  berth create|start|stop|restart|pause|resume|rm|ls|stats|inspect|logs|events|console
                       manage guests through the daemon (berth ls --help)
  berth snapshot create|restore|ls|rm GUEST [NAME]
                       snapshots through the daemon (berth snapshot --help)
  berth clone GUEST NEW
                       a new guest from a running one, without booting (berth clone --help)
  berth migrate GUEST --to https://HOST:PORT ...
                       move a running guest to another host (berth migrate --help)
  berth host drain --to https://HOST:PORT ...
                       move every running guest to another host (berth host --help)
  berth --help         show this help
  berth --version      show the version

`;

/**
 * The file of `--restore FILE` among `berth run`'s arguments, read (and its RAM inflated) on
 * the thread pool at once, while the rest of Berth loads; run.ts takes it if it is the file
 * its own parsing finds.
 */
function readAhead(args: string[]): SnapshotReadAhead | undefined {
  const { values } = parseArgs({ args, strict: false, options: { restore: { type: 'string' } } });
  const path = values.restore;
  return typeof path === 'string' ? { path, ...readSnapshotFile(path) } : undefined;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP + '\n' + (await import('./run.js')).RUN_HELP);
    return cmd === undefined ? 1 : 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    const { berthVersion } = await import('../vmm/snapshot/berthVersion.js');
    process.stdout.write(`berth ${berthVersion()}\n`);
    return 0;
  }
  if (cmd === 'run') {
    const early = readAhead(rest);
    return (await import('./run.js')).runCommand(rest, early);
  }
  if (cmd === 'image') return (await import('./image.js')).imageCommand(rest);
  if (cmd === 'vmm') return (await import('./vmm.js')).vmmCommand(rest);
  if (cmd === 'daemon') return (await import('./daemon.js')).daemonCommand(rest);
  if (cmd === 'snapshot') return (await import('./snapshot.js')).snapshotCommand(rest);
  if (cmd === 'clone') return (await import('./snapshot.js')).cloneCommand(rest);
  if (cmd === 'migrate') return (await import('./migrate.js')).migrateCommand(rest);
  if (cmd === 'host') return (await import('./migrate.js')).hostCommand(rest);
  const guests = await import('./guests.js');
  if ((guests.GUEST_COMMANDS as readonly string[]).includes(cmd)) {
    return guests.guestCommand(cmd, rest);
  }
  process.stderr.write(`berth: unknown command '${cmd}'. Run 'berth --help' for the commands.\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`berth: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
