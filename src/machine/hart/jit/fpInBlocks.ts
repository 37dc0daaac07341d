// Which F and D instructions translated blocks run (fpEmitter.ts), by op and rounding-mode
// field: blockScan.ts ends a block before any other. The fused multiply-adds are left out (wasm
// has no fused multiply-add), and so is an operation that rounds under a static rounding mode
// other than RNE (wasm rounds to nearest-even) or any under the invalid modes 5 and 6.

import { Op } from '../ops.js';
import { RM_DYN, RM_RNE } from '../regs.js';

/** Which rounding modes (bit rm) an op is translated with; absent ops are not translated. */
const RM_OK = new Map<number, number>();
{
  const any = 0xff;
  const valid = 0x9f; // 0..4 and DYN: 5 and 6 are illegal
  const rne = (1 << RM_RNE) | (1 << RM_DYN);
  for (const op of [Op.FLW, Op.FSW, Op.FLD, Op.FSD]) RM_OK.set(op, any);
  for (const op of [
    Op.FSGNJ_S,
    Op.FSGNJN_S,
    Op.FSGNJX_S,
    Op.FSGNJ_D,
    Op.FSGNJN_D,
    Op.FSGNJX_D,
    Op.FMV_X_W,
    Op.FMV_W_X,
    Op.FMV_X_D,
    Op.FMV_D_X,
    Op.FMIN_S,
    Op.FMAX_S,
    Op.FMIN_D,
    Op.FMAX_D,
    Op.FEQ_S,
    Op.FLT_S,
    Op.FLE_S,
    Op.FEQ_D,
    Op.FLT_D,
    Op.FLE_D,
    Op.FCLASS_S,
    Op.FCLASS_D,
  ])
    RM_OK.set(op, any);
  for (const op of [
    Op.FADD_S,
    Op.FSUB_S,
    Op.FMUL_S,
    Op.FDIV_S,
    Op.FSQRT_S,
    Op.FADD_D,
    Op.FSUB_D,
    Op.FMUL_D,
    Op.FDIV_D,
    Op.FSQRT_D,
    Op.FCVT_S_D,
  ])
    RM_OK.set(op, rne);
  for (const op of [
    Op.FCVT_D_S,
    Op.FCVT_D_W,
    Op.FCVT_D_WU,
    Op.FCVT_D_L,
    Op.FCVT_D_LU,
    Op.FCVT_S_W,
    Op.FCVT_S_WU,
    Op.FCVT_S_L,
    Op.FCVT_S_LU,
    Op.FCVT_W_S,
    Op.FCVT_WU_S,
    Op.FCVT_L_S,
    Op.FCVT_LU_S,
    Op.FCVT_W_D,
    Op.FCVT_WU_D,
    Op.FCVT_L_D,
    Op.FCVT_LU_D,
  ])
    RM_OK.set(op, valid);
}

/** Whether blocks translate FP instruction `op` with rounding-mode field `rm`. */
export function fpInBlocks(op: number, rm: number): boolean {
  return (((RM_OK.get(op) ?? 0) >>> rm) & 1) === 1;
}
