// Differential tests of single instructions against qemu-riscv64: reserved and
// illegal encodings (SIGILL under QEMU = illegal-instruction exception, cause 2,
// on the hart), hints and legal oddities (no trap, same state), other traps
// (SIGTRAP, SIGBUS, SIGSEGV), and a sweep of the decoder (every 16-bit parcel,
// every opcode/function-field combination of the 32-bit formats). Each
// instruction is a case of its own, many cases to a program; the programs'
// signal handler records a trap and goes on with the next case.
//
// Environment: DIFF_SEED and DIFF_MAX_FAIL as for diff.test.ts, and
// DIFF_ENC=<hex>[,<hex>] to run only these encodings, e.g.
// DIFF_SEED=0x5eed DIFF_ENC=0x9c41 node --test dist/test/diff/encodings.test.js

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Case } from './caseModel.js';
import { flagText, initialValues } from './compare.js';
import {
  directedEncodings,
  ENC_ID_BASE,
  type Encoding,
  encodingCase,
  sweepEncodings,
} from './encodings.js';
import { type Prepared, prepareProgram, runBatch } from './engine.js';
import { envNum, MAX_FAIL, SEED, SEED_TEXT } from './env.js';
import { checkTools, disassembleWord, discard, removeTempDir } from './toolchain.js';

const BATCH = envNum('DIFF_ENC_BATCH', 1000);
const ONLY = new Set(
  (process.env.DIFF_ENC ?? '')
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => Number(s) >>> 0),
);

const tools = checkTools();
tools.catch(() => {});
after(removeTempDir);

const hex = (e: Encoding): string => '0x' + e.enc.toString(16).padStart(e.len * 2, '0');

/** Runs a list of encodings as cases; returns [failure reports, failing, run]. */
async function runList(
  list: Encoding[],
  idBase: number,
  name: string,
): Promise<[string[], number, number]> {
  await tools;
  const sel = list
    .map((e, i) => ({ e, id: idBase + i }))
    .filter(({ e }) => ONLY.size === 0 || ONLY.has(e.enc));
  const enc = new Map(sel.map(({ e, id }) => [id, e]));
  const jobs: Promise<[Case[], Prepared]>[] = [];
  const startJob = (i: number): void => {
    if (i * BATCH >= sel.length || jobs[i] !== undefined) return;
    const cases = sel
      .slice(i * BATCH, (i + 1) * BATCH)
      .map(({ e, id }) => encodingCase(SEED, id, e));
    jobs[i] = prepareProgram(cases, name).then((prep): [Case[], Prepared] => [cases, prep]);
    jobs[i].catch(() => {});
  };
  const bad: string[] = [];
  let failing = 0;
  for (let i = 0; i * BATCH < sel.length; i++) {
    for (let k = i; k <= i + 3; k++) startJob(k);
    const [cases, prep] = await jobs[i];
    for (const o of await runBatch(prep, cases)) {
      const e = enc.get(o.c.id);
      if (e === undefined) continue;
      const problems = [...o.diff];
      if (e.expect !== undefined && o.qemuSignal !== e.expect) {
        problems.unshift(
          `  qemu: ${o.qemuSignal ?? 'no trap'}, but the test expects ${e.expect ?? 'no trap'} (is the expectation wrong?)`,
        );
      }
      if (problems.length === 0) continue;
      failing++;
      if (bad.length >= MAX_FAIL) continue;
      const dis = await disassembleWord(e.enc, e.len).catch(() => '?');
      bad.push(
        [
          `${e.name}: ${e.len === 2 ? '.half' : '.word'} ${hex(e)}  (${dis}), fcsr 0x${e.fcsr.toString(16)} (frm ${e.fcsr >> 5}, ${flagText(e.fcsr & 31)}):`,
          ...problems,
          ...initialValues(o.c, dis),
          `  rerun: DIFF_SEED=${SEED_TEXT} DIFF_ENC=${hex(e)} node --test dist/test/diff/encodings.test.js`,
        ].join('\n'),
      );
    }
    discard(prep.path);
    jobs[i] = Promise.reject(new Error('batch already checked'));
    jobs[i].catch(() => {});
  }
  return [bad, failing, sel.length];
}

function check(what: string, [bad, failing, n]: [string[], number, number]): void {
  const more =
    failing > bad.length
      ? `\n\n... and ${failing - bad.length} more (DIFF_MAX_FAIL raises the limit)`
      : '';
  assert.equal(
    failing,
    0,
    `${what}: hart and qemu-riscv64 differ on ${failing} of ${n}:\n\n${bad.join('\n\n')}${more}`,
  );
}

const directed = directedEncodings();
const illegal = directed.filter((e) => e.expect === 'SIGILL');
const legal = directed.filter((e) => e.expect === null);
const traps = directed.filter((e) => e.expect !== null && e.expect !== 'SIGILL');

test(`illegal and reserved encodings raise SIGILL / cause 2 (${illegal.length})`, async () => {
  check('illegal encodings', await runList(illegal, ENC_ID_BASE, 'illegal'));
});

test(`hints and legal oddities run and leave the same state (${legal.length})`, async () => {
  check('legal encodings', await runList(legal, ENC_ID_BASE + 10_000, 'legal'));
});

test(`ebreak, misaligned atomics and bad addresses raise the same signal (${traps.length})`, async () => {
  check('trapping encodings', await runList(traps, ENC_ID_BASE + 20_000, 'traps'));
});

test('decoder sweep: every 16-bit parcel, every opcode/function field combination', async () => {
  check('swept encodings', await runList(sweepEncodings(SEED), ENC_ID_BASE + 100_000, 'sweep'));
});
