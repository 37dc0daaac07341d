#!/usr/bin/env node
// The `berth` command line.

import { parseArgs } from 'node:util';
import { runDemo } from '../vmm/demo.js';

const HELP = `berth - virtual servers on a RISC-V machine written in TypeScript

Usage:
  berth run            boot a virtual server (for now: the built-in demo program)
  berth --help         show this help
  berth --version      show the version

Options of 'berth run':
  --demo               run the built-in demo program (the default until the virt board lands)
`;

function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd === undefined ? 1 : 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write('berth 0.1.0\n');
    return 0;
  }
  if (cmd === 'run') {
    parseArgs({ args: rest, options: { demo: { type: 'boolean' } }, strict: true });
    const r = runDemo((b) => process.stdout.write(String.fromCharCode(b)));
    if (r.event?.kind === 'poweroff') return 0;
    process.stderr.write(`berth: the guest stopped without powering off (${JSON.stringify(r.event)})\n`);
    return 1;
  }
  process.stderr.write(`berth: unknown command '${cmd}'. Run 'berth --help' for the commands.\n`);
  return 2;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`berth: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
}
