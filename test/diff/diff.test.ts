// Differential tests of the hart against qemu-riscv64, one node:test test per
// group (RV64I, C, loads/stores, M, A, Zicsr, F/D, Zba/Zbb/Zbc/Zbs). Each program batches many
// cases; both sides dump the registers, fcsr and data area after every case
// and the records are compared case by case. Single-instruction tests (illegal
// encodings, decoder sweep) are in encodings.test.ts.
//
// Files: values.ts (seeded random numbers, operand pools), caseModel.ts (a case),
// genInt.ts / genFp.ts / genZb.ts (generators), suite.ts (groups, case numbers), program.ts
// (assembly of a batch), toolchain.ts (gcc, qemu, objdump), engine.ts (running
// and comparing a batch), compare.ts (records and readable diffs), env.ts.
//
// Case numbers: group number * 1000000 + index in the group (the test names show
// each group's range). A failure report shows the differing registers, fcsr and
// data-area words, the first instruction after which the two sides disagree,
// the listing, the initial values of the registers it names, and the command
// that reruns just that case.
//
// Needs qemu-user and gcc-riscv64-linux-gnu (the tests fail, not skip, without them).
// Environment:
//   DIFF_SEED=<n>|random   seed of the generated cases (default 0x5eed)
//   DIFF_CASE=<id>[,<id>]  run only these cases, print their listings and results
//   DIFF_SCALE=<x>         multiply the number of random cases (soak: DIFF_SCALE=20)
//   DIFF_GROUP=<regex>     run only the groups whose name matches
//   DIFF_BATCH=<n>         cases per program (default 150)
//   DIFF_MAX_FAIL=<n>      failing cases reported per group (default 5)
//   DIFF_KEEP=1            keep the temporary directory (programs, ELFs) for inspection
// Rerun one case: DIFF_SEED=0x5eed DIFF_CASE=1000042 node --test dist/test/diff/diff.test.js

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type Case, CASE_STRIDE } from './caseModel.js';
import { describeCase } from './compare.js';
import {
  firstDifference,
  type Outcome,
  type Prepared,
  prepareProgram,
  runBatch,
  translatedShare,
} from './engine.js';
import { caseIds, GROUPS, type Group, groupOf, makeCase } from './suite.js';
import { envNum, MAX_FAIL, SCALE, SEED, SEED_TEXT } from './env.js';
import { checkTools, discard, removeTempDir } from './toolchain.js';

const BATCH = envNum('DIFF_BATCH', 150);
const ONLY = (process.env.DIFF_CASE ?? '')
  .split(',')
  .filter((s) => s.trim() !== '')
  .map((s) => Number(s));
const GROUP_RE = new RegExp(process.env.DIFF_GROUP ?? '.');
/**
 * The least share of an F or D group's instructions that the translated engine runs in blocks
 * (seed 0x5eed: 94.6 to 99.2%; 80.6 to 87.6% when every FP instruction ended a block).
 */
const MIN_FP_TRANSLATED = 0.92;

const tools = checkTools();
tools.catch(() => {});
after(removeTempDir);

/** A program of up to BATCH cases, generated, assembled and run under QEMU on demand. */
class Batch {
  private job: Promise<[Case[], Prepared]> | null = null;
  constructor(
    readonly ids: number[],
    readonly name: string,
    readonly link: readonly string[] = [],
  ) {}

  start(): Promise<[Case[], Prepared]> {
    if (this.job === null) {
      this.job = tools.then(async () => {
        const cases = this.ids.map((id) => makeCase(SEED, id));
        return [cases, await prepareProgram(cases, this.name, this.link)];
      });
      this.job.catch(() => {});
    }
    return this.job;
  }

  /** Frees the batch (and its ELF file) once checked. */
  done(prepared: Prepared): void {
    discard(prepared.path);
    this.job = Promise.reject(new Error('batch already checked'));
    this.job.catch(() => {});
  }
}

/** All batches in the order the tests check them; a few are prepared ahead of the one being checked. */
const queue: Batch[] = [];
const AHEAD = 4;

async function report(o: Outcome, reduce: boolean): Promise<string> {
  const c = o.c;
  const lines = [`case ${c.id} (${c.group} #${c.index}), seed ${SEED_TEXT}:`, ...o.diff];
  const table = c.notes.size > 0;
  if (reduce && !o.stopped && !table) {
    const first = await firstDifference(c, groupOf(c.id).group.link).catch((e: Error) => [
      `  (could not narrow down: ${e.message})`,
    ]);
    if (first) lines.push(...first);
  }
  lines.push(describeCase(c, table ? o.focus : undefined));
  lines.push(
    `  rerun: DIFF_SEED=${SEED_TEXT} DIFF_CASE=${c.id} node --test dist/test/diff/diff.test.js`,
  );
  return lines.join('\n');
}

/** Runs the batches in order, collecting up to MAX_FAIL failure reports; returns [reports, failing, checked]. */
async function runAll(
  batches: Batch[],
  onPass: (c: Case) => void,
): Promise<[string[], number, number]> {
  const reports: string[] = [];
  let failing = 0;
  let checked = 0;
  for (const b of batches) {
    if (failing >= MAX_FAIL) break;
    const at = queue.indexOf(b);
    for (let i = at; i >= 0 && i <= at + AHEAD && i < queue.length; i++) void queue[i].start();
    const [cases, prepared] = await b.start();
    for (const o of await runBatch(prepared, cases, MAX_FAIL - failing)) {
      checked++;
      if (o.diff.length === 0) {
        onPass(o.c);
        continue;
      }
      failing++;
      if (reports.length < MAX_FAIL) reports.push(await report(o, reports.length < 3));
    }
    b.done(prepared);
  }
  return [reports, failing, checked];
}

function summary(
  what: string,
  [reports, failing, checked]: [string[], number, number],
  total: number,
): string {
  const partial =
    checked < total
      ? ` (stopped after checking ${checked} of ${total}; DIFF_MAX_FAIL=${MAX_FAIL} sets the limit)`
      : '';
  return `${failing} of ${checked} ${what} cases differ between the hart and qemu-riscv64${partial}; the first ${reports.length}:\n\n${reports.join('\n\n')}`;
}

if (ONLY.length > 0) {
  test(`hart = qemu: cases ${ONLY.join(', ')} (seed ${SEED_TEXT})`, async () => {
    await tools;
    for (const id of ONLY) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`DIFF_CASE: bad case number ${id}`);
      groupOf(id);
    }
    const link = [...new Set(ONLY.flatMap((id) => groupOf(id).group.link ?? []))];
    const res = await runAll([new Batch(ONLY, 'cases', link)], (c) =>
      console.log(`case ${c.id} (${c.group} #${c.index}) agrees:\n${describeCase(c)}`),
    );
    assert.equal(res[1], 0, summary('selected', res, ONLY.length));
  });
} else {
  const groups = GROUPS.filter((g) => GROUP_RE.test(g.name));
  const plan = new Map<Group, Batch[]>();
  for (const g of groups) {
    const ids = caseIds(g, SCALE);
    const batches: Batch[] = [];
    for (let i = 0; i < ids.length; i += BATCH)
      batches.push(new Batch(ids.slice(i, i + BATCH), g.name, g.link));
    plan.set(g, batches);
    queue.push(...batches);
  }
  for (const g of groups) {
    const batches = plan.get(g) ?? [];
    const total = batches.reduce((n, b) => n + b.ids.length, 0);
    const first = GROUPS.indexOf(g) * CASE_STRIDE;
    test(`hart = qemu: ${g.name} (${total} cases ${first}..${first + total - 1}, seed ${SEED_TEXT})`, async (ctx) => {
      await tools;
      const res = await runAll(batches, () => {});
      assert.equal(res[1], 0, summary(g.name, res, total));
      // The F and D instructions run in blocks (jit/fpEmitter.ts), not only in the interpreter.
      const t = translatedShare.get(g.name);
      if (/^(fp-|fcsr)/.test(g.name) && t !== undefined) {
        const share = t.translated / t.retired;
        const text = `${g.name}: ${(share * 100).toFixed(1)}% of the instructions ran in blocks`;
        ctx.diagnostic(text);
        assert.ok(share > MIN_FP_TRANSLATED, text);
      }
    });
  }
}
