// Trap causes (mcause/scause codes), interrupt bits and privilege levels.

export const PRIV_U = 0;
export const PRIV_S = 1;
export const PRIV_M = 3;

export const EXC_INST_MISALIGNED = 0;
export const EXC_INST_ACCESS = 1;
export const EXC_ILLEGAL = 2;
export const EXC_BREAKPOINT = 3;
export const EXC_LOAD_MISALIGNED = 4;
export const EXC_LOAD_ACCESS = 5;
export const EXC_STORE_MISALIGNED = 6;
export const EXC_STORE_ACCESS = 7;
export const EXC_ECALL_U = 8;
export const EXC_ECALL_S = 9;
export const EXC_ECALL_M = 11;
export const EXC_INST_PAGE = 12;
export const EXC_LOAD_PAGE = 13;
export const EXC_STORE_PAGE = 15;

export const IRQ_SSI = 1;
export const IRQ_MSI = 3;
export const IRQ_STI = 5;
export const IRQ_MTI = 7;
export const IRQ_SEI = 9;
export const IRQ_MEI = 11;

export const MIP_SSIP = 1 << IRQ_SSI;
export const MIP_MSIP = 1 << IRQ_MSI;
export const MIP_STIP = 1 << IRQ_STI;
export const MIP_MTIP = 1 << IRQ_MTI;
export const MIP_SEIP = 1 << IRQ_SEI;
export const MIP_MEIP = 1 << IRQ_MEI;

/** Memory access kinds, as the MMU and PMP see them. */
export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_FETCH = 2;

/** Thrown inside the hart (never out of it) to abandon the current instruction. */
export class TrapSignal {
  cause = 0;
  tvalLo = 0;
  tvalHi = 0;
  set(cause: number, tvalLo: number, tvalHi: number): this {
    this.cause = cause;
    this.tvalLo = tvalLo | 0;
    this.tvalHi = tvalHi | 0;
    return this;
  }
}
