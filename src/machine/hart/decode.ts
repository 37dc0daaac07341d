// RV64GC instruction decoder (with Zba, Zbb, Zbc, Zbs): a pure function from
// an instruction word to an operation id and its fields. Compressed (16-bit) instructions are expanded to
// the operation they stand for. The packed form (two int32 words) is what the
// hart's decode cache stores:
//   word 0: op | rd << 8 | rs1 << 14 | rs2 << 19 | rs3 << 24 | rm << 29
//   word 1: the sign-extended immediate (CSR number for Zicsr, shift amount for shifts)
// rd is 6 bits: an integer destination x0 decodes as 32, a scratch register
// whose value is discarded, so that the executor never has to test rd for zero.

import { FIRST_ZB_OP, LAST_ZB_OP, Op } from './ops.js';

export interface Decoded {
  op: Op;
  rd: number;
  rs1: number;
  rs2: number;
  rs3: number;
  rm: number;
  imm: number;
}

/** Integer register index the executor writes when the architectural rd is x0. */
export const X_DISCARD = 32;

let dOp: Op = Op.ILLEGAL;
let dRd = 0;
let dRs1 = 0;
let dRs2 = 0;
let dRs3 = 0;
let dRm = 0;
let dImm = 0;

function set(op: Op, rd: number, rs1: number, rs2: number, imm: number): void {
  dOp = op;
  dRd = rd;
  dRs1 = rs1;
  dRs2 = rs2;
  dRs3 = 0;
  dRm = 0;
  dImm = imm | 0;
}

function illegal(): void {
  set(Op.ILLEGAL, 0, 0, 0, 0);
}

/** True when `op` writes an integer destination register. */
export function writesIntRd(op: Op): boolean {
  switch (op) {
    case Op.ILLEGAL:
    case Op.BEQ:
    case Op.BNE:
    case Op.BLT:
    case Op.BGE:
    case Op.BLTU:
    case Op.BGEU:
    case Op.SB:
    case Op.SH:
    case Op.SW:
    case Op.SD:
    case Op.FENCE:
    case Op.FENCE_I:
    case Op.ECALL:
    case Op.EBREAK:
    case Op.SRET:
    case Op.MRET:
    case Op.WFI:
    case Op.SFENCE_VMA:
    case Op.FLW:
    case Op.FSW:
    case Op.FLD:
    case Op.FSD:
      return false;
    case Op.FCVT_W_S:
    case Op.FCVT_WU_S:
    case Op.FCVT_L_S:
    case Op.FCVT_LU_S:
    case Op.FMV_X_W:
    case Op.FEQ_S:
    case Op.FLT_S:
    case Op.FLE_S:
    case Op.FCLASS_S:
    case Op.FCVT_W_D:
    case Op.FCVT_WU_D:
    case Op.FCVT_L_D:
    case Op.FCVT_LU_D:
    case Op.FMV_X_D:
    case Op.FEQ_D:
    case Op.FLT_D:
    case Op.FLE_D:
    case Op.FCLASS_D:
      return true;
    default:
      return op < Op.FLW || (op >= FIRST_ZB_OP && op <= LAST_ZB_OP);
  }
}

const BRANCH: readonly Op[] = [Op.BEQ, Op.BNE, 0, 0, Op.BLT, Op.BGE, Op.BLTU, Op.BGEU];
const LOAD: readonly Op[] = [Op.LB, Op.LH, Op.LW, Op.LD, Op.LBU, Op.LHU, Op.LWU, 0];
const STORE: readonly Op[] = [Op.SB, Op.SH, Op.SW, Op.SD, 0, 0, 0, 0];
const OPIMM: readonly Op[] = [Op.ADDI, 0, Op.SLTI, Op.SLTIU, Op.XORI, 0, Op.ORI, Op.ANDI];
const OP0: readonly Op[] = [Op.ADD, Op.SLL, Op.SLT, Op.SLTU, Op.XOR, Op.SRL, Op.OR, Op.AND];
const OPM: readonly Op[] = [Op.MUL, Op.MULH, Op.MULHSU, Op.MULHU, Op.DIV, Op.DIVU, Op.REM, Op.REMU];
const OPM32: readonly Op[] = [Op.MULW, 0, 0, 0, Op.DIVW, Op.DIVUW, Op.REMW, Op.REMUW];
const CSR: readonly Op[] = [0, Op.CSRRW, Op.CSRRS, Op.CSRRC, 0, Op.CSRRWI, Op.CSRRSI, Op.CSRRCI];

/** clzw, ctzw, cpopw by rs2. */
const ZB_COUNTW: readonly Op[] = [Op.CLZW, Op.CTZW, Op.CPOPW];
/** sh1add.uw, sh2add.uw, sh3add.uw by funct3 >> 1. */
const ZBA_UW: readonly Op[] = [0, Op.SH1ADD_UW, Op.SH2ADD_UW, Op.SH3ADD_UW];

/**
 * OP-IMM with funct3 1 or 5 (shifts by a 6-bit amount and the Zbb/Zbs forms
 * that share their space): `top` is imm[11:6], `imm12` the whole immediate.
 */
function shiftImmOp(f3: number, top: number, imm12: number): Op {
  if (f3 === 1) {
    switch (top) {
      case 0x00:
        return Op.SLLI;
      case 0x0a:
        return Op.BSETI;
      case 0x12:
        return Op.BCLRI;
      case 0x1a:
        return Op.BINVI;
      case 0x18:
        switch (imm12) {
          case 0x600:
            return Op.CLZ;
          case 0x601:
            return Op.CTZ;
          case 0x602:
            return Op.CPOP;
          case 0x604:
            return Op.SEXT_B;
          case 0x605:
            return Op.SEXT_H;
        }
    }
    return Op.ILLEGAL;
  }
  switch (top) {
    case 0x00:
      return Op.SRLI;
    case 0x10:
      return Op.SRAI;
    case 0x12:
      return Op.BEXTI;
    case 0x18:
      return Op.RORI;
  }
  if (imm12 === 0x287) return Op.ORC_B;
  if (imm12 === 0x6b8) return Op.REV8;
  return Op.ILLEGAL;
}

/** OP (0x33) register-register forms other than RV64I's funct7 0 and M's funct7 1. */
function zbOp(f7: number, f3: number): Op {
  switch (f7) {
    case 0x20:
      return [Op.SUB, 0, 0, 0, Op.XNOR, Op.SRA, Op.ORN, Op.ANDN][f3];
    case 0x10:
      return [0, 0, Op.SH1ADD, 0, Op.SH2ADD, 0, Op.SH3ADD, 0][f3];
    case 0x05:
      return [0, Op.CLMUL, Op.CLMULR, Op.CLMULH, Op.MIN, Op.MINU, Op.MAX, Op.MAXU][f3];
    case 0x30:
      return f3 === 1 ? Op.ROL : f3 === 5 ? Op.ROR : Op.ILLEGAL;
    case 0x24:
      return f3 === 1 ? Op.BCLR : f3 === 5 ? Op.BEXT : Op.ILLEGAL;
    case 0x14:
      return f3 === 1 ? Op.BSET : Op.ILLEGAL;
    case 0x34:
      return f3 === 1 ? Op.BINV : Op.ILLEGAL;
  }
  return Op.ILLEGAL;
}

function amoOp(f5: number, d: boolean): Op {
  const base = d ? Op.LR_D - Op.LR_W : 0;
  let op: Op;
  switch (f5) {
    case 0x02:
      op = Op.LR_W;
      break;
    case 0x03:
      op = Op.SC_W;
      break;
    case 0x01:
      op = Op.AMOSWAP_W;
      break;
    case 0x00:
      op = Op.AMOADD_W;
      break;
    case 0x04:
      op = Op.AMOXOR_W;
      break;
    case 0x0c:
      op = Op.AMOAND_W;
      break;
    case 0x08:
      op = Op.AMOOR_W;
      break;
    case 0x10:
      op = Op.AMOMIN_W;
      break;
    case 0x14:
      op = Op.AMOMAX_W;
      break;
    case 0x18:
      op = Op.AMOMINU_W;
      break;
    case 0x1c:
      op = Op.AMOMAXU_W;
      break;
    default:
      return Op.ILLEGAL;
  }
  return (op + base) as Op;
}

function decodeOpFp(inst: number, rd: number, f3: number, rs1: number, rs2: number): void {
  const f7 = inst >>> 25;
  const d = (f7 & 1) === 1; // fmt bit 25: 0 = S, 1 = D (fmt 2/3 are unsupported)
  if ((f7 & 2) !== 0) return illegal();
  const S = (s: Op, dd: Op): Op => (d ? dd : s);
  let op: Op = Op.ILLEGAL;
  switch (f7 >> 2) {
    case 0x00:
      op = S(Op.FADD_S, Op.FADD_D);
      break;
    case 0x01:
      op = S(Op.FSUB_S, Op.FSUB_D);
      break;
    case 0x02:
      op = S(Op.FMUL_S, Op.FMUL_D);
      break;
    case 0x03:
      op = S(Op.FDIV_S, Op.FDIV_D);
      break;
    case 0x0b:
      if (rs2 === 0) op = S(Op.FSQRT_S, Op.FSQRT_D);
      break;
    case 0x04:
      if (f3 === 0) op = S(Op.FSGNJ_S, Op.FSGNJ_D);
      else if (f3 === 1) op = S(Op.FSGNJN_S, Op.FSGNJN_D);
      else if (f3 === 2) op = S(Op.FSGNJX_S, Op.FSGNJX_D);
      break;
    case 0x05:
      if (f3 === 0) op = S(Op.FMIN_S, Op.FMIN_D);
      else if (f3 === 1) op = S(Op.FMAX_S, Op.FMAX_D);
      break;
    case 0x08: // fcvt.s.d (f7 0x20, rs2 1) / fcvt.d.s (f7 0x21, rs2 0)
      if (!d && rs2 === 1) op = Op.FCVT_S_D;
      else if (d && rs2 === 0) op = Op.FCVT_D_S;
      break;
    case 0x14:
      if (f3 === 0) op = S(Op.FLE_S, Op.FLE_D);
      else if (f3 === 1) op = S(Op.FLT_S, Op.FLT_D);
      else if (f3 === 2) op = S(Op.FEQ_S, Op.FEQ_D);
      break;
    case 0x18:
      if (rs2 < 4) op = ((d ? Op.FCVT_W_D : Op.FCVT_W_S) + rs2) as Op;
      break;
    case 0x1a:
      if (rs2 < 4) op = ((d ? Op.FCVT_D_W : Op.FCVT_S_W) + rs2) as Op;
      break;
    case 0x1c:
      if (rs2 === 0 && f3 === 0) op = S(Op.FMV_X_W, Op.FMV_X_D);
      else if (rs2 === 0 && f3 === 1) op = S(Op.FCLASS_S, Op.FCLASS_D);
      break;
    case 0x1e:
      if (rs2 === 0 && f3 === 0) op = S(Op.FMV_W_X, Op.FMV_D_X);
      break;
  }
  if (op === Op.ILLEGAL) return illegal();
  set(op, rd, rs1, rs2, 0);
  dRm = f3;
}

function decode32(inst: number): void {
  const opcode = inst & 0x7f;
  const rd = (inst >> 7) & 31;
  const f3 = (inst >> 12) & 7;
  const rs1 = (inst >> 15) & 31;
  const rs2 = (inst >> 20) & 31;
  const f7 = inst >>> 25;
  const immI = inst >> 20;
  switch (opcode) {
    case 0x37:
      return set(Op.LUI, rd, 0, 0, inst & ~0xfff);
    case 0x17:
      return set(Op.AUIPC, rd, 0, 0, inst & ~0xfff);
    case 0x6f: {
      const imm =
        ((inst >> 31) << 20) |
        (((inst >> 12) & 255) << 12) |
        (((inst >> 20) & 1) << 11) |
        (((inst >> 21) & 1023) << 1);
      return set(Op.JAL, rd, 0, 0, imm);
    }
    case 0x67:
      return f3 === 0 ? set(Op.JALR, rd, rs1, 0, immI) : illegal();
    case 0x63: {
      const op = BRANCH[f3];
      if (!op) return illegal();
      const imm =
        ((inst >> 31) << 12) |
        (((inst >> 7) & 1) << 11) |
        (((inst >> 25) & 63) << 5) |
        (((inst >> 8) & 15) << 1);
      return set(op, 0, rs1, rs2, imm);
    }
    case 0x03: {
      const op = LOAD[f3];
      return op ? set(op, rd, rs1, 0, immI) : illegal();
    }
    case 0x23: {
      const op = STORE[f3];
      return op ? set(op, 0, rs1, rs2, ((inst >> 25) << 5) | ((inst >> 7) & 31)) : illegal();
    }
    case 0x13: {
      if (f3 === 1 || f3 === 5) {
        const op = shiftImmOp(f3, inst >>> 26, inst >>> 20);
        return op ? set(op, rd, rs1, 0, (inst >> 20) & 63) : illegal();
      }
      return set(OPIMM[f3], rd, rs1, 0, immI);
    }
    case 0x1b: {
      if (f3 === 0) return set(Op.ADDIW, rd, rs1, 0, immI);
      if (f3 === 1 && f7 === 0) return set(Op.SLLIW, rd, rs1, 0, rs2);
      if (f3 === 5 && f7 === 0) return set(Op.SRLIW, rd, rs1, 0, rs2);
      if (f3 === 5 && f7 === 0x20) return set(Op.SRAIW, rd, rs1, 0, rs2);
      if (f3 === 1 && inst >>> 26 === 0x02) return set(Op.SLLI_UW, rd, rs1, 0, (inst >> 20) & 63);
      if (f3 === 1 && f7 === 0x30 && rs2 < 3) return set(ZB_COUNTW[rs2], rd, rs1, 0, 0);
      if (f3 === 5 && f7 === 0x30) return set(Op.RORIW, rd, rs1, 0, rs2);
      return illegal();
    }
    case 0x33: {
      if (f7 === 0) return set(OP0[f3], rd, rs1, rs2, 0);
      if (f7 === 1) return set(OPM[f3], rd, rs1, rs2, 0);
      const op = zbOp(f7, f3);
      return op ? set(op, rd, rs1, rs2, 0) : illegal();
    }
    case 0x3b: {
      if (f7 === 0 && f3 === 0) return set(Op.ADDW, rd, rs1, rs2, 0);
      if (f7 === 0 && f3 === 1) return set(Op.SLLW, rd, rs1, rs2, 0);
      if (f7 === 0 && f3 === 5) return set(Op.SRLW, rd, rs1, rs2, 0);
      if (f7 === 0x20 && f3 === 0) return set(Op.SUBW, rd, rs1, rs2, 0);
      if (f7 === 0x20 && f3 === 5) return set(Op.SRAW, rd, rs1, rs2, 0);
      if (f7 === 1 && OPM32[f3]) return set(OPM32[f3], rd, rs1, rs2, 0);
      if (f7 === 0x04 && f3 === 0) return set(Op.ADD_UW, rd, rs1, rs2, 0);
      if (f7 === 0x04 && f3 === 4 && rs2 === 0) return set(Op.ZEXT_H, rd, rs1, 0, 0);
      if (f7 === 0x10 && (f3 === 2 || f3 === 4 || f3 === 6))
        return set(ZBA_UW[f3 >> 1], rd, rs1, rs2, 0);
      if (f7 === 0x30 && f3 === 1) return set(Op.ROLW, rd, rs1, rs2, 0);
      if (f7 === 0x30 && f3 === 5) return set(Op.RORW, rd, rs1, rs2, 0);
      return illegal();
    }
    case 0x0f:
      if (f3 === 0) return set(Op.FENCE, 0, 0, 0, 0);
      if (f3 === 1) return set(Op.FENCE_I, 0, 0, 0, 0);
      return illegal();
    case 0x73: {
      if (f3 === 0) {
        if (inst === 0x00000073) return set(Op.ECALL, 0, 0, 0, 0);
        if (inst === 0x00100073) return set(Op.EBREAK, 0, 0, 0, 0);
        if (inst === 0x10200073) return set(Op.SRET, 0, 0, 0, 0);
        if (inst === 0x30200073) return set(Op.MRET, 0, 0, 0, 0);
        if (inst === 0x10500073) return set(Op.WFI, 0, 0, 0, 0);
        if (f7 === 0x09 && rd === 0) return set(Op.SFENCE_VMA, 0, rs1, rs2, 0);
        return illegal();
      }
      const op = CSR[f3];
      return op ? set(op, rd, rs1, 0, inst >>> 20) : illegal();
    }
    case 0x2f: {
      if (f3 !== 2 && f3 !== 3) return illegal();
      const f5 = inst >>> 27;
      if (f5 === 0x02 && rs2 !== 0) return illegal();
      const op = amoOp(f5, f3 === 3);
      return op ? set(op, rd, rs1, rs2, 0) : illegal();
    }
    case 0x07:
      if (f3 === 2) return set(Op.FLW, rd, rs1, 0, immI);
      if (f3 === 3) return set(Op.FLD, rd, rs1, 0, immI);
      return illegal();
    case 0x27: {
      const imm = ((inst >> 25) << 5) | ((inst >> 7) & 31);
      if (f3 === 2) return set(Op.FSW, 0, rs1, rs2, imm);
      if (f3 === 3) return set(Op.FSD, 0, rs1, rs2, imm);
      return illegal();
    }
    case 0x43:
    case 0x47:
    case 0x4b:
    case 0x4f: {
      const fmt = (inst >> 25) & 3;
      if (fmt > 1) return illegal();
      const k = (opcode - 0x43) >> 2; // 0 madd, 1 msub, 2 nmsub, 3 nmadd
      set(((fmt ? Op.FMADD_D : Op.FMADD_S) + k) as Op, rd, rs1, rs2, 0);
      dRs3 = inst >>> 27;
      dRm = f3;
      return;
    }
    case 0x53:
      return decodeOpFp(inst, rd, f3, rs1, rs2);
    default:
      return illegal();
  }
}

function decode16(i: number): void {
  const q = i & 3;
  const f3 = (i >> 13) & 7;
  const b12 = (i >> 12) & 1;
  const r7 = (i >> 7) & 31; // rd / rs1 (full)
  const r2 = (i >> 2) & 31; // rs2 (full)
  const p7 = 8 + ((i >> 7) & 7); // rs1' / rd'
  const p2 = 8 + ((i >> 2) & 7); // rs2' / rd'
  const imm6 = ((b12 << 31) >> 26) | r2; // sign-extended 6-bit immediate
  if (q === 0) {
    const uimmW = (((i >> 10) & 7) << 3) | (((i >> 6) & 1) << 2) | (((i >> 5) & 1) << 6);
    const uimmD = (((i >> 10) & 7) << 3) | (((i >> 5) & 3) << 6);
    switch (f3) {
      case 0: {
        const nz =
          (((i >> 11) & 3) << 4) |
          (((i >> 7) & 15) << 6) |
          (((i >> 6) & 1) << 2) |
          (((i >> 5) & 1) << 3);
        return nz === 0 ? illegal() : set(Op.ADDI, p2, 2, 0, nz);
      }
      case 1:
        return set(Op.FLD, p2, p7, 0, uimmD);
      case 2:
        return set(Op.LW, p2, p7, 0, uimmW);
      case 3:
        return set(Op.LD, p2, p7, 0, uimmD);
      case 5:
        return set(Op.FSD, 0, p7, p2, uimmD);
      case 6:
        return set(Op.SW, 0, p7, p2, uimmW);
      case 7:
        return set(Op.SD, 0, p7, p2, uimmD);
      default:
        return illegal();
    }
  }
  if (q === 1) {
    switch (f3) {
      case 0:
        return set(Op.ADDI, r7, r7, 0, imm6);
      case 1:
        return r7 === 0 ? illegal() : set(Op.ADDIW, r7, r7, 0, imm6);
      case 2:
        return set(Op.ADDI, r7, 0, 0, imm6);
      case 3: {
        if (r7 === 2) {
          const nz =
            ((b12 << 31) >> 22) |
            (((i >> 6) & 1) << 4) |
            (((i >> 5) & 1) << 6) |
            (((i >> 3) & 3) << 7) |
            (((i >> 2) & 1) << 5);
          return nz === 0 ? illegal() : set(Op.ADDI, 2, 2, 0, nz);
        }
        const nz = ((b12 << 31) >> 14) | (r2 << 12);
        return nz === 0 ? illegal() : set(Op.LUI, r7, 0, 0, nz);
      }
      case 4: {
        const f2 = (i >> 10) & 3;
        const shamt = (b12 << 5) | r2;
        if (f2 === 0) return set(Op.SRLI, p7, p7, 0, shamt);
        if (f2 === 1) return set(Op.SRAI, p7, p7, 0, shamt);
        if (f2 === 2) return set(Op.ANDI, p7, p7, 0, imm6);
        const g = (i >> 5) & 3;
        if (b12 === 0) return set([Op.SUB, Op.XOR, Op.OR, Op.AND][g], p7, p7, p2, 0);
        if (g === 0) return set(Op.SUBW, p7, p7, p2, 0);
        if (g === 1) return set(Op.ADDW, p7, p7, p2, 0);
        return illegal();
      }
      case 5: {
        const imm =
          ((b12 << 31) >> 20) |
          (((i >> 11) & 1) << 4) |
          (((i >> 9) & 3) << 8) |
          (((i >> 8) & 1) << 10) |
          (((i >> 7) & 1) << 6) |
          (((i >> 6) & 1) << 7) |
          (((i >> 3) & 7) << 1) |
          (((i >> 2) & 1) << 5);
        return set(Op.JAL, 0, 0, 0, imm);
      }
      default: {
        const imm =
          ((b12 << 31) >> 23) |
          (((i >> 10) & 3) << 3) |
          (((i >> 5) & 3) << 6) |
          (((i >> 3) & 3) << 1) |
          (((i >> 2) & 1) << 5);
        return set(f3 === 6 ? Op.BEQ : Op.BNE, 0, p7, 0, imm);
      }
    }
  }
  // quadrant 2
  switch (f3) {
    case 0:
      return set(Op.SLLI, r7, r7, 0, (b12 << 5) | r2);
    case 1:
      return set(Op.FLD, r7, 2, 0, (b12 << 5) | (((i >> 5) & 3) << 3) | (((i >> 2) & 7) << 6));
    case 2:
      return r7 === 0
        ? illegal()
        : set(Op.LW, r7, 2, 0, (b12 << 5) | (((i >> 4) & 7) << 2) | (((i >> 2) & 3) << 6));
    case 3:
      return r7 === 0
        ? illegal()
        : set(Op.LD, r7, 2, 0, (b12 << 5) | (((i >> 5) & 3) << 3) | (((i >> 2) & 7) << 6));
    case 4:
      if (b12 === 0) {
        if (r2 === 0) return r7 === 0 ? illegal() : set(Op.JALR, 0, r7, 0, 0);
        return set(Op.ADD, r7, 0, r2, 0);
      }
      if (r2 === 0) return r7 === 0 ? set(Op.EBREAK, 0, 0, 0, 0) : set(Op.JALR, 1, r7, 0, 0);
      return set(Op.ADD, r7, r7, r2, 0);
    case 5:
      return set(Op.FSD, 0, 2, r2, (((i >> 10) & 7) << 3) | (((i >> 7) & 7) << 6));
    case 6:
      return set(Op.SW, 0, 2, r2, (((i >> 9) & 15) << 2) | (((i >> 7) & 3) << 6));
    default:
      return set(Op.SD, 0, 2, r2, (((i >> 10) & 7) << 3) | (((i >> 7) & 7) << 6));
  }
}

function run(inst: number): void {
  if ((inst & 3) === 3) decode32(inst | 0);
  else if ((inst & 0xffff) === 0) illegal();
  else decode16(inst & 0xffff);
  if (dRd === 0 && writesIntRd(dOp)) dRd = X_DISCARD;
}

/** Decodes `inst` (a 32-bit word, or a 16-bit parcel in its low half) into `out[at]`, `out[at+1]`. */
export function decodeInto(inst: number, out: Int32Array, at: number): void {
  run(inst);
  out[at] = dOp | (dRd << 8) | (dRs1 << 14) | (dRs2 << 19) | (dRs3 << 24) | (dRm << 29);
  out[at + 1] = dImm;
}

/** Decodes `inst` into a plain object (for tests, tracing and tools). */
export function decode(inst: number): Decoded {
  run(inst);
  return { op: dOp, rd: dRd, rs1: dRs1, rs2: dRs2, rs3: dRs3, rm: dRm, imm: dImm };
}

/** Length in bytes of the instruction whose first parcel is `parcel`. */
export function instLength(parcel: number): 2 | 4 {
  return (parcel & 3) === 3 ? 4 : 2;
}
