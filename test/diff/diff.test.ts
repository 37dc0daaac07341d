// Differential tests of the hart against qemu-riscv64, one node:test test per
// group (RV64I, C, loads/stores, M, A, Zicsr, F/D). Each program batches many
// cases; both sides dump the registers, fcsr and data area after every case
// and the records are compared case by case.
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
import { runUserElf } from '../support/userRunner.js';
import { type Case, CASE_STRIDE } from './caseModel.js';
import { describeCase, diffRecord, splitRecords } from './compare.js';
import { MAGIC_START, patchQuad, renderProgram } from './program.js';
import { caseIds, GROUPS, type Group, groupOf, makeCase } from './suite.js';
import { assemble, checkTools, disassemble, limiter, type QemuResult, removeTempDir, runQemu } from './toolchain.js';

function envInt(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
}

const seedEnv = process.env.DIFF_SEED ?? '';
const SEED = seedEnv === 'random' ? (Math.random() * 2 ** 32) >>> 0 : seedEnv ? Number(seedEnv) >>> 0 : 0x5eed;
const SEED_TEXT = '0x' + SEED.toString(16);
const SCALE = envInt('DIFF_SCALE', 1);
const BATCH = envInt('DIFF_BATCH', 150);
const MAX_FAIL = envInt('DIFF_MAX_FAIL', 5);
const ONLY = (process.env.DIFF_CASE ?? '')
  .split(',')
  .filter((s) => s.trim() !== '')
  .map((s) => Number(s));
const GROUP_RE = new RegExp(process.env.DIFF_GROUP ?? '.');

const tools = checkTools();
tools.catch(() => {});
const gate = limiter(2);
after(removeTempDir);

interface Prepared {
  path: string;
  elf: Uint8Array;
  qemu: QemuResult;
}

interface Batch {
  cases: Case[];
  ready: Promise<Prepared>;
}

function prepare(cases: Case[], name: string): Batch {
  const ready = tools.then(() =>
    gate(async () => {
      const { path, elf } = await assemble(renderProgram(cases), name);
      return { path, elf, qemu: await runQemu(path) };
    }),
  );
  ready.catch(() => {});
  return { cases, ready };
}

function rerunHint(id: number): string {
  return `  rerun: DIFF_SEED=${SEED_TEXT} DIFF_CASE=${id} node --test dist/test/diff/diff.test.js`;
}

function report(c: Case, lines: string[]): string {
  return [`case ${c.id} (${c.group} #${c.index}), seed ${SEED_TEXT}:`, ...lines, describeCase(c), rerunHint(c.id)].join('\n');
}

/** Runs a prepared batch on the hart and compares; resumes after a case that stops the hart. */
async function check(b: Batch, failures: string[], passed: (c: Case) => void): Promise<void> {
  const p = await b.ready;
  if (p.qemu.signal !== null || p.qemu.exitCode !== 0) {
    failures.push(
      `qemu did not run ${p.path} to the end (signal ${p.qemu.signal}, exit ${p.qemu.exitCode}): a generator bug?\n${p.qemu.stderr}`,
    );
    return;
  }
  const qrecs = splitRecords(p.qemu.stdout);
  let start = 0;
  while (start < b.cases.length && failures.length < MAX_FAIL) {
    const h = runUserElf(start === 0 ? p.elf : patchQuad(p.elf, MAGIC_START, BigInt(start)));
    const hrecs = splitRecords(h.stdout);
    let k = start;
    for (; k < b.cases.length; k++) {
      const c = b.cases[k];
      const hr = hrecs.get(c.id);
      if (hr === undefined) break;
      const qr = qrecs.get(c.id);
      if (qr === undefined) {
        failures.push(report(c, ['  qemu wrote no record for this case']));
        continue;
      }
      const d = diffRecord(c, qr, hr);
      if (d.length > 0) failures.push(report(c, d));
      else passed(c);
    }
    if (k >= b.cases.length) break;
    const pc = h.hart.pc;
    const dis = await disassemble(p.path, pc - 8n, pc + 8n).catch(() => '');
    const why = h.error ?? `exited with ${h.exitCode} before writing this case's record`;
    failures.push(report(b.cases[k], [`  hart stopped in this case: ${why}`, `  around pc 0x${pc.toString(16)}:`, dis]));
    start = k + 1;
  }
}

function summary(g: string, failures: string[], total: number): string {
  const more = failures.length >= MAX_FAIL ? ` (stopped after ${MAX_FAIL}; DIFF_MAX_FAIL raises the limit)` : '';
  return `${failures.length} of ${total} ${g} cases differ between the hart and qemu-riscv64${more}:\n\n${failures.join('\n\n')}`;
}

if (ONLY.length > 0) {
  test(`hart = qemu: cases ${ONLY.join(', ')} (seed ${SEED_TEXT})`, async (t) => {
    const cases = ONLY.map((id) => {
      if (!Number.isInteger(id) || id < 0) throw new Error(`DIFF_CASE: bad case number ${id}`);
      groupOf(id);
      return makeCase(SEED, id);
    });
    const failures: string[] = [];
    await check(prepare(cases, 'cases'), failures, (c) => t.diagnostic(`case ${c.id} agrees:\n${describeCase(c)}`));
    assert.equal(failures.length, 0, summary('selected', failures, cases.length));
  });
} else {
  const groups = GROUPS.filter((g) => GROUP_RE.test(g.name));
  const plan = new Map<Group, Batch[]>();
  // Start assembling and running QEMU for every batch now; the tests consume them in order.
  for (const g of groups) {
    const ids = caseIds(g, SCALE);
    const batches: Batch[] = [];
    for (let i = 0; i < ids.length; i += BATCH) {
      batches.push(prepare(ids.slice(i, i + BATCH).map((id) => makeCase(SEED, id)), g.name));
    }
    plan.set(g, batches);
  }
  for (const g of groups) {
    const batches = plan.get(g) ?? [];
    const total = batches.reduce((n, b) => n + b.cases.length, 0);
    const first = GROUPS.indexOf(g) * CASE_STRIDE;
    test(`hart = qemu: ${g.name} (${total} cases ${first}..${first + total - 1}, seed ${SEED_TEXT})`, async () => {
      await tools;
      const failures: string[] = [];
      for (const b of batches) {
        if (failures.length >= MAX_FAIL) break;
        await check(b, failures, () => {});
      }
      assert.equal(failures.length, 0, summary(g.name, failures, total));
    });
  }
}
