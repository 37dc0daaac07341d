// Compares the records that QEMU and the hart wrote for each case, and turns a
// mismatch into a readable report: which registers, flags and data-area words
// differ (with FP values decoded), the case's listing and its initial values.

import {
  type Case,
  FNAMES,
  MEM_SIZE,
  REC_F,
  REC_FCSR,
  REC_SIZE,
  REC_X,
  XNAMES,
} from './caseModel.js';
import { SIGNAL_MAGIC } from './program.js';
import { bitsF32, bitsF64, hex64 } from './values.js';

/** Splits a program's stdout into records keyed by case id (x0's slot). */
export function splitRecords(out: Uint8Array): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let at = 0; at + REC_SIZE <= out.length; at += REC_SIZE) {
    m.set(Number(dv.getBigUint64(at + REC_X, true)), out.subarray(at, at + REC_SIZE));
  }
  return m;
}

const q = (r: Uint8Array, off: number): bigint =>
  new DataView(r.buffer, r.byteOffset, r.byteLength).getBigUint64(off, true);

const SIGNAL_NAMES: Record<number, string> = {
  4: 'SIGILL',
  5: 'SIGTRAP',
  7: 'SIGBUS',
  11: 'SIGSEGV',
};

/** The signal a record reports (the case trapped), or null for a normal record. */
export function signalOf(rec: Uint8Array): string | null {
  if (q(rec, REC_X + 16) !== SIGNAL_MAGIC) return null;
  const n = Number(q(rec, REC_X + 8));
  return SIGNAL_NAMES[n] ?? `signal ${n}`;
}

const FLAG_NAMES: [number, string][] = [
  [16, 'NV'],
  [8, 'DZ'],
  [4, 'OF'],
  [2, 'UF'],
  [1, 'NX'],
];

export function flagText(f: number): string {
  const s = FLAG_NAMES.filter(([b]) => (f & b) !== 0).map(([, n]) => n);
  return s.length > 0 ? s.join('|') : '-';
}

/** A 64-bit FP register shown as raw bits, as a double, and as a binary32 when NaN-boxed. */
export function fpText(v: bigint): string {
  const boxed = v >> 32n === 0xffffffffn;
  return `${hex64(v)} (${boxed ? `s:${bitsF32(Number(v & 0xffffffffn))}` : `d:${bitsF64(v)}`})`;
}

/** Differences between the QEMU and hart records of one case; empty when they agree. */
export function diffRecord(c: Case, qr: Uint8Array, hr: Uint8Array): string[] {
  const out: string[] = [];
  for (let i = 1; i < 32; i++) {
    const a = q(qr, REC_X + 8 * i);
    const b = q(hr, REC_X + 8 * i);
    if (a !== b) out.push(`  x${i}/${XNAMES[i]}: qemu ${hex64(a)}  hart ${hex64(b)}`);
  }
  for (let i = 0; i < 32; i++) {
    const a = q(qr, REC_F + 8 * i);
    const b = q(hr, REC_F + 8 * i);
    if (a !== b) out.push(`  f${i}/${FNAMES[i]}: qemu ${fpText(a)}  hart ${fpText(b)}`);
  }
  const fa = Number(q(qr, REC_FCSR));
  const fb = Number(q(hr, REC_FCSR));
  if (fa !== fb) {
    out.push(
      `  fcsr: qemu 0x${fa.toString(16)} (frm ${fa >> 5}, ${flagText(fa & 31)})  hart 0x${fb.toString(16)} (frm ${fb >> 5}, ${flagText(fb & 31)})`,
    );
  }
  for (let off = 0; off < MEM_SIZE; off += 8) {
    const a = q(qr, off);
    const b = q(hr, off);
    if (a === b) continue;
    const notes: string[] = [];
    let isFp = false;
    for (let k = off; k < off + 8; k++) {
      const n = c.notes.get(k);
      if (n === undefined) continue;
      if (n.kind === 'flags') {
        if (qr[k] !== hr[k])
          notes.push(
            `\n      byte +${k}: qemu ${flagText(qr[k])}  hart ${flagText(hr[k])}  <- ${n.text}`,
          );
      } else {
        notes.push(` <- ${n.text}`);
        isFp = n.kind === 'fp';
      }
    }
    const val = (v: bigint): string => (isFp ? fpText(v) : hex64(v));
    out.push(`  mem[+${off}]: qemu ${val(a)}  hart ${val(b)}${notes.join('')}`);
  }
  return out;
}

/**
 * The case's listing and the initial values of the registers it names. Table
 * cases (one operation per data-area slot) list only the operations in `focus`.
 */
export function describeCase(c: Case, focus?: readonly number[], allRegs = false): string {
  let lines = c.body;
  let head = `  listing (sp = data area, ${MEM_SIZE} bytes, random contents):`;
  if (focus !== undefined && c.notes.size > 0) {
    const ops = new Set<string>();
    for (const off of focus) {
      const n = c.notes.get(off - (off % 8)) ?? c.notes.get(off);
      if (n !== undefined)
        ops.add(n.text.replace(/\s+\[.*$/, '').replace(/^fflags of slot \d+: /, ''));
    }
    if (ops.size > 0) lines = [...ops];
    if (ops.size > 0)
      head = `  the differing operations of this table case (${c.body.length} lines in all: fsflags zero; op; frflags t5; store result; store flags):`;
  }
  const shown =
    lines.length > 80 ? [...lines.slice(0, 70), `... ${lines.length - 70} more lines`] : lines;
  return [
    head,
    ...shown.map((l) => '    ' + l),
    ...initialValues(c, shown.join('\n'), allRegs),
  ].join('\n');
}

/** fcsr and the initial values of the registers named in `text` (all of them with `all`). */
export function initialValues(c: Case, text: string, all = false): string[] {
  const used = new Set<string>();
  for (const m of text.matchAll(/\b([a-z]+[0-9]*)\b/g)) used.add(m[1]);
  if (all) for (const n of [...XNAMES, ...FNAMES]) used.add(n);
  const xs: string[] = [];
  for (let i = 1; i < 32; i++) {
    if (i === 2 || !(used.has(XNAMES[i]) || used.has(`x${i}`))) continue;
    const v = c.x[i];
    xs.push(`${XNAMES[i]}=${typeof v === 'string' ? v : hex64(v)}`);
  }
  const fs: string[] = [];
  for (let i = 0; i < 32; i++) {
    if (used.has(FNAMES[i]) || used.has(`f${i}`)) fs.push(`${FNAMES[i]}=${fpText(c.f[i])}`);
  }
  return [`  initial: fcsr=0x${c.fcsr.toString(16)}`, ...wrap(xs), ...fs.map((s) => '    ' + s)];
}

/** Data-area offsets where the two records differ. */
export function differingOffsets(qr: Uint8Array, hr: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < MEM_SIZE; i++) if (qr[i] !== hr[i]) out.push(i);
  return out;
}

function wrap(items: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < items.length; i += 4) out.push('    ' + items.slice(i, i + 4).join('  '));
  return out;
}
