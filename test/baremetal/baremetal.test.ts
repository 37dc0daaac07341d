// Builds every bare-metal test program (test/baremetal/*.S) with the RISC-V
// cross gcc and runs it on the hart; each program must report PASS through
// the test device. Builds are cached in the OS temp directory by source hash.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { type BaremetalResult, buildBaremetal, checkCrossGcc, runBaremetal } from './harness.js';

// This file runs from dist/test/baremetal/; the sources stay in test/baremetal/.
const SRC = fileURLToPath(new URL('../../../test/baremetal/', import.meta.url));
const LIB = join(SRC, 'lib');

const programs = readdirSync(SRC)
  .filter((f) => f.endsWith('.S'))
  .sort();

test('bare-metal programs exist', () => {
  assert.ok(programs.length > 0, `no .S programs found in ${SRC}`);
});

test('cross compiler riscv64-linux-gnu-gcc is installed (Debian package gcc-riscv64-linux-gnu)', () => {
  checkCrossGcc();
});

function build(p: string): Uint8Array {
  return buildBaremetal({
    source: join(SRC, p),
    extraSources: [join(LIB, 'runtime.S')],
    includeDir: LIB,
    linkerScript: join(LIB, 'link.ld'),
  });
}

function assertPass(p: string, r: BaremetalResult): void {
  const why =
    r.status === 'fail'
      ? `FAIL code ${r.code} (source line of the failed check in ${p})`
      : r.status.toUpperCase();
  assert.equal(r.status, 'pass', `${p}: ${why}\noutput: ${r.output}\nhart: ${r.summary}`);
}

for (const p of programs) {
  test(`bare-metal ${p}`, () => assertPass(p, runBaremetal(build(p))));
}

// Time in --deterministic runs is the instruction count: translated blocks must
// retire exactly the instructions the interpreter does.
test('zb.S: the interpreter and translated blocks pass and retire the same instructions', () => {
  const elf = build('zb.S');
  const interpreted = runBaremetal(elf, { jitThreshold: 0 });
  const translated = runBaremetal(elf, { jitThreshold: 1 });
  assertPass('zb.S (interpreter)', interpreted);
  assertPass('zb.S (translated blocks)', translated);
  assert.equal(interpreted.translated, 0);
  assert.ok(
    translated.translated > 100,
    `blocks ran (${translated.translated} instructions translated)`,
  );
  assert.equal(translated.instret, interpreted.instret);
  assert.equal(translated.output, interpreted.output);
});
