// Runs a batch of cases on both sides and compares them: QEMU runs the whole
// program once; the hart runs it too and, when it stops inside a case (an
// internal error: traps go to the program's signal handler), is restarted at
// the next case by patching the program's start index. firstDifference narrows a failing case
// down to the first instruction after which the two sides disagree.

import { runUserElf } from '../support/userRunner.js';
import type { Case } from './caseModel.js';
import { differingOffsets, diffRecord, signalOf, splitRecords } from './compare.js';
import { MAGIC_START, patchQuad, renderProgram } from './program.js';
import { assemble, disassemble, discard, limiter, type QemuResult, runQemu } from './toolchain.js';

export interface Prepared {
  path: string;
  elf: Uint8Array;
  qemu: QemuResult;
}

/** At most two gcc/qemu processes at a time (the hart runs in this process). */
export const gate = limiter(2);

export function prepareProgram(
  cases: readonly Case[],
  name: string,
  link: readonly string[] = [],
): Promise<Prepared> {
  return gate(async () => {
    const { path, elf } = await assemble(renderProgram(cases), name, link);
    return { path, elf, qemu: await runQemu(path) };
  });
}

export interface Outcome {
  c: Case;
  /** Empty when both sides agree. */
  diff: string[];
  /** Set when the hart stopped inside this case. */
  stopped: boolean;
  /** Data-area bytes that differ. */
  focus: number[];
  /** The signal the case raised under QEMU, null for none. */
  qemuSignal: string | null;
}

/**
 * By group: the instructions the translated engine retired, and how many of them in blocks
 * (diff.test.ts checks that the F and D groups run mostly in blocks).
 */
export const translatedShare = new Map<string, { retired: number; translated: number }>();

/** Compares every case of a prepared batch; stops early once `maxFailures` cases failed. */
export async function runBatch(
  p: Prepared,
  cases: readonly Case[],
  maxFailures = Infinity,
): Promise<Outcome[]> {
  if (p.qemu.signal !== null || p.qemu.exitCode !== 0) {
    throw new Error(
      `qemu did not run ${p.path} to the end (signal ${p.qemu.signal}, exit ${p.qemu.exitCode}); ` +
        `a generator bug? ${p.qemu.stderr}`,
    );
  }
  const qrecs = splitRecords(p.qemu.stdout);
  const out: Outcome[] = [];
  let failures = 0;
  // Each batch runs twice: interpreted only, and with every instruction translated
  // into blocks (jit/) on first sight, so that both engines answer to QEMU.
  const engines = cases.some((c) => c.group === 'amo') ? [...ENGINES, SHARED_INTERPRETER] : ENGINES;
  for (const engine of engines) {
    let start = 0;
    while (start < cases.length && failures < maxFailures) {
      const h = runUserElf(start === 0 ? p.elf : patchQuad(p.elf, MAGIC_START, BigInt(start)), {
        ramSize: 4 << 20,
        jitThreshold: engine.jitThreshold,
        shared: engine.shared,
      });
      if (engine.jitThreshold > 0) {
        const t = translatedShare.get(cases[start].group) ?? { retired: 0, translated: 0 };
        t.retired += h.hart.currentInstret();
        t.translated += h.hart.translatedInstructions;
        translatedShare.set(cases[start].group, t);
      }
      const hrecs = splitRecords(h.stdout);
      let nsig = 0;
      let k = start;
      for (; k < cases.length; k++) {
        const c = cases[k];
        const hr = hrecs.get(c.id);
        if (hr === undefined) break;
        const qr = qrecs.get(c.id);
        if (qr === undefined) {
          failures++;
          out.push({
            c,
            diff: ['  qemu wrote no record for this case'],
            stopped: false,
            focus: [],
            qemuSignal: null,
          });
          continue;
        }
        const qs = signalOf(qr);
        const hs = signalOf(hr);
        const trap = hs !== null ? h.signals[nsig++] : undefined;
        let diff: string[] = [];
        if (qs === null && hs === null) diff = diffRecord(c, qr, hr);
        else if (qs !== hs) {
          diff = [`  qemu: ${qs ?? 'no trap'}  hart: ${hs ?? 'no trap'}`];
          if (trap !== undefined) {
            const dis = await disassemble(p.path, trap.pc, trap.pc + 4n).catch(() => '');
            diff.push(
              `  hart: exception cause ${trap.cause} at pc 0x${trap.pc.toString(16)}, tval 0x${trap.tval.toString(16)}:`,
              dis,
            );
          }
        }
        if (diff.length > 0) {
          failures++;
          diff.unshift(`  engine: ${engine.name}`);
        }
        const focus = qs === null && hs === null ? differingOffsets(qr, hr) : [];
        out.push({ c, diff, stopped: false, focus, qemuSignal: qs });
      }
      if (k >= cases.length) break;
      const pc = h.hart.pc;
      const dis = await disassemble(p.path, pc - 8n, pc + 8n).catch(() => '');
      const why = h.error ?? `exited with ${h.exitCode} before writing this case's record`;
      const qr = qrecs.get(cases[k].id);
      out.push({
        c: cases[k],
        diff: [
          `  engine: ${engine.name}`,
          `  hart stopped in this case: ${why}`,
          `  around pc 0x${pc.toString(16)}:`,
          dis,
        ],
        stopped: true,
        focus: [],
        qemuSignal: qr === undefined ? null : signalOf(qr),
      });
      failures++;
      start = k + 1;
    }
  }
  return out;
}

/**
 * The hart's engines the cases run on: the interpreter on RAM of one thread, and translated
 * blocks on RAM shared as with harts on threads of their own (atomic SCs and fences in wasm);
 * the atomics group runs the interpreter on shared RAM too (atomics.ts's compare-and-swap).
 */
const ENGINES = [
  { name: 'interpreter', jitThreshold: 0, shared: false },
  { name: 'translated blocks on shared RAM', jitThreshold: 1, shared: true },
];
const SHARED_INTERPRETER = { name: 'interpreter on shared RAM', jitThreshold: 0, shared: true };

const PREFIX_ID = 0x40000000;

/**
 * Runs every prefix of a failing case's body (in one program) and returns the
 * first line after which the sides differ, with the diff at that point.
 */
export async function firstDifference(
  c: Case,
  link: readonly string[] = [],
): Promise<string[] | null> {
  const labelRe = /\.Lc\d+_\d+/g;
  const prefixes: Case[] = [];
  for (let k = 1; k <= c.body.length; k++) {
    const body = c.body
      .slice(0, k)
      .map((l) => l.replace(labelRe, (m) => m.replace('.Lc', `.Lp${k}x`)));
    const defined = new Set(body.filter((l) => l.endsWith(':')).map((l) => l.slice(0, -1)));
    const wanted = new Set(body.flatMap((l) => l.match(/\.Lp\d+x\d+_\d+/g) ?? []));
    for (const w of wanted) if (!defined.has(w)) body.push(`${w}:`);
    prefixes.push({ ...c, id: PREFIX_ID + k, body, notes: new Map() });
  }
  const p = await prepareProgram(prefixes, 'prefix', link);
  const res = await runBatch(p, prefixes, 1);
  discard(p.path);
  const bad = res.find((o) => o.diff.length > 0);
  if (bad === undefined) return null;
  const k = bad.c.id - PREFIX_ID;
  return [
    `  first difference after listing line ${k}: ${c.body[k - 1].trim()}`,
    `  state after line ${k}:`,
    ...bad.diff,
  ];
}
