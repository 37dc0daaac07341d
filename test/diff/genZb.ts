// Generators of the bit-manipulation groups: random sequences of Zba, Zbb,
// Zbc and Zbs instructions (with pause, RV64I work and short loops, so that
// translated blocks run them too), and a directed table of every instruction
// on every (ordered pair of) edge operand(s) and every edge shift amount.

import { CaseBuilder, xn } from './caseModel.js';
import { aluOp, controlOp, initX, SLOTS } from './genInt.js';
import { randInt, u64, Rng } from './values.js';

/** rd, rs1, rs2 forms. */
export const ZB_R = [
  'add.uw',
  'sh1add',
  'sh2add',
  'sh3add',
  'sh1add.uw',
  'sh2add.uw',
  'sh3add.uw',
  'andn',
  'orn',
  'xnor',
  'max',
  'maxu',
  'min',
  'minu',
  'rol',
  'ror',
  'rolw',
  'rorw',
  'clmul',
  'clmulh',
  'clmulr',
  'bclr',
  'bext',
  'binv',
  'bset',
];
/** rd, rs1 forms (zext.w is add.uw rd, rs1, zero). */
export const ZB_U = [
  'clz',
  'ctz',
  'cpop',
  'clzw',
  'ctzw',
  'cpopw',
  'sext.b',
  'sext.h',
  'zext.h',
  'zext.w',
  'orc.b',
  'rev8',
];
/** rd, rs1, shamt forms with a 6-bit amount. */
export const ZB_I6 = ['slli.uw', 'rori', 'bclri', 'bexti', 'binvi', 'bseti'];
/** Shift amounts / bit indexes that split the halves and the ends. */
const SH6 = [0, 1, 31, 32, 33, 63];
const SH5 = [0, 1, 15, 31];

/** Operands that break bit manipulation: signs, halves, zero bytes, shift counts with garbage above bit 5. */
export const ZB_VALUES: readonly bigint[] = [
  0n,
  1n,
  u64(-1n),
  0x8000000000000000n,
  0x7fffffffffffffffn,
  0x80000000n,
  0x7fffffffn,
  0xffffffffn,
  0x100000000n,
  0xffffffff80000000n,
  0xffffffff00000000n,
  31n,
  32n,
  63n,
  64n,
  0x00ff00ff00ff0100n,
  0x0123456789abcdefn,
  0xfedcba9876543221n,
  0x8000000080000080n,
  0x0000800000008000n,
];

function zbValue(r: Rng): bigint {
  return r.bool(0.5) ? r.pick(ZB_VALUES) : randInt(r);
}

/**
 * ctzw rd, rs as QEMU 7.2 agrees with: its ctzw counts the trailing zeros of
 * the whole register when the low word is zero (0x8000000000000000 gives 63;
 * the specification and the hart say 32). Setting bit 32 first changes
 * nothing the specification looks at and makes QEMU's count stop at 32.
 * (bitmanip.test.ts checks the hart on such values against the specification.)
 */
export function ctzwLines(d: string, s: string): string[] {
  return d === 'zero' ? [`ctzw zero, ${s}`] : [`bseti ${d}, ${s}, 32`, `ctzw ${d}, ${d}`];
}

/** One random bit-manipulation instruction. */
function zbOp(b: CaseBuilder): void {
  const r = b.r;
  const d = xn(b.destX());
  const s = (): string => xn(r.bool(0.05) ? 0 : b.srcX());
  switch (r.int(8)) {
    case 0:
    case 1:
    case 2:
    case 3:
      b.emit(`${r.pick(ZB_R)} ${d}, ${s()}, ${s()}`);
      break;
    case 4:
    case 5: {
      const op = r.pick(ZB_U);
      if (op === 'ctzw') b.emit(...ctzwLines(d, s()));
      else b.emit(`${op} ${d}, ${s()}`);
      break;
    }
    case 6:
      if (r.bool(0.85))
        b.emit(`${r.pick(ZB_I6)} ${d}, ${s()}, ${r.bool(0.6) ? r.pick(SH6) : r.int(64)}`);
      else b.emit(`roriw ${d}, ${s()}, ${r.bool(0.6) ? r.pick(SH5) : r.int(32)}`);
      break;
    default:
      if (r.bool(0.15)) b.emit('pause');
      else aluOp(b);
  }
}

export function genZb(b: CaseBuilder): void {
  initX(b, zbValue);
  for (let n = b.r.range(15, 35); n > 0; n--) {
    if (b.r.bool(0.1)) controlOp(b, zbOp);
    else zbOp(b);
  }
}

// ---- directed: every instruction on every edge operand ------------------------------------

/** Every entry of the table: instruction lines on x3.. (ZB_VALUES[i] is in x(3 + i)) and the operands. */
function directedTable(): [string[], string][] {
  const n = ZB_VALUES.length;
  const v = (i: number): string => '0x' + ZB_VALUES[i].toString(16);
  const out: [string[], string][] = [];
  for (const op of ZB_R)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        out.push([[`${op} t6, ${xn(3 + i)}, ${xn(3 + j)}`], `${v(i)}, ${v(j)}`]);
  for (const op of ZB_U)
    for (let i = 0; i < n; i++)
      out.push([op === 'ctzw' ? ctzwLines('t6', xn(3 + i)) : [`${op} t6, ${xn(3 + i)}`], v(i)]);
  for (const op of ZB_I6)
    for (const sh of SH6)
      for (let i = 0; i < n; i++) out.push([[`${op} t6, ${xn(3 + i)}, ${sh}`], v(i)]);
  for (const sh of SH5)
    for (let i = 0; i < n; i++) out.push([[`roriw t6, ${xn(3 + i)}, ${sh}`], v(i)]);
  return out;
}

const TABLE = directedTable();
export const ZB_DIRECTED_TOTAL = TABLE.length;

export function genZbDirected(b: CaseBuilder): void {
  initX(b);
  // Values in x3..x22 (never written), results through t6.
  ZB_VALUES.forEach((val, i) => (b.c.x[3 + i] = val));
  for (let s = 0; s < SLOTS; s++) {
    const k = b.c.index * SLOTS + s;
    if (k >= TABLE.length) break;
    const [lines, operands] = TABLE[k];
    b.emit(...lines, `sd t6, ${8 * s}(sp)`);
    b.note(8 * s, `${lines.join('; ')}  [${operands}]`);
  }
}
