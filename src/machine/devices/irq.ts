// Interrupt wiring between devices and harts. Devices never reach for globals:
// a device raising an interrupt is handed an IrqLine (usually from the PLIC),
// and interrupt controllers are handed one HartIrq per hart.

import { MIP_SEIP } from '../hart/causes.js';

/** A level-triggered interrupt input (e.g. a PLIC source). */
export interface IrqLine {
  set(level: boolean): void;
}

/** The interrupt inputs of one hart, as an interrupt controller drives them. */
export interface HartIrq {
  /**
   * Drives the interrupt input `bit` (a MIP_* mask from hart/causes.ts:
   * MIP_MSIP, MIP_MTIP, MIP_MEIP or MIP_SEIP) to `level`.
   */
  setMip(bit: number, level: boolean): void;
}

/** What hartIrq needs of a hart (Hart has these fields). */
export interface HartIrqTarget {
  mip: number;
  seipLine: boolean;
}

/**
 * Adapts a hart to HartIrq: MSIP/MTIP/MEIP set or clear the bit in `hart.mip`,
 * MIP_SEIP drives `hart.seipLine` (the PLIC's S-mode line, kept apart from the
 * software-writable mip.SEIP). `onRaise` runs whenever a line goes high, so
 * the VMM can wake a hart sleeping in WFI.
 */
export function hartIrq(hart: HartIrqTarget, onRaise?: () => void): HartIrq {
  return {
    setMip(bit: number, level: boolean): void {
      if (bit === MIP_SEIP) hart.seipLine = level;
      else if (level) hart.mip |= bit;
      else hart.mip &= ~bit;
      if (level && onRaise) onRaise();
    },
  };
}

/** An IrqLine that goes nowhere (for devices whose interrupt is not wired). */
export const NO_IRQ: IrqLine = { set(): void {} };
