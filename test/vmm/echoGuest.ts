// Builds test/vmm/echo.S (a bare-metal guest that echoes console input, prints numbered lines
// on Ctrl-P and powers off on 'q') with Debian's riscv64 cross gcc, cached in the temporary
// directory by a hash of its source.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The source, from dist/test/vmm/ back to test/vmm/. */
const SOURCE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'test',
  'vmm',
  'echo.S',
);

/** Path of the built ELF. */
export function echoGuestElf(): string {
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'berth-test-guests');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `echo-${hash}.elf`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  const b = spawnSync(
    'riscv64-linux-gnu-gcc',
    [
      ...['-nostdlib', '-static', '-march=rv64gc', '-mabi=lp64d', '-mno-relax'],
      ...['-Wl,-Ttext=0x80000000', '-Wl,--no-relax', '-Wl,--build-id=none', '-o', tmp, SOURCE],
    ],
    { encoding: 'utf8' },
  );
  if (b.error || b.status !== 0) {
    throw new Error(
      `building ${SOURCE} failed (needs Debian's gcc-riscv64-linux-gnu): ${b.error?.message ?? b.stderr}`,
    );
  }
  renameSync(tmp, out);
  return out;
}
