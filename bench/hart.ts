// Hart speed: guest instructions per second on an integer-heavy, a memory-heavy, a
// floating-point and a multi-precision multiply loop (bench/programs), on both engines
// (translated to WebAssembly, and the interpreter alone), beside Debian's qemu-riscv64
// running the same ELF.
// Run: npm run bench   (needs gcc-riscv64-linux-gnu and qemu-user)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runUserElf } from '../test/support/userRunner.js';

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, '..', '..', 'bench', 'programs');
function build(work: string, name: string): string {
  const out = join(work, name + '.elf');
  execFileSync('riscv64-linux-gnu-gcc', [
    '-nostdlib',
    '-static',
    '-march=rv64gc',
    '-mabi=lp64d',
    '-Wl,-Ttext-segment=0x80000000',
    '-Wl,--build-id=none',
    '-Wl,--no-relax',
    '-o',
    out,
    join(srcDir, name + '.S'),
  ]);
  return out;
}

function qemuSeconds(elf: string): number {
  const t = process.hrtime.bigint();
  execFileSync('qemu-riscv64', [elf]);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/**
 * Builds program `name` and times it on qemu-riscv64 (best of 2): its ELF's bytes and the
 * seconds. The folder is gone when this returns: the long runs after it are synchronous, so a
 * signal ends the benchmark at once, with nothing left to clean up.
 */
function buildAndTimeQemu(name: string): { bytes: Buffer; q: number } {
  const work = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  try {
    const elf = build(work, name);
    return { bytes: readFileSync(elf), q: Math.min(qemuSeconds(elf), qemuSeconds(elf)) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const rows: string[][] = [
  [
    'workload',
    'engine',
    'instructions',
    'berth s',
    'berth MIPS',
    'qemu s',
    'qemu MIPS',
    'berth/qemu time',
  ],
];
/** The hart's engines: translation to WebAssembly (default threshold) and the interpreter alone. */
const ENGINES = [
  { name: 'translated', jitThreshold: undefined },
  { name: 'interpreter', jitThreshold: 0 },
];
/** `node dist/bench/hart.js mpiloop,intloop` runs only those programs. */
const ONLY = process.argv[2]?.split(',');
for (const name of ONLY ?? ['intloop', 'memloop', 'fploop', 'mpiloop']) {
  const { bytes, q } = buildAndTimeQemu(name);
  for (const engine of ENGINES) {
    const opts = { ramSize: 8 << 20, jitThreshold: engine.jitThreshold };
    runUserElf(bytes, { ...opts, maxInstructions: 5_000_000 }); // warm-up
    const t = process.hrtime.bigint();
    const r = runUserElf(bytes, { ...opts, maxInstructions: 1e10 });
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (r.error !== null || r.exitCode !== 0)
      throw new Error(`${name}: ${r.error ?? 'exit ' + r.exitCode}`);
    rows.push([
      name,
      engine.name,
      String(r.instret),
      s.toFixed(2),
      (r.instret / s / 1e6).toFixed(1),
      q.toFixed(3),
      (r.instret / q / 1e6).toFixed(0),
      (s / q).toFixed(1) + 'x',
    ]);
  }
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((v, c) => v.padStart(widths[c])).join('  '));
console.log(
  '\ncommand: npm run bench (node dist/bench/hart.js); qemu: qemu-riscv64 on the same ELF, best of 2',
);
