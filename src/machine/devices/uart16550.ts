// NS16550A UART, transmit side: the guest writes bytes to THR and polls LSR.
// (Receive, FIFOs and interrupts arrive with the virt board.)

import type { MmioDevice } from '../bus.js';

const THR = 0;
const LSR = 5;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

export interface CharSink {
  write(byte: number): void;
}

export class Uart16550 implements MmioDevice {
  private readonly regs = new Uint8Array(8);

  constructor(private readonly out: CharSink) {}

  read(offset: number): number {
    if (offset === LSR) return LSR_THRE | LSR_TEMT;
    return offset < 8 ? this.regs[offset] : 0;
  }

  write(offset: number, _size: number, value: number): void {
    if (offset === THR) this.out.write(value & 0xff);
    else if (offset < 8) this.regs[offset] = value & 0xff;
  }
}
