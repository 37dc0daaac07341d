// F and D instructions in translated blocks (jit/fpEmitter.ts) against the interpreter: random
// runs of FP loads, stores, moves, sign injections, arithmetic, comparisons, conversions and
// classifications on operands of every kind (normal, subnormal, zero, infinite, quiet and
// signalling NaN, singles NaN-boxed or not), under every rounding mode (static and dynamic,
// valid and not) with fflags clear or already holding NX, run by both engines from the same
// state, must end in the same registers, flags and mstatus. Then: with NX set and RNE, a run
// of such instructions all runs in blocks; with mstatus.FS Off, the first FP instruction is an
// illegal instruction in both engines.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXC_ILLEGAL, PRIV_M, PRIV_U } from './causes.js';
import { MSTATUS_FS } from './csr.js';
import { StopReason, type Hart } from './hart.js';
import { alu, BASE, bothEngines, CODE, rng, WFI } from './csrTestkit.js';
import { d, s } from './fpu/testkit.js';

const FS_INITIAL = 1 << 13;
/** x15 holds the address of the data the loads and stores use. */
const DATA = BASE + 0x10000;

/** Bits of a double; of the single nearest v, NaN-boxed. */
const D = d;
const S = (v: number): bigint => s(Math.fround(v));
/** Register values: doubles, NaN-boxed singles and a few improperly boxed ones. */
const VALUES: bigint[] = [
  D(1.5),
  D(-2.25),
  D(1 / 3),
  D(0.1),
  D(3e300),
  D(-1e-300),
  D(2 ** -1022),
  D(2 ** -1074),
  D(-3 * 2 ** -1070),
  D(0),
  D(-0),
  D(Infinity),
  D(-Infinity),
  0x7ff8000000000000n, // quiet NaN
  0x7ff0000000000001n, // signalling NaN
  0xfff8000000001234n, // quiet NaN with a payload
  D(2 ** 53 + 2),
  D(-2147483648.5),
  D(4294967295.25),
  D(-0.5),
  D(2.5),
  D(9.3e18),
  D(1.8e19),
  S(1.5),
  S(-2.25),
  S(1 / 3),
  S(3e38),
  S(1e-38),
  S(2 ** -126),
  S(2 ** -149),
  S(0),
  S(-0),
  S(Infinity),
  S(-7.75),
  S(16777217),
  0xffffffff7fc00000n, // canonical single NaN
  0xffffffff7f800001n, // signalling single NaN
  0x000000003fc00000n, // 1.5 not NaN-boxed
  0xfffffffe3fc00000n, // nor this
];

/** OP-FP: funct5, fmt (0 S, 1 D), rs2, rs1, rm, rd. */
const opFp = (f5: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number): number =>
  ((f5 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53) >>> 0;

/** A random FP instruction on f0..f7 and x0..x14 (x15 is the data address). */
function fpInstruction(r: (n: number) => number): number {
  const fd = r(8);
  const fs1 = r(8);
  const fs2 = r(8);
  const xd = r(15);
  const xs = r(15);
  const fmt = r(2);
  // Rounding modes: mostly DYN and RNE, the others now and then, and rarely the illegal ones.
  const rm = r(3) === 0 ? r(8) : r(2) === 0 ? 7 : 0;
  const off = r(8) * 8;
  switch (r(16)) {
    case 0:
      return ((off << 20) | (15 << 15) | ((2 + fmt) << 12) | (fd << 7) | 0x07) >>> 0; // flw/fld
    case 1: // fsw/fsd
      return (
        (((off >> 5) << 25) |
          (fs2 << 20) |
          (15 << 15) |
          ((2 + fmt) << 12) |
          ((off & 31) << 7) |
          0x27) >>>
        0
      );
    case 2:
      return opFp(0x1c, fmt, 0, fs1, r(2), xd); // fmv.x / fclass
    case 3:
      return opFp(0x1e, fmt, 0, xs, 0, fd); // fmv.w.x / fmv.d.x
    case 4:
      return opFp(0x04, fmt, fs2, fs1, r(3), fd); // fsgnj, fsgnjn, fsgnjx
    case 5:
    case 6:
    case 7:
      return opFp(r(4), fmt, fs2, fs1, rm, fd); // fadd, fsub, fmul, fdiv
    case 8:
      return opFp(0x0b, fmt, 0, fs1, rm, fd); // fsqrt
    case 9:
      return opFp(0x05, fmt, fs2, fs1, r(2), fd); // fmin, fmax
    case 10:
      return opFp(0x14, fmt, fs2, fs1, r(3), xd); // fle, flt, feq
    case 11:
      return opFp(0x08, fmt ^ 1, fmt, fs1, rm, fd); // fcvt.s.d, fcvt.d.s
    case 12:
    case 13:
      return opFp(0x18, fmt, r(4), fs1, rm, xd); // fcvt.{w,wu,l,lu}.{s,d}
    default:
      return opFp(0x1a, fmt, r(4), xs, rm, fd); // fcvt.{s,d}.{w,wu,l,lu}
  }
}

/** FP registers, fflags, frm and the data from the seed (after the testkit's own setup). */
function fpState(seed: number, nx: boolean, frm?: number) {
  return (h: Hart): void => {
    const r = rng(seed * 7919 + 1);
    for (let i = 0; i < 32; i++) h.fregs.u64[i] = VALUES[r(VALUES.length)];
    h.fregs.flags = (nx ? 1 : 0) | (r(2) === 0 ? 0 : r(32) & ~1);
    h.fregs.frm = frm ?? (r(6) === 0 ? 5 + r(3) : r(3) === 0 ? r(5) : 0);
    h.regs.set(15, BigInt(DATA));
    for (let i = 0; i < 8; i++) h.bus.ram.write(DATA + i * 8, u64Bytes(VALUES[r(VALUES.length)]));
    // Small integers now and then, for conversions that are exact.
    for (let i = 1; i < 15; i++) if (r(2) === 0) h.regs.set(i, BigInt(r(2000) - 1000));
  };
}

function u64Bytes(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

test('FP instructions in blocks end as in the interpreter', () => {
  let translated = 0;
  let total = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    const n = 20 + (seed % 40);
    const code: number[] = [];
    for (let i = 0; i < n; i++)
      code.push(r(6) === 0 ? alu(r(3), 1 + r(14), r(15), r(15)) : fpInstruction(r));
    code.push(WFI);
    const o = bothEngines(code, PRIV_M, FS_INITIAL, seed, fpState(seed, seed % 2 === 0));
    translated += o.translated;
    total += o.instret;
  }
  // A fair share runs in blocks even among these hard cases (the rest side-exits to the interpreter).
  assert.ok(translated > total / 4, `translated ${translated} of ${total}`);
});

test('under RNE, ordinary FP work runs entirely in blocks, fflags.NX set or not', () => {
  const code = [
    0x0007b087, // fld ft1,0(a5)
    0x0087b107, // fld ft2,8(a5)
    0x0220f1d3, // fadd.d ft3,ft1,ft2 (dynamic rounding mode)
    0x1211f253, // fmul.d ft4,ft3,ft1
    0x1a2272d3, // fdiv.d ft5,ft4,ft2
    0x5a02f353, // fsqrt.d ft6,ft5
    0x0a1373d3, // fsub.d ft7,ft6,ft1
    0x4013f453, // fcvt.s.d fs0,ft7
    0x008474d3, // fadd.s fs1,fs0,fs0
    0x42048553, // fcvt.d.s fa0,fs1
    0xa22090d3, // flt.d ra,ft1,ft2
    0xc2039153, // fcvt.w.d sp,ft7,rtz
    0xd20105d3, // fcvt.d.w fa1,sp
    0x2a208653, // fmin.d fa2,ft1,ft2
    0x222096d3, // fsgnjn.d fa3,ft1,ft2
    0xe20681d3, // fmv.x.d gp,fa3
    0xf2018753, // fmv.d.x fa4,gp
    0xe2071253, // fclass.d tp,fa4
    0x0077b827, // fsd ft7,16(a5)
    0x0107a787, // flw fa5,16(a5)
    0x28f49853, // fmax.s fa6,fs1,fa5
    0xa094a2d3, // feq.s t0,fs1,fs1
    0xc0248353, // fcvt.l.s t1,fs1,rne
    0xd022f8d3, // fcvt.s.l fa7,t0
    0x2084a953, // fsgnjx.s fs2,fs1,fs0
    0xe00903d3, // fmv.x.w t2,fs2
    0xf00389d3, // fmv.w.x fs3,t2
    0x1884fa53, // fdiv.s fs4,fs1,fs0
    0x5804fad3, // fsqrt.s fs5,fs1
    0x0157ac27, // fsw fs5,24(a5)
    WFI,
  ];
  for (const flags of [0, 1]) {
    const setup = (h: Hart): void => {
      h.fregs.flags = flags;
      h.fregs.frm = 0;
      h.regs.set(15, BigInt(DATA));
      h.bus.ram.write(DATA, u64Bytes(D(2.75)));
      h.bus.ram.write(DATA + 8, u64Bytes(D(1.3)));
    };
    const o = bothEngines(code, PRIV_M, FS_INITIAL, 1, setup);
    assert.equal(o.stop, StopReason.Wfi);
    // All but the WFI, and the first load and first store: they miss the read and write TLBs,
    // which the interpreter fills as it runs them.
    assert.equal(o.translated, code.length - 3, 'every other FP instruction ran in a block');
    assert.equal(o.csrs[1], 1, 'fflags: NX');
  }
  const o = bothEngines(code, PRIV_M, FS_INITIAL, 1, (h) => {
    h.fregs.flags = 0;
    h.fregs.frm = 0;
    h.regs.set(15, BigInt(DATA));
    h.bus.ram.write(DATA, u64Bytes(D(2.75)));
    h.bus.ram.write(DATA + 8, u64Bytes(D(1.3)));
  });
  const f7 = Math.sqrt(((2.75 + 1.3) * 2.75) / 1.3) - 2.75;
  assert.equal(o.f[7], D(f7));
  assert.equal(o.f[13], D(-2.75));
  assert.equal(o.x[4], 1n << 1n); // fclass: negative normal
  assert.equal(o.f[18], S(Math.fround(f7) * 2)); // fsgnjx.s of two positives
});

/** Edge operands: around the smallest normal, overflow, zeros, infinities and NaNs. */
const EDGE_D = [
  1.5,
  -0.1,
  2 ** -1022,
  1 - 2 ** -53,
  2 ** -1074,
  0,
  -0,
  Infinity,
  -Infinity,
  NaN,
  1.7e308,
  1e-200,
  2 ** -537,
  -3,
  2 ** 63,
  -2.5,
].map(D);
const EDGE_S = [
  1.5,
  -0.1,
  2 ** -126,
  1 - 2 ** -24,
  2 ** -149,
  0,
  -0,
  Infinity,
  -Infinity,
  NaN,
  3.4e38,
  1e-30,
  2 ** -75,
  -3,
  2 ** 31,
  -2.5,
].map(S);
EDGE_D[9] = 0x7ff0000000000001n; // a signalling NaN in place of one of the quiet ones
EDGE_S[15] = 0x000000003fc00000n; // not NaN-boxed
EDGE_S[9] = 0xffffffff7f800001n;

/**
 * Every pair of edge operands through OP-FP instruction (funct5, rs2 field, rm), each followed by
 * code that folds fflags and the result into x6 and sets fflags back to NX: the engines must
 * agree on x6, so on every flag and result.
 */
function edgeProgram(
  f5: number,
  fmt: number,
  rs2Field: number | null,
  rm: number,
  xDest: boolean,
  nx: number,
): number[] {
  const code: number[] = [];
  for (let i = 0; i < 16; i++)
    for (let j = 0; j < 16; j++) {
      const rs2 = rs2Field ?? j;
      if (rs2Field !== null && j > 0) break;
      code.push(opFp(f5, fmt, rs2, i, rm, xDest ? 7 : 20));
      if (!xDest) code.push(opFp(0x1c, 1, 0, 20, 0, 7)); // fmv.x.d x7, f20
      code.push(0x001022f3); // csrrs x5, fflags, x0
      code.push(0x60535313); // rori x6, x6, 5
      code.push(0x00734333); // xor x6, x6, x7
      code.push(0x00530333); // add x6, x6, x5
      code.push(0x00105073 | (nx << 15)); // csrrwi x0, fflags, nx
    }
  code.push(WFI);
  return code;
}

test('edge operands give the same results and flags in blocks as in the interpreter', () => {
  // funct5, rs2 field (null: a second operand), x destination.
  const ops: [number, number | null, boolean][] = [
    [0x00, null, false], // fadd
    [0x01, null, false], // fsub
    [0x02, null, false], // fmul
    [0x03, null, false], // fdiv
    [0x0b, 0, false], // fsqrt
    [0x05, null, false], // fmin (rm 0), fmax (rm 1) below
    [0x14, null, true], // fle (rm 0), flt (1), feq (2)
    [0x08, 0, false], // fcvt.s.d / fcvt.d.s: the fmt below decides
    [0x18, 0, true], // fcvt.w
    [0x18, 1, true], // fcvt.wu
    [0x18, 2, true], // fcvt.l
    [0x18, 3, true], // fcvt.lu
  ];
  let seed = 1;
  for (const fmt of [0, 1]) {
    for (const [f5, rs2, xDest] of ops) {
      const rms =
        f5 === 0x05 ? [0, 1] : f5 === 0x14 ? [0, 1, 2] : f5 === 0x18 ? [0, 1, 2, 3, 4, 7] : [7, 0];
      for (const rm of rms) {
        // fcvt.s.d takes a double (fmt 0, rs2 1), fcvt.d.s a single (fmt 1, rs2 0).
        const [f, r2] = f5 === 0x08 ? [fmt, fmt ^ 1] : [fmt, rs2];
        const src = f5 === 0x08 ? (fmt === 0 ? EDGE_D : EDGE_S) : fmt === 1 ? EDGE_D : EDGE_S;
        // fflags NX before each operation, or clear (blocks then find whether it is inexact).
        for (const nx of [1, 0]) {
          const code = edgeProgram(f5, f, r2, rm, xDest, nx);
          const setup = (h: Hart): void => {
            for (let i = 0; i < 16; i++) h.fregs.u64[i] = src[i];
            h.fregs.flags = nx;
            h.fregs.frm = 0;
            h.regs.set(6, 0n);
          };
          const o = bothEngines(code, PRIV_M, FS_INITIAL, seed++, setup, 1_000_000);
          assert.equal(o.stop, StopReason.Wfi);
          const what = `${f5}/${fmt}/${rm}/${nx}: ${o.translated} translated`;
          assert.ok(o.translated > code.length / 2, what);
        }
      }
    }
  }
});

test('an FP instruction with mstatus.FS Off is illegal in blocks too', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const head = Array.from({ length: 5 + (seed % 7) }, () => alu(r(3), 1 + r(14), r(15), r(15)));
    const code = [...head, fpInstruction(r), WFI];
    const o = bothEngines(code, PRIV_U, 0, seed, fpState(seed, true));
    assert.equal(o.csrs[12], EXC_ILLEGAL, `seed ${seed}: mcause`);
    assert.equal(o.csrs[13], (CODE + head.length * 4) | 0, `seed ${seed}: mepc`);
    assert.equal(o.csrs[0] & MSTATUS_FS, 0, `seed ${seed}: FS stays Off`);
  }
});
