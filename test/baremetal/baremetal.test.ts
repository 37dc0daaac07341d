// Builds every bare-metal test program (test/baremetal/*.S) with the RISC-V
// cross gcc and runs it on the hart; each program must report PASS through
// the test device. Builds are cached in the OS temp directory by source hash.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { buildBaremetal, checkCrossGcc, runBaremetal } from './harness.js';

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

for (const p of programs) {
  test(`bare-metal ${p}`, () => {
    const elf = buildBaremetal({
      source: join(SRC, p),
      extraSources: [join(LIB, 'runtime.S')],
      includeDir: LIB,
      linkerScript: join(LIB, 'link.ld'),
    });
    const r = runBaremetal(elf);
    const why =
      r.status === 'fail'
        ? `FAIL code ${r.code} (source line of the failed check in ${p})`
        : r.status.toUpperCase();
    assert.equal(r.status, 'pass', `${p}: ${why}\noutput: ${r.output}\nhart: ${r.summary}`);
  });
}
