// NS16550A UART (QEMU virt's serial@10000000: byte registers, reg-shift 0).
//
//   const uart = new Uart16550(backend, plic.line(IRQ.uart0));
//   bus.map('uart0', VIRT.uart0.base, VIRT.uart0.size, uart);
//   // host input: n = uart.receive(bytes) takes at most uart.rxSpace() bytes;
//   // keep the rest and offer it again when backend.rxDrained() is called
//   // (or between slices). Nothing is dropped.
//
// Transmission is instantaneous: each byte written to THR goes to
// backend.write at once, so THRE and TEMT always read 1. Receive has a 16-byte
// FIFO (1 byte with FIFOs off). Interrupts, highest priority first, as the IIR
// identifies them:
//   0x6 receiver line status  IER.ELSI and LSR.OE      cleared by reading LSR
//   0x4 received data         IER.ERBFI, RX level >= trigger (1 with FIFOs off)
//                                                     cleared when the level drops
//   0xc character timeout     IER.ERBFI, FIFOs on, 0 < RX level < trigger. The
//                             "4 character times without a read" elapse at once:
//                             the host delivers input in bursts.
//   0x2 THR empty             IER.ETBEI and the THRE latch, which is set by a
//                             write to THR (it empties at once), by enabling
//                             ETBEI, by a TX FIFO reset; cleared by reading IIR
//                             while it is the identified source, or by
//                             disabling ETBEI
//   0x0 modem status          IER.EDSSI and a delta bit in MSR; cleared by reading MSR
// Loopback (MCR bit 4) feeds THR back into the RX FIFO and MCR's DTR/RTS/OUT1/
// OUT2 into MSR's DSR/CTS/RI/DCD; host input is refused meanwhile. Outside
// loopback the modem lines read as DCD, DSR and CTS asserted.

import type { MmioDevice } from '../bus.js';
import { NO_IRQ, type IrqLine } from './irq.js';
import { StateError, type Persistent } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';

/** The host side of a serial port. */
export interface CharBackend {
  /** Called with each byte the guest transmits. */
  write(byte: number): void;
  /** Called when the guest has emptied the receive FIFO: a good time to call receive() again. */
  rxDrained?(): void;
}
/** Older name of CharBackend. */
export type CharSink = CharBackend;

export const UART_RBR = 0; // read, DLAB=0
export const UART_THR = 0; // write, DLAB=0
export const UART_DLL = 0; // DLAB=1
export const UART_IER = 1; // DLAB=0
export const UART_DLM = 1; // DLAB=1
export const UART_IIR = 2; // read
export const UART_FCR = 2; // write
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;

export const IER_ERBFI = 0x01;
export const IER_ETBEI = 0x02;
export const IER_ELSI = 0x04;
export const IER_EDSSI = 0x08;

export const IIR_NO_INT = 0x01;
export const IIR_MSI = 0x00;
export const IIR_THRI = 0x02;
export const IIR_RDI = 0x04;
export const IIR_RLSI = 0x06;
export const IIR_CTI = 0x0c;
export const IIR_FIFO_ENABLED = 0xc0;

export const FCR_ENABLE = 0x01;
export const FCR_CLEAR_RX = 0x02;
export const FCR_CLEAR_TX = 0x04;

export const LCR_DLAB = 0x80;

export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;

export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;

export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;

export const UART_FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];

export interface UartState {
  ier: number;
  lcr: number;
  mcr: number;
  scr: number;
  dll: number;
  dlm: number;
  /** FIFOs enabled (FCR bit 0). */
  fifo: boolean;
  /** FCR bits 7:6, the RX trigger level selector. */
  trigger: number;
  /** Sticky LSR error bits: 0 or OE (2). */
  lsrErrors: number;
  /** MSR (status and delta bits). */
  msr: number;
  /** THR-empty interrupt latch. */
  thrIp: boolean;
  /** Bytes in the receive FIFO, oldest first. */
  rx: number[];
}

export class Uart16550 implements MmioDevice, Persistent<UartState> {
  readonly stateId = 'ns16550a';
  readonly stateVersion = 1;
  private readonly out: CharBackend;
  private readonly irq: IrqLine;
  private readonly rxBuf = new Uint8Array(UART_FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  private fifo = false;
  private trigger = 0;
  private lsrErrors = 0;
  private msr = MSR_DCD | MSR_DSR | MSR_CTS;
  private thrIp = false;
  private irqLevel = false;

  /**
   * @param out host side: receives transmitted bytes
   * @param irq the interrupt line (a PLIC source); none by default (polled use)
   */
  constructor(out: CharBackend, irq: IrqLine = NO_IRQ) {
    this.out = out;
    this.irq = irq;
  }

  /** Bytes the receive FIFO can take now (0 in loopback mode). */
  rxSpace(): number {
    if ((this.mcr & MCR_LOOP) !== 0) return 0;
    return this.capacity() - this.rxCount;
  }

  /** Puts host input into the receive FIFO; returns how many bytes were taken (at most rxSpace()). */
  receive(bytes: ArrayLike<number>): number {
    const n = Math.min(bytes.length, this.rxSpace());
    for (let i = 0; i < n; i++) this.pushRx(bytes[i] & 0xff);
    if (n > 0) this.updateIrq();
    return n;
  }

  read(offset: number, _size: number): number {
    let v = 0;
    switch (offset) {
      case 0:
        v = (this.lcr & LCR_DLAB) !== 0 ? this.dll : this.readRbr();
        break;
      case 1:
        v = (this.lcr & LCR_DLAB) !== 0 ? this.dlm : this.ier;
        break;
      case 2:
        v = this.iir();
        if ((v & 0x0f) === IIR_THRI) this.thrIp = false;
        break;
      case 3:
        v = this.lcr;
        break;
      case 4:
        v = this.mcr;
        break;
      case 5:
        v = this.lsr();
        this.lsrErrors = 0;
        break;
      case 6:
        v = this.msr;
        this.msr &= 0xf0;
        break;
      case 7:
        v = this.scr;
        break;
      default:
        return 0;
    }
    this.updateIrq();
    return v;
  }

  write(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case 0:
        if ((this.lcr & LCR_DLAB) !== 0) this.dll = v;
        else this.writeThr(v);
        break;
      case 1:
        if ((this.lcr & LCR_DLAB) !== 0) {
          this.dlm = v;
        } else {
          const old = this.ier;
          this.ier = v & 0x0f;
          const changed = old ^ this.ier;
          if ((changed & IER_ETBEI) !== 0) this.thrIp = (this.ier & IER_ETBEI) !== 0;
        }
        break;
      case 2:
        this.writeFcr(v);
        break;
      case 3:
        this.lcr = v;
        break;
      case 4:
        this.writeMcr(v & 0x1f);
        break;
      case 7:
        this.scr = v;
        break;
      default:
        return; // LSR and MSR are read-only
    }
    this.updateIrq();
  }

  private capacity(): number {
    return this.fifo ? UART_FIFO_SIZE : 1;
  }

  private pushRx(b: number): void {
    if (this.rxCount >= this.capacity()) {
      this.lsrErrors |= LSR_OE; // the new byte is lost, as on the chip
      return;
    }
    this.rxBuf[(this.rxHead + this.rxCount) % UART_FIFO_SIZE] = b;
    this.rxCount++;
  }

  private readRbr(): number {
    if (this.rxCount === 0) return 0;
    const b = this.rxBuf[this.rxHead];
    this.rxHead = (this.rxHead + 1) % UART_FIFO_SIZE;
    this.rxCount--;
    if (this.rxCount === 0) this.out.rxDrained?.();
    return b;
  }

  private writeThr(v: number): void {
    if ((this.mcr & MCR_LOOP) !== 0) this.pushRx(v);
    else this.out.write(v);
    this.thrIp = true; // the transmitter is empty again at once
  }

  private writeFcr(v: number): void {
    const enable = (v & FCR_ENABLE) !== 0;
    if (enable !== this.fifo) {
      // Switching FIFO mode on or off empties both FIFOs.
      this.fifo = enable;
      this.clearRx();
    }
    if (!enable) return; // other FCR bits are only written with bit 0 set
    this.trigger = v >>> 6;
    if ((v & FCR_CLEAR_RX) !== 0) this.clearRx();
    if ((v & FCR_CLEAR_TX) !== 0) this.thrIp = true;
  }

  private clearRx(): void {
    const had = this.rxCount > 0;
    this.rxHead = 0;
    this.rxCount = 0;
    if (had) this.out.rxDrained?.();
  }

  private writeMcr(v: number): void {
    const was = this.modemStatus();
    this.mcr = v;
    const now = this.modemStatus();
    let delta = 0;
    if ((was ^ now) & MSR_CTS) delta |= MSR_DCTS;
    if ((was ^ now) & MSR_DSR) delta |= MSR_DDSR;
    if (was & MSR_RI && !(now & MSR_RI)) delta |= MSR_TERI;
    if ((was ^ now) & MSR_DCD) delta |= MSR_DDCD;
    this.msr = now | (this.msr & 0x0f) | delta;
  }

  /** MSR status bits (7:4) as the modem lines are now. */
  private modemStatus(): number {
    if ((this.mcr & MCR_LOOP) === 0) return MSR_DCD | MSR_DSR | MSR_CTS;
    let s = 0;
    if (this.mcr & MCR_DTR) s |= MSR_DSR;
    if (this.mcr & MCR_RTS) s |= MSR_CTS;
    if (this.mcr & MCR_OUT1) s |= MSR_RI;
    if (this.mcr & MCR_OUT2) s |= MSR_DCD;
    return s;
  }

  private lsr(): number {
    return LSR_THRE | LSR_TEMT | this.lsrErrors | (this.rxCount > 0 ? LSR_DR : 0);
  }

  /** IIR value for the highest-priority pending interrupt. */
  private iir(): number {
    const fifoBits = this.fifo ? IIR_FIFO_ENABLED : 0;
    return fifoBits | this.interruptId();
  }

  private interruptId(): number {
    const ier = this.ier;
    if ((ier & IER_ELSI) !== 0 && this.lsrErrors !== 0) return IIR_RLSI;
    if ((ier & IER_ERBFI) !== 0 && this.rxCount > 0) {
      if (!this.fifo || this.rxCount >= TRIGGER_LEVELS[this.trigger]) return IIR_RDI;
      return IIR_CTI;
    }
    if ((ier & IER_ETBEI) !== 0 && this.thrIp) return IIR_THRI;
    if ((ier & IER_EDSSI) !== 0 && (this.msr & 0x0f) !== 0) return IIR_MSI;
    return IIR_NO_INT;
  }

  private updateIrq(): void {
    const level = this.interruptId() !== IIR_NO_INT;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  saveState(): UartState {
    const rx: number[] = [];
    for (let i = 0; i < this.rxCount; i++) rx.push(this.rxBuf[(this.rxHead + i) % UART_FIFO_SIZE]);
    return {
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      fifo: this.fifo,
      trigger: this.trigger,
      lsrErrors: this.lsrErrors,
      msr: this.msr,
      thrIp: this.thrIp,
      rx,
    };
  }

  checkState(data: unknown): UartState {
    return StateReader.read(data, (r) => {
      const fifo = r.bool('fifo');
      const s: UartState = {
        ier: r.int('ier', 0, 0x0f),
        lcr: r.int('lcr', 0, 0xff),
        mcr: r.int('mcr', 0, 0x1f),
        scr: r.int('scr', 0, 0xff),
        dll: r.int('dll', 0, 0xff),
        dlm: r.int('dlm', 0, 0xff),
        fifo,
        trigger: r.int('trigger', 0, 3),
        lsrErrors: r.int('lsrErrors', 0, LSR_OE),
        msr: r.int('msr', 0, 0xff),
        thrIp: r.bool('thrIp'),
        rx: r.ints('rx', 0, fifo ? UART_FIFO_SIZE : 1, 0, 0xff),
      };
      if (s.lsrErrors !== 0 && s.lsrErrors !== LSR_OE) {
        throw new StateError(`lsrErrors must be 0 or ${LSR_OE} (OE), got ${s.lsrErrors}`);
      }
      return s;
    });
  }

  /** Takes a checked state and drives the interrupt line to match it. */
  loadState(s: UartState): void {
    this.ier = s.ier;
    this.lcr = s.lcr;
    this.mcr = s.mcr;
    this.scr = s.scr;
    this.dll = s.dll;
    this.dlm = s.dlm;
    this.fifo = s.fifo;
    this.trigger = s.trigger;
    this.lsrErrors = s.lsrErrors;
    this.msr = s.msr;
    this.thrIp = s.thrIp;
    this.rxHead = 0;
    this.rxCount = 0;
    for (const b of s.rx) this.pushRx(b);
    this.irqLevel = this.interruptId() !== IIR_NO_INT;
    this.irq.set(this.irqLevel);
  }
}
