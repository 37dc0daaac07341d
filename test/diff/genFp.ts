// Generators of the F and D groups. Most cases are tables of single operations:
// clear fflags (or set NX, or some flags), (set frm for a dynamic rounding mode),
// run one instruction into a temporary, read fflags, store the result and the
// flags to the data area.
// Operands come from the corner-case pools; f0..f14 hold binary32 values (most
// NaN-boxed, some not), f15..f30 binary64 values, and a few registers hold
// crafted rounding ties and fused-multiply-add residuals.

import { CaseBuilder, fn, xn } from './caseModel.js';
import { SLOTS } from './genInt.js';
import {
  bitsF32,
  bitsF64,
  box,
  f32bits,
  f64bits,
  F32_CONVERT,
  F64_CONVERT,
  INT_CONVERT,
  randBoxed,
  randF64,
  randInt,
  Rng,
} from './values.js';

type Kind = 'fff' | 'ff' | 'ffff' | 'xf' | 'fx' | 'xff';
type Prec = 's' | 'd' | 'x';

interface FpOp {
  m: string;
  kind: Kind;
  /** Has a rounding-mode field. */
  rm: boolean;
  /** Precision of the f sources ('x' for an integer source). */
  src: Prec;
  /** For ops the assembler does not accept with an rm operand: funct7 and rs2 of `.insn r`. */
  insn?: [number, number];
}

function opsFor(p: 's' | 'd'): FpOp[] {
  const o = (m: string, kind: Kind, rm: boolean, src: Prec = p): FpOp => ({ m, kind, rm, src });
  const mv = p === 's' ? 'w' : 'd';
  const ops: FpOp[] = [
    ...['fadd', 'fsub', 'fmul', 'fdiv'].map((m) => o(`${m}.${p}`, 'fff', true)),
    o(`fsqrt.${p}`, 'ff', true),
    ...['fmadd', 'fmsub', 'fnmsub', 'fnmadd'].map((m) => o(`${m}.${p}`, 'ffff', true)),
    ...['fsgnj', 'fsgnjn', 'fsgnjx', 'fmin', 'fmax'].map((m) => o(`${m}.${p}`, 'fff', false)),
    ...['feq', 'flt', 'fle'].map((m) => o(`${m}.${p}`, 'xff', false)),
    o(`fclass.${p}`, 'xf', false),
    o(`fmv.x.${mv}`, 'xf', false),
    o(`fmv.${mv}.x`, 'fx', false, 'x'),
    ...['w', 'wu', 'l', 'lu'].map((t) => o(`fcvt.${t}.${p}`, 'xf', true)),
    ...['w', 'wu', 'l', 'lu'].map((t) => o(`fcvt.${p}.${t}`, 'fx', true, 'x')),
  ];
  if (p === 's') ops.push(o('fcvt.s.d', 'ff', true, 'd'));
  else ops.push({ m: 'fcvt.d.s', kind: 'ff', rm: true, src: 's', insn: [0x21, 0] });
  // fcvt.d.w and fcvt.d.wu are exact; the assembler takes no rm operand for them.
  for (const op of ops) {
    if (op.m === 'fcvt.d.w') op.insn = [0x69, 0];
    if (op.m === 'fcvt.d.wu') op.insn = [0x69, 1];
  }
  return ops;
}

export const S_OPS = opsFor('s');
export const D_OPS = opsFor('d');
const ALL_OPS = [...S_OPS, ...D_OPS];
const RM_OPS = ALL_OPS.filter((o) => o.rm);
const CVT_OPS = ALL_OPS.filter((o) => o.m.startsWith('fcvt') || o.m.startsWith('fmv'));
const RM_NAMES = ['rne', 'rtz', 'rdn', 'rup', 'rmm'];
/** Static rm 0..4, then dynamic with frm 0..4. */
export const RM_VARIANTS = 10;
export const FP_RM_TOTAL = RM_OPS.length * RM_VARIANTS;

const TEMP_F = 31;
const FLAGS_OFF = SLOTS * 8;

/** Crafted registers: S add tie pair, S fma triple, D add tie pair, D fma triple. */
const S_TIE = [10, 11];
const S_FMA = [12, 13, 14];
const D_TIE = [25, 26];
const D_FMA = [27, 28, 29];
/** Crafted multiplication pairs whose product lies at the smallest normal number. */
const S_UF = [5, 6];
const D_UF = [20, 21];

function craftS(r: Rng, f: bigint[]): void {
  const a = bitsF32(
    ((127 + r.range(-3, 3)) << 23) | (r.u32() & 0x7fffff) | (r.bool() ? 0x80000000 : 0),
  );
  const up = bitsF32(f32bits(a) + 1);
  const half = (up - a) / 2;
  f[S_TIE[0]] = box(f32bits(a));
  f[S_TIE[1]] = box(f32bits(half * r.pick([1, -1, 3, -3])));
  const x = bitsF32(((127 + r.range(-10, 10)) << 23) | (r.u32() & 0x7fffff));
  const y = bitsF32(
    ((127 + r.range(-10, 10)) << 23) | (r.u32() & 0x7fffff) | (r.bool() ? 0x80000000 : 0),
  );
  f[S_FMA[0]] = box(f32bits(x));
  f[S_FMA[1]] = box(f32bits(y));
  f[S_FMA[2]] = box(f32bits(-Math.fround(x * y)));
  const u = bitsF32(((127 + r.range(0, 1)) << 23) | (r.u32() & 0x7fffff));
  const v = Math.fround((2 ** -126 / u) * (1 + r.range(-3, 3) * 2 ** -24));
  f[S_UF[0]] = box(f32bits(u));
  f[S_UF[1]] = box(f32bits(r.bool() ? v : -v));
}

function craftD(r: Rng, f: bigint[]): void {
  const a = bitsF64(
    (BigInt(1023 + r.range(-3, 3)) << 52n) |
      (r.u64() & 0xfffffffffffffn) |
      (r.bool() ? 1n << 63n : 0n),
  );
  const half = (bitsF64(f64bits(a) + 1n) - a) / 2;
  f[D_TIE[0]] = f64bits(a);
  f[D_TIE[1]] = f64bits(half * r.pick([1, -1, 3, -3]));
  const x = bitsF64((BigInt(1023 + r.range(-10, 10)) << 52n) | (r.u64() & 0xfffffffffffffn));
  const y = bitsF64(
    (BigInt(1023 + r.range(-10, 10)) << 52n) |
      (r.u64() & 0xfffffffffffffn) |
      (r.bool() ? 1n << 63n : 0n),
  );
  f[D_FMA[0]] = f64bits(x);
  f[D_FMA[1]] = f64bits(y);
  f[D_FMA[2]] = f64bits(-(x * y));
  const u = bitsF64((BigInt(1023 + r.range(0, 1)) << 52n) | (r.u64() & 0xfffffffffffffn));
  const v = (2 ** -1022 / u) * (1 + r.range(-3, 3) * 2 ** -53);
  f[D_UF[0]] = f64bits(u);
  f[D_UF[1]] = f64bits(r.bool() ? v : -v);
}

/** Initial state of an FP case; `cvt` biases the pools towards conversion limits. */
export function initFp(b: CaseBuilder, cvt: boolean): void {
  const r = b.r;
  for (let i = 1; i < 32; i++) {
    if (i !== 2) b.c.x[i] = cvt && r.bool(0.7) ? r.pick(INT_CONVERT) : randInt(r);
  }
  for (let i = 0; i < 15; i++)
    b.c.f[i] = cvt && r.bool(0.6) ? box(r.pick(F32_CONVERT)) : randBoxed(r);
  for (let i = 15; i < 32; i++) b.c.f[i] = cvt && r.bool(0.6) ? r.pick(F64_CONVERT) : randF64(r);
  if (!cvt) {
    craftS(r, b.c.f);
    craftD(r, b.c.f);
    // A subnormal, a tiny normal and a zero of each format, so that underflow and division by zero are common.
    const sign32 = (): number => (r.bool() ? 0x80000000 : 0);
    b.c.f[7] = box((sign32() | (r.u32() & 0x7fffff)) >>> 0);
    b.c.f[8] = box((sign32() | (r.range(1, 3) << 23) | (r.u32() & 0x7fffff)) >>> 0);
    b.c.f[9] = box(sign32() >>> 0);
    const sign64 = (): bigint => (r.bool() ? 1n << 63n : 0n);
    b.c.f[22] = sign64() | (r.u64() & 0xfffffffffffffn);
    b.c.f[23] = sign64() | (BigInt(r.range(1, 3)) << 52n) | (r.u64() & 0xfffffffffffffn);
    b.c.f[24] = sign64();
  }
  b.c.fcsr = r.int(5) << 5;
}

function srcReg(r: Rng, p: Prec): number {
  if (p === 'x') return r.bool(0.03) ? 0 : r.range(1, 29);
  if (r.bool(0.12)) return r.int(31);
  return p === 's' ? r.int(15) : r.range(15, 30);
}

/** Source registers of `op`, sometimes the crafted tie or fma registers. */
function sources(r: Rng, op: FpOp): number[] {
  const n = op.kind === 'ffff' ? 3 : op.kind === 'fff' || op.kind === 'xff' ? 2 : 1;
  if (op.src !== 'x' && r.bool(0.2)) {
    const s = op.src === 's';
    if (n === 3) return s ? S_FMA : D_FMA;
    if (n === 2 && /^f(add|sub)\./.test(op.m)) return s ? S_TIE : D_TIE;
    if (n === 2 && /^fmul\./.test(op.m)) return s ? S_UF : D_UF;
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.bool(0.08) && i > 0 ? out[0] : srcReg(r, op.src));
  return out;
}

/** Assembler text of `op` writing `rd` from `srcs` with rounding mode `rm` (0..4, 7 dynamic). */
function render(op: FpOp, rd: number, srcs: number[], rm: number): string {
  const dst = op.kind === 'xf' || op.kind === 'xff' ? xn(rd) : fn(rd);
  const s = srcs.map((v) => (op.src === 'x' ? xn(v) : fn(v)));
  if (op.insn)
    return `.insn r 0x53, ${rm}, ${op.insn[0]}, ${dst}, ${s[0]}, x${op.insn[1]}  # ${op.m} ${dst}, ${s[0]}, ${rm === 7 ? 'dyn' : RM_NAMES[rm]}`;
  const rmTxt = op.rm ? `, ${rm === 7 ? 'dyn' : RM_NAMES[rm]}` : '';
  return `${op.m} ${dst}, ${s.join(', ')}${rmTxt}`;
}

function describeSrc(b: CaseBuilder, op: FpOp, srcs: number[]): string {
  return srcs
    .map((v) => {
      if (op.src === 'x') return `${xn(v)}=${fmt(b.c.x[v])}`;
      return b.writtenF.has(v) ? `${fn(v)}=(written above)` : `${fn(v)}=0x${b.c.f[v].toString(16)}`;
    })
    .join(' ');
}

function fmt(v: bigint | string): string {
  return typeof v === 'string' ? v : '0x' + v.toString(16);
}

/**
 * Emits slot `s`: one operation with fflags set up before (see below) and read after,
 * result to data-area offset 8*s, flags to byte FLAGS_OFF + s.
 * `variant` 0..4 is a static rm, 5..9 dynamic with frm = variant - 5.
 */
function slotOp(b: CaseBuilder, s: number, op: FpOp, variant: number): void {
  const r = b.r;
  const xDst = op.kind === 'xf' || op.kind === 'xff';
  const srcs = sources(r, op);
  let rd = xDst ? (r.bool(0.04) ? 0 : 31) : TEMP_F;
  if (!xDst && r.bool(0.1)) rd = r.pick(srcs.length > 0 && op.src !== 'x' ? srcs : [r.int(31)]);
  let rm = 0;
  // fflags cleared (blocks, jit/fpEmitter.ts, then find whether to set NX), holding NX already
  // (as after a program's first inexact operation), or any flags.
  const flags = r.int(20);
  b.emit(flags < 10 ? 'fsflags zero' : `fsflagsi ${flags < 17 ? 1 : r.int(32)}`);
  if (op.rm) {
    if (variant >= 5) {
      b.emit(`fsrmi ${variant - 5}`);
      rm = 7;
    } else rm = variant;
  }
  const text = render(op, rd, srcs, rm);
  b.emit(text, 'frflags t5');
  b.emit(
    xDst ? `sd ${xn(rd)}, ${8 * s}(sp)` : `fsd ${fn(rd)}, ${8 * s}(sp)`,
    `sb t5, ${FLAGS_OFF + s}(sp)`,
  );
  const dyn = rm === 7 ? ` (frm=${variant - 5})` : '';
  b.note(8 * s, `${text}${dyn}  [${describeSrc(b, op, srcs)}]`, xDst ? 'int' : 'fp');
  b.note(FLAGS_OFF + s, `fflags of slot ${s}: ${text}${dyn}`, 'flags');
  if (!xDst) b.writtenF.add(rd);
}

function randVariant(r: Rng): number {
  return r.int(RM_VARIANTS);
}

/** Random single-precision (or double) operations, one per slot. */
export function genFpTable(b: CaseBuilder, ops: readonly FpOp[]): void {
  initFp(b, false);
  for (let s = 0; s < SLOTS; s++) slotOp(b, s, b.r.pick(ops), randVariant(b.r));
}

export const genFpS = (b: CaseBuilder): void => genFpTable(b, S_OPS);
export const genFpD = (b: CaseBuilder): void => genFpTable(b, D_OPS);

/** Every operation with an rm field under every rounding mode, static and dynamic, in turn. */
export function genFpRm(b: CaseBuilder): void {
  initFp(b, b.r.bool(0.3));
  for (let s = 0; s < SLOTS; s++) {
    const k = (b.c.index * SLOTS + s) % FP_RM_TOTAL;
    slotOp(b, s, RM_OPS[Math.floor(k / RM_VARIANTS)], k % RM_VARIANTS);
  }
}

/** Conversions in all directions on values near the integer limits and rounding ties. */
export function genFpCvt(b: CaseBuilder): void {
  initFp(b, true);
  for (let s = 0; s < SLOTS; s++) slotOp(b, s, b.r.pick(CVT_OPS), randVariant(b.r));
}

/** Random chains: results feed later operations, rounding mode and flags change on the way. */
export function genFpMix(b: CaseBuilder): void {
  const r = b.r;
  initFp(b, r.bool(0.3));
  b.c.fcsr = r.int(256) & 0x9f;
  for (let n = r.range(10, 30); n > 0; n--) {
    const k = r.int(12);
    if (k === 0) {
      b.emit(
        r.pick([
          `fsrmi ${r.int(5)}`,
          `fsflagsi ${r.int(32)}`,
          `frflags ${xn(r.range(3, 31))}`,
          `frcsr ${xn(r.range(3, 31))}`,
          `fsflags zero`,
        ]),
      );
      continue;
    }
    if (k === 1) {
      const p = r.bool() ? 's' : 'd';
      const w = p === 's' ? 'w' : 'd';
      b.emit(
        r.bool()
          ? `fl${w} ${fn(r.int(32))}, ${8 * r.int(64)}(sp)`
          : `fs${w} ${fn(r.int(32))}, ${8 * r.int(64)}(sp)`,
      );
      continue;
    }
    fpMixOp(b);
  }
}

/** One random F or D operation of a chain (fp-mix), often with the dynamic rounding mode. */
export function fpMixOp(b: CaseBuilder): void {
  const r = b.r;
  const op = r.pick(ALL_OPS);
  const xDst = op.kind === 'xf' || op.kind === 'xff';
  const srcs = sources(r, op).map((v) => (r.bool(0.3) && op.src !== 'x' ? r.int(32) : v));
  const rd = xDst ? r.pick([0, ...Array.from({ length: 29 }, (_, i) => i + 3)]) : r.int(32);
  b.emit(render(op, rd, srcs, op.rm ? r.pick([0, 1, 2, 3, 4, 7, 7, 7]) : 0));
}
