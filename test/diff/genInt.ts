// Generators of the integer groups: RV64I (ALU, branches, jumps), C (compressed
// forms, explicit c.* mnemonics), loads/stores of every width (misaligned too),
// M (random and an exhaustive table of extreme operands), A (AMOs, LR/SC) and
// Zicsr on fflags/frm/fcsr.

import { CaseBuilder, MEM_SIZE, XNAMES, xn } from './caseModel.js';
import { INT_SPECIAL, randBoxed, randF64, randInt, u64, Rng } from './values.js';

export function initX(b: CaseBuilder, pick: (r: Rng) => bigint = randInt): void {
  for (let i = 1; i < 32; i++) if (i !== 2) b.c.x[i] = pick(b.r);
  for (let i = 0; i < 32; i++) b.c.f[i] = b.r.bool() ? randF64(b.r) : randBoxed(b.r);
  b.c.fcsr = b.r.int(256);
}

function imm12(r: Rng): number {
  return r.bool(0.3) ? r.pick([-2048, 2047, 0, -1, 1, 2046, -2047]) : r.range(-2048, 2047);
}

const R_OPS = [
  'add',
  'sub',
  'sll',
  'slt',
  'sltu',
  'xor',
  'srl',
  'sra',
  'or',
  'and',
  'addw',
  'subw',
  'sllw',
  'srlw',
  'sraw',
];
const I_OPS = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw'];
const SH_OPS = ['slli', 'srli', 'srai'];
const SHW_OPS = ['slliw', 'srliw', 'sraiw'];
const BRANCHES = ['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu'];

/** One random RV64I ALU instruction. */
export function aluOp(b: CaseBuilder): void {
  const r = b.r;
  const d = xn(b.destX());
  switch (r.int(6)) {
    case 0:
    case 1:
      b.emit(`${r.pick(R_OPS)} ${d}, ${xn(b.srcX())}, ${xn(b.srcX())}`);
      break;
    case 2:
      b.emit(`${r.pick(I_OPS)} ${d}, ${xn(b.srcX())}, ${imm12(r)}`);
      break;
    case 3:
      if (r.bool())
        b.emit(
          `${r.pick(SH_OPS)} ${d}, ${xn(b.srcX())}, ${r.pick([0, 1, 31, 32, 33, 63, r.int(64)])}`,
        );
      else b.emit(`${r.pick(SHW_OPS)} ${d}, ${xn(b.srcX())}, ${r.pick([0, 1, 15, 31, r.int(32)])}`);
      break;
    case 4:
      b.emit(
        `${r.pick(['lui', 'auipc'])} ${d}, ${r.pick([0, 1, 0x7ffff, 0x80000, 0xfffff, r.int(0x100000)])}`,
      );
      break;
    default:
      if (r.bool(0.3)) b.emit(`li ${d}, ${BigInt.asIntN(64, randInt(r))}`);
      else b.emit(`${r.pick(R_OPS)} ${d}, ${xn(b.srcX())}, ${xn(b.srcX())}`);
  }
}

/** A forward branch or jump over a few instructions, a jalr through a computed address, or a short loop. */
export function controlOp(b: CaseBuilder, body: (b: CaseBuilder) => void): void {
  const r = b.r;
  const skip = b.label();
  switch (r.int(5)) {
    case 0:
    case 1: {
      const a = b.srcX();
      const c = r.bool(0.25) ? a : r.bool(0.2) ? 0 : b.srcX();
      b.emit(`${r.pick(BRANCHES)} ${xn(a)}, ${xn(c)}, ${skip}`);
      break;
    }
    case 2:
      b.emit(`jal ${xn(b.destX(0.3))}, ${skip}`);
      break;
    case 3: {
      // Target +1 and imm -1/0: jalr clears bit 0 of the sum. rd may equal rs1.
      const t = b.destX(0);
      const rd = r.bool(0.3) ? t : b.destX(0.2);
      const off = r.pick([0, 1, 3]);
      b.emit(`lla ${xn(t)}, ${skip}+${off}`, `jalr ${xn(rd)}, ${off === 0 ? 0 : -off}(${xn(t)})`);
      break;
    }
    default: {
      // A counted loop (backward branch) with its counter protected.
      const cnt = b.destX(0);
      b.reservedX.add(cnt);
      const top = b.label();
      b.emit(`li ${xn(cnt)}, ${r.range(1, 5)}`, `${top}:`);
      for (let i = r.range(1, 3); i > 0; i--) body(b);
      b.emit(`addi ${xn(cnt)}, ${xn(cnt)}, -1`, `bnez ${xn(cnt)}, ${top}`);
      b.reservedX.delete(cnt);
      return;
    }
  }
  for (let i = r.range(1, 3); i > 0; i--) body(b);
  b.emit(`${skip}:`);
}

export function genRv64i(b: CaseBuilder): void {
  initX(b);
  for (let n = b.r.range(10, 30); n > 0; n--) {
    if (b.r.bool(0.15)) controlOp(b, aluOp);
    else aluOp(b);
  }
}

// ---- compressed ---------------------------------------------------------------

const CREG = [8, 9, 10, 11, 12, 13, 14, 15];

function cDest(b: CaseBuilder): number {
  for (;;) {
    const d = b.r.pick(CREG);
    if (!b.reservedX.has(d)) return d;
  }
}

function nz6(r: Rng): number {
  const v = r.range(-32, 30);
  return v >= 0 ? v + 1 : v;
}

function cOp(b: CaseBuilder, cbase: number): void {
  const r = b.r;
  const p = (): string => xn(cDest(b));
  const ps = (): string => xn(r.pick(CREG));
  const full = (): string => xn(b.destX(0));
  switch (r.int(22)) {
    case 0:
      b.emit(`c.addi ${r.bool() ? p() : full()}, ${nz6(r)}`);
      break;
    case 1:
      b.emit(`c.addiw ${r.bool() ? p() : full()}, ${r.range(-32, 31)}`);
      break;
    case 2:
      b.emit(`c.li ${r.bool() ? p() : full()}, ${r.range(-32, 31)}`);
      break;
    case 3:
      b.emit(
        `c.lui ${r.bool() ? p() : full()}, ${r.bool() ? r.range(1, 31) : r.range(0xfffe0, 0xfffff)}`,
      );
      break;
    case 4:
      b.emit(`c.${r.pick(['srli', 'srai'])} ${p()}, ${r.range(1, 63)}`);
      break;
    case 5:
      b.emit(`c.andi ${p()}, ${r.range(-32, 31)}`);
      break;
    case 6:
      b.emit(`c.${r.pick(['sub', 'xor', 'or', 'and', 'subw', 'addw'])} ${p()}, ${ps()}`);
      break;
    case 7:
      b.emit(`c.slli ${r.bool() ? p() : full()}, ${r.range(1, 63)}`);
      break;
    case 8:
      b.emit(`c.mv ${full()}, ${xn(r.range(1, 31))}`);
      break;
    case 9:
      b.emit(`c.add ${full()}, ${xn(r.range(1, 31))}`);
      break;
    case 10:
      b.emit('c.nop');
      break;
    case 11:
      b.emit(`c.addi4spn ${p()}, sp, ${4 * r.range(1, 255)}`);
      break;
    case 12: {
      // sp moves and comes back; sp-relative accesses in between stay in the data area.
      const k = 16 * r.range(1, 20);
      const off = 8 * r.range(0, (MEM_SIZE - k - 8) >> 3);
      b.emit(`c.addi16sp sp, ${k}`);
      b.emit(
        r.bool() ? `c.ldsp ${full()}, ${off}(sp)` : `c.sdsp ${xn(r.range(0, 31))}, ${off}(sp)`,
      );
      b.emit(`c.addi16sp sp, ${-k}`);
      break;
    }
    case 13:
      b.emit(`c.lw ${p()}, ${4 * r.range(0, 31)}(${xn(cbase)})`);
      break;
    case 14:
      b.emit(`c.ld ${p()}, ${8 * r.range(0, 31)}(${xn(cbase)})`);
      break;
    case 15:
      b.emit(`c.sw ${ps()}, ${4 * r.range(0, 31)}(${xn(cbase)})`);
      break;
    case 16:
      b.emit(`c.sd ${ps()}, ${8 * r.range(0, 31)}(${xn(cbase)})`);
      break;
    case 17: {
      const k = r.int(6);
      if (k === 0) b.emit(`c.lwsp ${full()}, ${4 * r.range(0, 63)}(sp)`);
      else if (k === 1) b.emit(`c.ldsp ${full()}, ${8 * r.range(0, 63)}(sp)`);
      else if (k === 2) b.emit(`c.swsp ${xn(r.int(32))}, ${4 * r.range(0, 63)}(sp)`);
      else if (k === 3) b.emit(`c.sdsp ${xn(r.int(32))}, ${8 * r.range(0, 63)}(sp)`);
      else if (k === 4) b.emit(`c.fldsp f${r.int(32)}, ${8 * r.range(0, 63)}(sp)`);
      else b.emit(`c.fsdsp f${r.int(32)}, ${8 * r.range(0, 63)}(sp)`);
      break;
    }
    case 18:
      b.emit(
        r.bool()
          ? `c.fld f${r.range(8, 15)}, ${8 * r.range(0, 31)}(${xn(cbase)})`
          : `c.fsd f${r.range(8, 15)}, ${8 * r.range(0, 31)}(${xn(cbase)})`,
      );
      break;
    case 19: {
      const skip = b.label();
      const k = r.int(3);
      b.emit(k === 0 ? `c.j ${skip}` : `c.${k === 1 ? 'beqz' : 'bnez'} ${ps()}, ${skip}`);
      b.emit(`c.addi ${p()}, ${nz6(r)}`);
      if (r.bool()) b.emit(`c.li ${p()}, ${r.range(-32, 31)}`);
      b.emit(`${skip}:`);
      break;
    }
    case 20: {
      const skip = b.label();
      const t = cDest(b);
      b.emit(`lla ${xn(t)}, ${skip}`, r.bool() ? `c.jr ${xn(t)}` : `c.jalr ${xn(t)}`);
      b.emit(`c.addi ${p()}, 1`, `${skip}:`);
      break;
    }
    default: {
      // Ordinary mnemonics that the assembler compresses on its own.
      const d = p();
      const f = full();
      b.emit(
        r.pick([
          `add ${d}, ${d}, ${ps()}`,
          `addi ${f}, ${xn(r.range(0, 31))}, ${r.range(-32, 31)}`,
          `andi ${d}, ${d}, ${r.range(-32, 31)}`,
          `mv ${f}, ${xn(r.range(1, 31))}`,
          `li ${f}, ${r.range(-32, 31)}`,
          `ld ${f}, ${8 * r.range(0, 63)}(sp)`,
          `sw ${ps()}, ${4 * r.range(0, 31)}(${xn(cbase)})`,
          `slli ${f}, ${f}, ${r.range(1, 63)}`,
          `addw ${d}, ${d}, ${ps()}`,
          `sub ${d}, ${d}, ${ps()}`,
        ]),
      );
    }
  }
}

export function genRvc(b: CaseBuilder): void {
  initX(b, (r) => (r.bool(0.5) ? u64(BigInt(r.range(-40, 40))) : randInt(r)));
  // A base in x8..x15 for c.lw/c.ld/c.sw/c.sd/c.fld/c.fsd (offsets up to 248).
  const cbase = b.base(8 * b.r.range(0, (MEM_SIZE - 256) >> 3), CREG);
  for (let n = b.r.range(12, 32); n > 0; n--) cOp(b, cbase);
}

// ---- loads and stores ------------------------------------------------------------

const LOADS: [string, number][] = [
  ['lb', 1],
  ['lbu', 1],
  ['lh', 2],
  ['lhu', 2],
  ['lw', 4],
  ['lwu', 4],
  ['ld', 8],
  ['flw', 4],
  ['fld', 8],
];
const STORES: [string, number][] = [
  ['sb', 1],
  ['sh', 2],
  ['sw', 4],
  ['sd', 8],
  ['fsw', 4],
  ['fsd', 8],
];

export function genMem(b: CaseBuilder): void {
  const r = b.r;
  initX(b);
  const bases: [number, number][] = [[2, 0]];
  for (let n = r.range(1, 3); n > 0; n--) {
    const off = r.int(MEM_SIZE);
    bases.push([b.base(off), off]);
  }
  for (let n = r.range(12, 32); n > 0; n--) {
    if (r.bool(0.2)) {
      aluOp(b);
      continue;
    }
    const [reg, boff] = r.pick(bases);
    const isLoad = r.bool();
    const [op, size] = r.pick(isLoad ? LOADS : STORES);
    let e = r.int(MEM_SIZE - size + 1);
    if (r.bool(0.6)) e -= e % size;
    const fp = op.startsWith('f');
    const data = fp ? `f${r.int(32)}` : isLoad ? xn(b.destX(0.05)) : xn(b.srcX());
    b.emit(`${op} ${data}, ${e - boff}(${xn(reg)})`);
  }
}

// ---- M -----------------------------------------------------------------------------

const M_OPS = [
  'mul',
  'mulh',
  'mulhsu',
  'mulhu',
  'div',
  'divu',
  'rem',
  'remu',
  'mulw',
  'divw',
  'divuw',
  'remw',
  'remuw',
];

/** Operands that break multiply and divide (signs, limits, garbage in upper halves). */
export const M_VALUES: readonly bigint[] = [
  0n,
  1n,
  u64(-1n),
  2n,
  u64(-2n),
  0x8000000000000000n,
  0x7fffffffffffffffn,
  0x8000000000000001n,
  0x80000000n,
  0xffffffff80000000n,
  0x7fffffffn,
  0xffffffffn,
  0x100000000n,
  0xffffffff00000000n,
  3n,
  u64(-3n),
  0x123456789abcdef1n,
  0xfedcba9876543211n,
  0x0000000180000000n,
  0xffffffff7fffffffn,
];

export function genM(b: CaseBuilder): void {
  const r = b.r;
  initX(b, (rr) => (rr.bool(0.6) ? rr.pick(M_VALUES) : randInt(rr)));
  for (let n = r.range(15, 35); n > 0; n--) {
    if (r.bool(0.1)) aluOp(b);
    else b.emit(`${r.pick(M_OPS)} ${xn(b.destX())}, ${xn(b.srcX())}, ${xn(b.srcX())}`);
  }
}

/** Every M operation on every ordered pair of M_VALUES, 56 per case, each result stored to the data area. */
export const M_DIRECTED_TOTAL = M_OPS.length * M_VALUES.length * M_VALUES.length;
export const SLOTS = 56;

export function genMDirected(b: CaseBuilder): void {
  const n = M_VALUES.length;
  initX(b);
  // Values in x3..x22 (never written), results through t6.
  for (let i = 0; i < n; i++) b.c.x[3 + i] = M_VALUES[i];
  for (let s = 0; s < SLOTS; s++) {
    const k = (b.c.index * SLOTS + s) % M_DIRECTED_TOTAL;
    const op = M_OPS[Math.floor(k / (n * n))];
    const i = Math.floor(k / n) % n;
    const j = k % n;
    b.emit(`${op} t6, ${xn(3 + i)}, ${xn(3 + j)}`, `sd t6, ${8 * s}(sp)`);
    b.note(
      8 * s,
      `${op} t6, ${xn(3 + i)}, ${xn(3 + j)}  [${fmtX(M_VALUES[i])}, ${fmtX(M_VALUES[j])}]`,
    );
  }
}

function fmtX(v: bigint): string {
  return '0x' + v.toString(16);
}

// ---- A -----------------------------------------------------------------------------

const AMOS = [
  'amoswap',
  'amoadd',
  'amoxor',
  'amoand',
  'amoor',
  'amomin',
  'amomax',
  'amominu',
  'amomaxu',
];
const ORDER = ['', '.aq', '.rl', '.aqrl'];

export function genAmo(b: CaseBuilder): void {
  const r = b.r;
  initX(b, (rr) => (rr.bool(0.6) ? rr.pick(INT_SPECIAL) : randInt(rr)));
  // Interesting memory words: limits where min/max signedness and W sign-extension matter.
  for (let off = 0; off < MEM_SIZE; off += 8) if (r.bool(0.6)) b.setMem64(off, r.pick(INT_SPECIAL));
  const addr = (w: boolean): string => {
    const a = b.destX(0);
    const size = w ? 4 : 8;
    b.emit(`addi ${xn(a)}, sp, ${size * r.int(MEM_SIZE / size)}`);
    return xn(a);
  };
  for (let n = r.range(8, 20); n > 0; n--) {
    const w = r.bool();
    const sfx = w ? '.w' : '.d';
    const k = r.int(10);
    if (k < 6) {
      const a = addr(w);
      const rd = r.bool(0.15) ? a : xn(b.destX(0.1));
      b.emit(`${r.pick(AMOS)}${sfx}${r.pick(ORDER)} ${rd}, ${xn(b.srcX())}, (${a})`);
    } else if (k < 8) {
      // LR/SC pair on one address, with some ALU work in between: must succeed.
      const a = addr(w);
      b.reservedX.add(XNAMES.indexOf(a));
      const rd = xn(b.destX());
      b.emit(`lr${sfx}${r.pick(ORDER)} ${rd}, (${a})`);
      for (let i = r.int(3); i > 0; i--) aluOp(b);
      b.emit(`sc${sfx}${r.pick(ORDER)} ${xn(b.destX(0.1))}, ${xn(b.srcX())}, (${a})`);
      b.reservedX.delete(XNAMES.indexOf(a));
    } else if (k < 9) {
      // SC to another address than the LR, or SC with no LR at all: must fail and not write.
      const size = w ? 4 : 8;
      const off = size * r.int(MEM_SIZE / size - 1);
      const a = xn(b.destX(0));
      b.emit(`addi ${a}, sp, ${off}`);
      if (r.bool()) b.emit(`lr${sfx} ${xn(b.destX())}, (${a})`);
      b.emit(`addi ${a}, sp, ${off + size}`);
      b.emit(`sc${sfx} ${xn(b.destX())}, ${xn(b.srcX())}, (${a})`);
    } else {
      // Two LRs: the SC pairs with the second one only.
      const a1 = addr(w);
      b.reservedX.add(XNAMES.indexOf(a1));
      const a2 = addr(w);
      b.reservedX.add(XNAMES.indexOf(a2));
      b.emit(`lr${sfx} ${xn(b.destX())}, (${a1})`, `lr${sfx} ${xn(b.destX())}, (${a2})`);
      b.emit(`sc${sfx} ${xn(b.destX())}, ${xn(b.srcX())}, (${r.bool() ? a1 : a2})`);
      b.reservedX.delete(XNAMES.indexOf(a1));
      b.reservedX.delete(XNAMES.indexOf(a2));
    }
  }
}

// ---- Zicsr on the FP CSRs -----------------------------------------------------------------

const CSRS = ['fflags', 'frm', 'fcsr'];

export function genZicsr(b: CaseBuilder): void {
  const r = b.r;
  initX(b, (rr) => (rr.bool(0.5) ? BigInt(rr.int(512)) : randInt(rr)));
  for (let n = r.range(8, 20); n > 0; n--) {
    const d = xn(b.destX(0.15));
    const s = xn(r.bool(0.1) ? 0 : b.srcX());
    const u = r.bool(0.2) ? 0 : r.int(32);
    switch (r.int(4)) {
      case 0:
        b.emit(`${r.pick(['csrrw', 'csrrs', 'csrrc'])} ${d}, ${r.pick(CSRS)}, ${s}`);
        break;
      case 1:
        b.emit(`${r.pick(['csrrwi', 'csrrsi', 'csrrci'])} ${d}, ${r.pick(CSRS)}, ${u}`);
        break;
      case 2:
        b.emit(
          r.pick([
            `frcsr ${d}`,
            `fscsr ${d}, ${s}`,
            `frrm ${d}`,
            `fsrm ${d}, ${s}`,
            `frflags ${d}`,
            `fsflags ${d}, ${s}`,
            `fscsr ${s}`,
            `fsrm ${s}`,
            `fsflags ${s}`,
          ]),
        );
        break;
      default:
        b.emit(
          r.pick([
            `fsrmi ${d}, ${u & 7}`,
            `fsflagsi ${d}, ${u}`,
            `fsrmi ${u & 7}`,
            `fsflagsi ${u}`,
            `csrr ${d}, ${r.pick(CSRS)}`,
            `csrw ${r.pick(CSRS)}, ${s}`,
          ]),
        );
    }
  }
}

// ---- self-modifying code ---------------------------------------------------------------

const SMC_R: [number, number, number][] = [
  // [opcode, funct3, funct7]
  [0x33, 0, 0],
  [0x33, 0, 0x20],
  [0x33, 1, 0],
  [0x33, 2, 0],
  [0x33, 3, 0],
  [0x33, 4, 0],
  [0x33, 5, 0],
  [0x33, 5, 0x20],
  [0x33, 6, 0],
  [0x33, 7, 0],
  [0x33, 0, 1],
  [0x33, 3, 1],
  [0x33, 4, 1],
  [0x33, 7, 1],
  [0x3b, 0, 0],
  [0x3b, 0, 0x20],
  [0x3b, 1, 0],
  [0x3b, 5, 0x20],
  [0x3b, 0, 1],
  [0x3b, 6, 1],
];

/** A random ALU instruction word (or two compressed ones) that writes neither ra, sp nor t0. */
function smcWord(r: Rng): number {
  const rd = (): number => {
    for (;;) {
      const v = r.int(32);
      if (v !== 1 && v !== 2 && v !== 5) return v;
    }
  };
  const c = (): number => {
    const d = r.pick([3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 28, 31]);
    const imm = r.range(1, 63);
    const f3 = r.pick([0, 2]); // c.addi, c.li
    return (f3 << 13) | (((imm >> 5) & 1) << 12) | (d << 7) | ((imm & 31) << 2) | 1;
  };
  switch (r.int(5)) {
    case 0: {
      const [opc, f3, f7] = r.pick(SMC_R);
      return (
        ((f7 << 25) | (r.int(32) << 20) | (r.int(32) << 15) | (f3 << 12) | (rd() << 7) | opc) >>> 0
      );
    }
    case 1:
      return (
        ((r.int(4096) << 20) |
          (r.int(32) << 15) |
          (r.pick([0, 2, 3, 4, 6, 7]) << 12) |
          (rd() << 7) |
          0x13) >>>
        0
      );
    case 2:
      return (
        ((r.int(64) << 20) |
          (r.pick([0, 0x400]) << 20) |
          (r.int(32) << 15) |
          (5 << 12) |
          (rd() << 7) |
          0x13) >>>
        0
      );
    case 3:
      return ((r.int(0x100000) << 12) | (rd() << 7) | 0x37) >>> 0;
    default:
      return ((c() << 16) | c()) >>> 0;
  }
}

/** Writes instructions into a buffer, runs them after fence.i, rewrites some, runs again. */
export function genSmc(b: CaseBuilder): void {
  const r = b.r;
  initX(b);
  b.reservedX.add(1);
  b.reservedX.add(5);
  b.emit('lla t0, smcbuf');
  const words: number[] = [];
  for (let round = r.range(1, 3); round > 0; round--) {
    if (words.length === 0) for (let n = r.range(1, 8); n > 0; n--) words.push(smcWord(r));
    else words[r.int(words.length)] = smcWord(r);
    words.forEach((w, i) => b.emit(`li t1, 0x${w.toString(16)}`, `sw t1, ${4 * i}(t0)`));
    b.emit('li t1, 0x8067', `sw t1, ${4 * words.length}(t0)`, 'fence.i', 'jalr ra, 0(t0)');
  }
}
