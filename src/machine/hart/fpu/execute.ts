// Entry point of the floating-point unit: executes one instruction of the F/D
// computational group (Op.FMADD_S .. Op.FCVT_D_S; loads and stores are the
// hart's). rm is already resolved (0..4); integer destinations may be the
// discard slot 32; flags accrue into f.flags. Setting mstatus.FS is the hart's.

import { Op } from '../ops.js';
import { FpRegs, IntRegs } from '../regs.js';
import { addD, divD, mulD, sqrtD } from './arith64.js';
import { addS, divS, mulS, sqrtS } from './arith32.js';
import { SGNJ, SGNJN, SGNJX, mvDX, mvWX, mvXD, mvXW, sgnjD, sgnjS } from './bitops.js';
import { classD, classS, eqD, eqS, ltD, ltS, minMaxD, minMaxS } from './compare.js';
import {
  CVT_L,
  CVT_LU,
  CVT_W,
  CVT_WU,
  dToS,
  floatToInt,
  int32ToD,
  int32ToS,
  int64ToD,
  int64ToS,
  sToD,
} from './convert.js';
import { fmaD, fmaS } from './fma.js';
import { readS } from './operands.js';

/** Ops that carry a rounding-mode field. */
export const HAS_RM = new Uint8Array(Op.COUNT);
for (const op of [
  Op.FMADD_S,
  Op.FMSUB_S,
  Op.FNMSUB_S,
  Op.FNMADD_S,
  Op.FADD_S,
  Op.FSUB_S,
  Op.FMUL_S,
  Op.FDIV_S,
  Op.FSQRT_S,
  Op.FCVT_W_S,
  Op.FCVT_WU_S,
  Op.FCVT_L_S,
  Op.FCVT_LU_S,
  Op.FCVT_S_W,
  Op.FCVT_S_WU,
  Op.FCVT_S_L,
  Op.FCVT_S_LU,
  Op.FMADD_D,
  Op.FMSUB_D,
  Op.FNMSUB_D,
  Op.FNMADD_D,
  Op.FADD_D,
  Op.FSUB_D,
  Op.FMUL_D,
  Op.FDIV_D,
  Op.FSQRT_D,
  Op.FCVT_W_D,
  Op.FCVT_WU_D,
  Op.FCVT_L_D,
  Op.FCVT_LU_D,
  Op.FCVT_D_W,
  Op.FCVT_D_WU,
  Op.FCVT_D_L,
  Op.FCVT_D_LU,
  Op.FCVT_S_D,
  Op.FCVT_D_S,
]) {
  HAS_RM[op] = 1;
}

export function executeFp(
  op: Op,
  rd: number,
  rs1: number,
  rs2: number,
  rs3: number,
  rm: number,
  x: IntRegs,
  f: FpRegs,
): void {
  switch (op) {
    case Op.FMADD_S:
      return fmaS(f, rd, rs1, rs2, rs3, false, false, rm);
    case Op.FMSUB_S:
      return fmaS(f, rd, rs1, rs2, rs3, false, true, rm);
    case Op.FNMSUB_S:
      return fmaS(f, rd, rs1, rs2, rs3, true, false, rm);
    case Op.FNMADD_S:
      return fmaS(f, rd, rs1, rs2, rs3, true, true, rm);
    case Op.FADD_S:
      return addS(f, rd, rs1, rs2, false, rm);
    case Op.FSUB_S:
      return addS(f, rd, rs1, rs2, true, rm);
    case Op.FMUL_S:
      return mulS(f, rd, rs1, rs2, rm);
    case Op.FDIV_S:
      return divS(f, rd, rs1, rs2, rm);
    case Op.FSQRT_S:
      return sqrtS(f, rd, rs1, rm);
    case Op.FSGNJ_S:
      return sgnjS(f, rd, rs1, rs2, SGNJ);
    case Op.FSGNJN_S:
      return sgnjS(f, rd, rs1, rs2, SGNJN);
    case Op.FSGNJX_S:
      return sgnjS(f, rd, rs1, rs2, SGNJX);
    case Op.FMIN_S:
      return minMaxS(f, rd, rs1, rs2, false);
    case Op.FMAX_S:
      return minMaxS(f, rd, rs1, rs2, true);
    case Op.FCVT_W_S:
      return floatToInt(f, x, rd, readS(f, rs1), CVT_W, rm);
    case Op.FCVT_WU_S:
      return floatToInt(f, x, rd, readS(f, rs1), CVT_WU, rm);
    case Op.FCVT_L_S:
      return floatToInt(f, x, rd, readS(f, rs1), CVT_L, rm);
    case Op.FCVT_LU_S:
      return floatToInt(f, x, rd, readS(f, rs1), CVT_LU, rm);
    case Op.FMV_X_W:
      return mvXW(f, x, rd, rs1);
    case Op.FEQ_S:
      return eqS(f, x, rd, rs1, rs2);
    case Op.FLT_S:
      return ltS(f, x, rd, rs1, rs2, false);
    case Op.FLE_S:
      return ltS(f, x, rd, rs1, rs2, true);
    case Op.FCLASS_S:
      return classS(f, x, rd, rs1);
    case Op.FCVT_S_W:
      return int32ToS(f, x, rd, rs1, false, rm);
    case Op.FCVT_S_WU:
      return int32ToS(f, x, rd, rs1, true, rm);
    case Op.FCVT_S_L:
      return int64ToS(f, x, rd, rs1, false, rm);
    case Op.FCVT_S_LU:
      return int64ToS(f, x, rd, rs1, true, rm);
    case Op.FMV_W_X:
      return mvWX(f, x, rd, rs1);
    case Op.FMADD_D:
      return fmaD(f, rd, rs1, rs2, rs3, false, false, rm);
    case Op.FMSUB_D:
      return fmaD(f, rd, rs1, rs2, rs3, false, true, rm);
    case Op.FNMSUB_D:
      return fmaD(f, rd, rs1, rs2, rs3, true, false, rm);
    case Op.FNMADD_D:
      return fmaD(f, rd, rs1, rs2, rs3, true, true, rm);
    case Op.FADD_D:
      return addD(f, rd, rs1, rs2, false, rm);
    case Op.FSUB_D:
      return addD(f, rd, rs1, rs2, true, rm);
    case Op.FMUL_D:
      return mulD(f, rd, rs1, rs2, rm);
    case Op.FDIV_D:
      return divD(f, rd, rs1, rs2, rm);
    case Op.FSQRT_D:
      return sqrtD(f, rd, rs1, rm);
    case Op.FSGNJ_D:
      return sgnjD(f, rd, rs1, rs2, SGNJ);
    case Op.FSGNJN_D:
      return sgnjD(f, rd, rs1, rs2, SGNJN);
    case Op.FSGNJX_D:
      return sgnjD(f, rd, rs1, rs2, SGNJX);
    case Op.FMIN_D:
      return minMaxD(f, rd, rs1, rs2, false);
    case Op.FMAX_D:
      return minMaxD(f, rd, rs1, rs2, true);
    case Op.FCVT_W_D:
      return floatToInt(f, x, rd, f.f64[rs1], CVT_W, rm);
    case Op.FCVT_WU_D:
      return floatToInt(f, x, rd, f.f64[rs1], CVT_WU, rm);
    case Op.FCVT_L_D:
      return floatToInt(f, x, rd, f.f64[rs1], CVT_L, rm);
    case Op.FCVT_LU_D:
      return floatToInt(f, x, rd, f.f64[rs1], CVT_LU, rm);
    case Op.FMV_X_D:
      return mvXD(f, x, rd, rs1);
    case Op.FEQ_D:
      return eqD(f, x, rd, rs1, rs2);
    case Op.FLT_D:
      return ltD(f, x, rd, rs1, rs2, false);
    case Op.FLE_D:
      return ltD(f, x, rd, rs1, rs2, true);
    case Op.FCLASS_D:
      return classD(f, x, rd, rs1);
    case Op.FCVT_D_W:
      return int32ToD(f, x, rd, rs1, false);
    case Op.FCVT_D_WU:
      return int32ToD(f, x, rd, rs1, true);
    case Op.FCVT_D_L:
      return int64ToD(f, x, rd, rs1, false, rm);
    case Op.FCVT_D_LU:
      return int64ToD(f, x, rd, rs1, true, rm);
    case Op.FMV_D_X:
      return mvDX(f, x, rd, rs1);
    case Op.FCVT_S_D:
      return dToS(f, rd, rs1, rm);
    case Op.FCVT_D_S:
      return sToD(f, rd, rs1);
  }
}
