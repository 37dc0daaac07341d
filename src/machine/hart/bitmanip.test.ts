// Zba, Zbb, Zbc, Zbs: the decoder on the encodings Debian's riscv64 binutils
// emit for each instruction, and executeBitmanip (int32 halves) against a
// BigInt model written from the Bitmanip specification's pseudocode, on edge
// and random operands. Both engines are held to qemu-riscv64 by the
// differential suite (test/diff, group zb).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executeBitmanip } from './bitmanip.js';
import { decode } from './decode.js';
import { FIRST_ZB_OP, LAST_ZB_OP, Op } from './ops.js';

// riscv64-linux-gnu-objdump -d of `<op> s2,s3,s4` / `<op> s2,s3` / `<op> s2,s3,<shamt>`.
const ROWS: [number, Op, string, number?][] = [
  [0x0949893b, Op.ADD_UW, 'add.uw'],
  [0x2149a933, Op.SH1ADD, 'sh1add'],
  [0x2149c933, Op.SH2ADD, 'sh2add'],
  [0x2149e933, Op.SH3ADD, 'sh3add'],
  [0x2149a93b, Op.SH1ADD_UW, 'sh1add.uw'],
  [0x2149c93b, Op.SH2ADD_UW, 'sh2add.uw'],
  [0x2149e93b, Op.SH3ADD_UW, 'sh3add.uw'],
  [0x0ad9991b, Op.SLLI_UW, 'slli.uw', 45],
  [0x4149f933, Op.ANDN, 'andn'],
  [0x4149e933, Op.ORN, 'orn'],
  [0x4149c933, Op.XNOR, 'xnor'],
  [0x60099913, Op.CLZ, 'clz'],
  [0x60199913, Op.CTZ, 'ctz'],
  [0x60299913, Op.CPOP, 'cpop'],
  [0x6009991b, Op.CLZW, 'clzw'],
  [0x6019991b, Op.CTZW, 'ctzw'],
  [0x6029991b, Op.CPOPW, 'cpopw'],
  [0x0b49e933, Op.MAX, 'max'],
  [0x0b49f933, Op.MAXU, 'maxu'],
  [0x0b49c933, Op.MIN, 'min'],
  [0x0b49d933, Op.MINU, 'minu'],
  [0x60499913, Op.SEXT_B, 'sext.b'],
  [0x60599913, Op.SEXT_H, 'sext.h'],
  [0x0809c93b, Op.ZEXT_H, 'zext.h'],
  [0x61499933, Op.ROL, 'rol'],
  [0x6149d933, Op.ROR, 'ror'],
  [0x62d9d913, Op.RORI, 'rori', 45],
  [0x6149993b, Op.ROLW, 'rolw'],
  [0x6149d93b, Op.RORW, 'rorw'],
  [0x60d9d91b, Op.RORIW, 'roriw', 13],
  [0x2879d913, Op.ORC_B, 'orc.b'],
  [0x6b89d913, Op.REV8, 'rev8'],
  [0x0b499933, Op.CLMUL, 'clmul'],
  [0x0b49b933, Op.CLMULH, 'clmulh'],
  [0x0b49a933, Op.CLMULR, 'clmulr'],
  [0x49499933, Op.BCLR, 'bclr'],
  [0x4ad99913, Op.BCLRI, 'bclri', 45],
  [0x4949d933, Op.BEXT, 'bext'],
  [0x4ad9d913, Op.BEXTI, 'bexti', 45],
  [0x69499933, Op.BINV, 'binv'],
  [0x6ad99913, Op.BINVI, 'binvi', 45],
  [0x29499933, Op.BSET, 'bset'],
  [0x2ad99913, Op.BSETI, 'bseti', 45],
];

/** Ops whose rs2 field is an operand (the rest are unary or take an immediate). */
const BINARY = new Set(
  ROWS.filter(([e, , , sh]) => sh === undefined && decode(e).rs2 !== 0).map(([, op]) => op),
);

test('every Zba/Zbb/Zbc/Zbs instruction decodes to its operation and fields', () => {
  assert.equal(ROWS.length, LAST_ZB_OP - FIRST_ZB_OP + 1, 'one row per operation');
  for (const [enc, op, name, sh] of ROWS) {
    const d = decode(enc);
    assert.equal(d.op, op, `${name}: op`);
    assert.equal(d.rd, 18, `${name}: rd`);
    assert.equal(d.rs1, 19, `${name}: rs1`);
    if (sh !== undefined) assert.equal(d.imm, sh, `${name}: shift amount / bit index`);
  }
  assert.ok(BINARY.has(Op.CLMULR) && !BINARY.has(Op.CLZ) && !BINARY.has(Op.ZEXT_H));
});

const R = (opc: number, f3: number, rs2: number, f7: number): number =>
  (f7 << 25) | (rs2 << 20) | (19 << 15) | (f3 << 12) | (18 << 7) | opc;

test('reserved neighbours of the bit-manipulation encodings decode as illegal', () => {
  const illegal: [number, string][] = [
    [R(0x3b, 4, 1, 0x04), 'zext.h with rs2 = 1 (packw, Zbkb)'],
    [R(0x3b, 4, 0, 0x05), 'zext.h with funct7 = 0x05'],
    [R(0x1b, 1, 3, 0x30), 'clzw family with rs2 = 3'],
    [R(0x13, 1, 3, 0x30), 'clz family with rs2 = 3'],
    [R(0x13, 1, 6, 0x30), 'clz family with rs2 = 6'],
    [R(0x13, 1, 0, 0x31), 'clz with imm[5] set'],
    [R(0x13, 5, 8, 0x14), 'orc.b with imm 0x288'],
    [R(0x13, 5, 0x18, 0x34), 'rev8 of RV32 (imm 0x698)'],
    [R(0x13, 5, 0x09, 0x34), 'imm 0x689 (not rev8)'],
    [R(0x1b, 1, 5, 0x06), 'OP-IMM-32 funct3 = 1, funct6 = 0x03'],
    [R(0x1b, 5, 5, 0x31), 'roriw with imm[5] set'],
    [R(0x3b, 1, 20, 0x31), 'rolw with funct7 = 0x31'],
    [R(0x3b, 0, 20, 0x05), 'add.uw with funct7 = 0x05'],
    [R(0x3b, 3, 20, 0x10), 'sh*add.uw with funct3 = 3'],
    [R(0x33, 5, 20, 0x31), 'ror with funct7 = 0x31'],
    [R(0x33, 0, 20, 0x05), 'funct7 = 0x05 funct3 = 0'],
    [R(0x33, 5, 20, 0x10), 'sh*add funct7 = 0x10 funct3 = 5'],
    [R(0x33, 5, 20, 0x14), 'bset funct3 = 5'],
    [R(0x33, 5, 20, 0x34), 'binv funct3 = 5'],
    [R(0x33, 2, 20, 0x24), 'bclr funct3 = 2'],
    [R(0x33, 1, 20, 0x20), 'funct7 = 0x20 funct3 = 1'],
    [R(0x13, 5, 20, 0x15), 'funct6 0x0a, funct3 5, imm 0x2b4 (not orc.b)'],
  ];
  for (const [inst, text] of illegal)
    assert.equal(decode(inst).op, Op.ILLEGAL, `${text}: 0x${(inst >>> 0).toString(16)}`);
});

test('pause (Zihintpause) decodes as a fence, a hint that never traps', () => {
  assert.equal(decode(0x0100000f).op, Op.FENCE);
});

// ---- semantics against a BigInt model --------------------------------------------

const M64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => v & M64;
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const zx32 = (v: bigint): bigint => v & 0xffffffffn;
const sx32 = (v: bigint): bigint => u64(BigInt.asIntN(32, v));
const bit = (v: bigint, i: number): bigint => (v >> BigInt(i)) & 1n;

function clmulFull(a: bigint, b: bigint): bigint {
  let p = 0n;
  for (let i = 0; i < 64; i++) if (bit(b, i)) p ^= a << BigInt(i);
  return p;
}
function rotr64(v: bigint, s: number): bigint {
  s &= 63;
  return u64((v >> BigInt(s)) | (v << BigInt((64 - s) & 63)));
}
function rotr32(v: bigint, s: number): bigint {
  const w = zx32(v);
  s &= 31;
  return sx32((w >> BigInt(s)) | (w << BigInt((32 - s) & 31)));
}
function count(v: bigint, n: number, from: 'top' | 'bottom'): bigint {
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (bit(v, from === 'top' ? n - 1 - i : i)) break;
    k++;
  }
  return BigInt(k);
}
function pop(v: bigint): bigint {
  let k = 0n;
  for (; v !== 0n; v >>= 1n) k += v & 1n;
  return k;
}

/** The specification's result of `op` on unsigned 64-bit a, b (or the immediate). */
function model(op: Op, a: bigint, b: bigint, imm: number): bigint {
  const sh = Number(b & 63n);
  switch (op) {
    case Op.ADD_UW:
      return u64(zx32(a) + b);
    case Op.SH1ADD:
    case Op.SH2ADD:
    case Op.SH3ADD:
      return u64((a << BigInt(op - Op.SH1ADD + 1)) + b);
    case Op.SH1ADD_UW:
    case Op.SH2ADD_UW:
    case Op.SH3ADD_UW:
      return u64((zx32(a) << BigInt(op - Op.SH1ADD_UW + 1)) + b);
    case Op.SLLI_UW:
      return u64(zx32(a) << BigInt(imm));
    case Op.ANDN:
      return a & u64(~b);
    case Op.ORN:
      return a | u64(~b);
    case Op.XNOR:
      return u64(~(a ^ b));
    case Op.CLZ:
      return count(a, 64, 'top');
    case Op.CTZ:
      return count(a, 64, 'bottom');
    case Op.CPOP:
      return pop(a);
    case Op.CLZW:
      return count(zx32(a), 32, 'top');
    case Op.CTZW:
      return count(zx32(a), 32, 'bottom');
    case Op.CPOPW:
      return pop(zx32(a));
    case Op.MAX:
      return s64(a) < s64(b) ? b : a;
    case Op.MAXU:
      return a < b ? b : a;
    case Op.MIN:
      return s64(a) < s64(b) ? a : b;
    case Op.MINU:
      return a < b ? a : b;
    case Op.SEXT_B:
      return u64(BigInt.asIntN(8, a));
    case Op.SEXT_H:
      return u64(BigInt.asIntN(16, a));
    case Op.ZEXT_H:
      return a & 0xffffn;
    case Op.ROL:
      return rotr64(a, 64 - sh);
    case Op.ROR:
      return rotr64(a, sh);
    case Op.RORI:
      return rotr64(a, imm);
    case Op.ROLW:
      return rotr32(a, 32 - Number(b & 31n));
    case Op.RORW:
      return rotr32(a, Number(b & 31n));
    case Op.RORIW:
      return rotr32(a, imm);
    case Op.ORC_B: {
      let r = 0n;
      for (let i = 0; i < 64; i += 8) if ((a >> BigInt(i)) & 0xffn) r |= 0xffn << BigInt(i);
      return r;
    }
    case Op.REV8: {
      let r = 0n;
      for (let i = 0; i < 8; i++) r |= ((a >> BigInt(8 * i)) & 0xffn) << BigInt(56 - 8 * i);
      return r;
    }
    case Op.CLMUL:
      return u64(clmulFull(a, b));
    case Op.CLMULH:
      return u64(clmulFull(a, b) >> 64n);
    case Op.CLMULR:
      return u64(clmulFull(a, b) >> 63n);
    case Op.BCLR:
      return a & u64(~(1n << BigInt(sh)));
    case Op.BCLRI:
      return a & u64(~(1n << BigInt(imm)));
    case Op.BEXT:
      return bit(a, sh);
    case Op.BEXTI:
      return bit(a, imm);
    case Op.BINV:
      return a ^ (1n << BigInt(sh));
    case Op.BINVI:
      return a ^ (1n << BigInt(imm));
    case Op.BSET:
      return a | (1n << BigInt(sh));
    case Op.BSETI:
      return a | (1n << BigInt(imm));
  }
  throw new Error(`no model for op ${op}`);
}

const EDGE: bigint[] = [
  0n,
  1n,
  M64,
  0x8000000000000000n,
  0x7fffffffffffffffn,
  0x80000000n,
  0x7fffffffn,
  0xffffffffn,
  0x100000000n,
  0xffffffff80000000n,
  0xffffffff00000000n,
  0x00000000000000ffn,
  0x0000000000008080n,
  0x0102030405060708n,
  0x00ff00ff00ff0100n,
  31n,
  32n,
  63n,
  64n,
];

/** Runs `op` through executeBitmanip on registers a (x19), b (x20) into rd. */
function run(
  op: Op,
  a: bigint,
  b: bigint,
  imm: number,
  rd: number,
  rs1: number,
  rs2: number,
): bigint {
  const buf = new BigInt64Array(33);
  buf[rs1] = s64(a);
  buf[rs2] = s64(b);
  const x = new Int32Array(buf.buffer);
  executeBitmanip(op, x, 2 * rd, 2 * rs1, 2 * rs2, imm);
  return u64(buf[rd]);
}

test('executeBitmanip matches the specification on edge and random operands', () => {
  let seed = 0x2545f491;
  const rnd32 = (): bigint => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return BigInt(seed >>> 0);
  };
  const operands: bigint[] = [...EDGE];
  for (let i = 0; i < 60; i++) operands.push((rnd32() << 32n) | rnd32());
  for (const [, op, name, immRow] of ROWS) {
    const imms =
      immRow === undefined ? [0] : op === Op.RORIW ? [0, 1, 13, 31] : [0, 1, 31, 32, 45, 63];
    for (const a of operands) {
      for (const b of BINARY.has(op) ? operands : [0n]) {
        for (const imm of imms) {
          const want = model(op, a, b, imm);
          const at = `${name} a=0x${a.toString(16)} b=0x${b.toString(16)} imm=${imm}`;
          assert.equal(run(op, a, b, imm, 18, 19, 20), want, at);
          // rd = rs1 = rs2 and rd = rs2: results do not depend on the order of reads and writes.
          assert.equal(
            run(op, a, a, imm, 19, 19, 19),
            model(op, a, a, imm),
            `${at} (rd = rs1 = rs2)`,
          );
          if (BINARY.has(op))
            assert.equal(run(op, a, b, imm, 20, 19, 20), want, `${at} (rd = rs2)`);
        }
      }
    }
  }
});

test('spec examples: orc.b, rev8, clz/ctz of 0, clmul', () => {
  assert.equal(run(Op.ORC_B, 0x0000010000ff0001n, 0n, 0, 1, 3, 4), 0x0000ff0000ff00ffn);
  assert.equal(run(Op.REV8, 0x0102030405060708n, 0n, 0, 1, 3, 4), 0x0807060504030201n);
  assert.equal(run(Op.CLZ, 0n, 0n, 0, 1, 3, 4), 64n);
  assert.equal(run(Op.CTZW, 0xffffffff00000000n, 0n, 0, 1, 3, 4), 32n);
  // (x + 1) * (x + 1) = x^2 + 1 without carries.
  assert.equal(run(Op.CLMUL, 3n, 3n, 0, 1, 3, 4), 5n);
  assert.equal(run(Op.CLMULH, M64, M64, 0, 1, 3, 4), 0x5555555555555555n);
});
