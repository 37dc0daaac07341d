// The board programs (test/baremetal/board/*.S, each linked with board/console.S by Debian's
// riscv64 gcc) and the two ways to run one on a whole virt board: `berth run` and
// qemu-system-riscv64 (QEMU 7.2's virt, `-cpu rv64,h=false`, 256 MiB, one hart), each with
// the options given and `input` on the console.
//
//   const elf = boardProgram('diskirq', dir);
//   const b = berthRun(['--firmware', 'none', '--kernel', elf], 'berth\n');
//   const q = qemuRun(['-bios', 'none', '-kernel', elf], 'berth\n');

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildBaremetal } from './harness.js';
import { BERTH_CLI } from '../integration/session.js';

const SRC = fileURLToPath(new URL('../../../test/baremetal/', import.meta.url));
const LIB = join(SRC, 'lib');

/** Builds board/NAME.S with console.S into DIR/NAME.elf and returns that path. */
export function boardProgram(name: string, dir: string): string {
  const elf = join(dir, `${name}.elf`);
  writeFileSync(
    elf,
    buildBaremetal({
      source: join(SRC, 'board', `${name}.S`),
      extraSources: [join(SRC, 'board', 'console.S')],
      includeDir: LIB,
      linkerScript: join(LIB, 'link.ld'),
    }),
  );
  return elf;
}

/** `berth run ARGS` with `input` on its console: its exit status, stdout and stderr. */
export function berthRun(
  args: string[],
  input = '',
): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BERTH_CLI, 'run', ...args], {
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** qemu-system-riscv64 on the virt board with ARGS and `input` on its console: stdout (status 0 asserted). */
export function qemuRun(args: string[], input = ''): string {
  const r = spawnSync(
    'qemu-system-riscv64',
    ['-machine', 'virt', '-cpu', 'rv64,h=false', '-m', '256M', '-smp', '1', '-nographic', ...args],
    { input, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, `qemu: ${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
