// Test doubles for interrupt wiring: harts that record their interrupt
// inputs, and recording IRQ lines.

import { MIP_SEIP } from '../hart/causes.js';
import type { HartIrq, IrqLine } from './irq.js';

/** A HartIrq that keeps its inputs as a mip value. */
export class FakeHart implements HartIrq {
  mip = 0;
  calls = 0;
  setMip(bit: number, level: boolean): void {
    this.calls++;
    if (level) this.mip |= bit;
    else this.mip &= ~bit;
  }
  has(bit: number): boolean {
    return (this.mip & bit) !== 0;
  }
  get seip(): boolean {
    return this.has(MIP_SEIP);
  }
}

/** An IrqLine that remembers its level and how often it changed. */
export class FakeLine implements IrqLine {
  level = false;
  changes = 0;
  set(level: boolean): void {
    if (level !== this.level) this.changes++;
    this.level = level;
  }
}
