// Goldfish RTC (google,goldfish-rtc at QEMU virt's 0x101000): wall-clock time
// in nanoseconds since the Unix epoch, plus one alarm with an interrupt.
//
//   const rtc = new GoldfishRtc(wallClockNs, plic.line(IRQ.rtc));
//   bus.map('rtc', VIRT.rtc.base, VIRT.rtc.size, rtc);
//   // between slices: rtc.update(); a sleeping VMM wakes within rtc.nsUntilAlarm()
//
// Registers (32-bit):
//   0x00 TIME_LOW        R: low half of the current time; latches the high half
//                        W: sets the low half of the current time
//   0x04 TIME_HIGH       R: high half latched by the last TIME_LOW read
//                        W: sets the high half of the current time
//   0x08 ALARM_LOW       W: low half of the alarm time, then arms the alarm; R: it
//   0x0c ALARM_HIGH      W/R: high half of the alarm time
//   0x10 IRQ_ENABLED     W/R: bit 0 lets a fired alarm raise the interrupt
//   0x14 CLEAR_ALARM     W: disarms the alarm
//   0x18 ALARM_STATUS    R: 1 while the alarm is armed
//   0x1c CLEAR_INTERRUPT W: lowers the interrupt
// Time written by the guest is kept as an offset from the wall clock, so a
// restored machine keeps the guest's adjustment on the new host's clock.

import type { MmioDevice } from '../bus.js';
import type { WallClockNs } from '../clock.js';
import { NO_IRQ, type IrqLine } from './irq.js';
import type { Persistent } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';
import { i64ToBigInt, u64FromBigInt, u64ToBigInt, type U64 } from '../state/u64.js';

export const RTC_TIME_LOW = 0x00;
export const RTC_TIME_HIGH = 0x04;
export const RTC_ALARM_LOW = 0x08;
export const RTC_ALARM_HIGH = 0x0c;
export const RTC_IRQ_ENABLED = 0x10;
export const RTC_CLEAR_ALARM = 0x14;
export const RTC_ALARM_STATUS = 0x18;
export const RTC_CLEAR_INTERRUPT = 0x1c;

const MASK64 = (1n << 64n) - 1n;

export interface RtcState {
  /** Guest time minus wall-clock time, in ns (signed). */
  offsetNs: U64;
  /** TIME_HIGH as latched by the last TIME_LOW read. */
  timeHigh: number;
  /** The alarm time in ns since the epoch (ALARM_HIGH:ALARM_LOW). */
  alarmNs: U64;
  armed: boolean;
  irqEnabled: boolean;
  /** The alarm fired and the interrupt was not cleared yet. */
  irqPending: boolean;
}

export class GoldfishRtc implements MmioDevice, Persistent<RtcState> {
  readonly stateId = 'goldfish-rtc';
  readonly stateVersion = 1;
  private readonly wall: WallClockNs;
  private readonly irq: IrqLine;
  private offset = 0n;
  private timeHigh = 0;
  private alarmLow = 0;
  private alarmHigh = 0;
  private armed = false;
  private irqEnabled = false;
  private irqPending = false;
  private irqLevel = false;

  /**
   * @param wall wall-clock nanoseconds since the epoch (host time, or a
   *   deterministic clock from the VMM)
   * @param irq the interrupt line (PLIC source IRQ.rtc)
   */
  constructor(wall: WallClockNs, irq: IrqLine = NO_IRQ) {
    this.wall = wall;
    this.irq = irq;
  }

  /** Current RTC time in ns since the epoch. */
  nowNs(): bigint {
    return (this.wall() + this.offset) & MASK64;
  }

  /**
   * Sets the current time to `ns` since the epoch, as a guest's write of TIME_HIGH and
   * TIME_LOW would (the VMM does after a restore, so the RTC reads the host's time again).
   */
  setNowNs(ns: bigint): void {
    this.setTime(ns & MASK64);
  }

  /** Fires the alarm when it is due. The board calls it between slices. */
  update(): void {
    if (this.armed && this.nowNs() >= this.alarmNs()) {
      this.armed = false;
      this.irqPending = true;
      this.updateIrq();
    }
  }

  /** Nanoseconds until the armed alarm is due (0 when overdue), or Infinity when none is armed. */
  nsUntilAlarm(): number {
    if (!this.armed) return Infinity;
    const d = this.alarmNs() - this.nowNs();
    return d > 0n ? Number(d) : 0;
  }

  read(offset: number, _size: number): number {
    switch (offset) {
      case RTC_TIME_LOW: {
        const t = this.nowNs();
        this.timeHigh = Number(t >> 32n);
        return Number(t & 0xffffffffn);
      }
      case RTC_TIME_HIGH:
        return this.timeHigh;
      case RTC_ALARM_LOW:
        return this.alarmLow;
      case RTC_ALARM_HIGH:
        return this.alarmHigh;
      case RTC_IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case RTC_ALARM_STATUS:
        return this.armed ? 1 : 0;
      default:
        return 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    const v = BigInt(value >>> 0);
    switch (offset) {
      case RTC_TIME_LOW:
        this.setTime((this.nowNs() & ~0xffffffffn) | v);
        break;
      case RTC_TIME_HIGH:
        this.setTime((this.nowNs() & 0xffffffffn) | (v << 32n));
        break;
      case RTC_ALARM_LOW:
        this.alarmLow = value >>> 0;
        this.armed = true;
        this.update();
        break;
      case RTC_ALARM_HIGH:
        this.alarmHigh = value >>> 0;
        break;
      case RTC_IRQ_ENABLED:
        this.irqEnabled = (value & 1) !== 0;
        this.updateIrq();
        break;
      case RTC_CLEAR_ALARM:
        this.armed = false;
        break;
      case RTC_CLEAR_INTERRUPT:
        this.irqPending = false;
        this.updateIrq();
        break;
    }
  }

  private setTime(t: bigint): void {
    this.offset = t - this.wall();
  }

  private alarmNs(): bigint {
    return (BigInt(this.alarmHigh) << 32n) | BigInt(this.alarmLow);
  }

  private updateIrq(): void {
    const level = this.irqPending && this.irqEnabled;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  saveState(): RtcState {
    return {
      offsetNs: u64FromBigInt(this.offset),
      timeHigh: this.timeHigh,
      alarmNs: u64FromBigInt(this.alarmNs()),
      armed: this.armed,
      irqEnabled: this.irqEnabled,
      irqPending: this.irqPending,
    };
  }

  checkState(data: unknown): RtcState {
    return StateReader.read(data, (r) => ({
      offsetNs: r.u64('offsetNs'),
      timeHigh: r.int('timeHigh', 0, 0xffffffff),
      alarmNs: r.u64('alarmNs'),
      armed: r.bool('armed'),
      irqEnabled: r.bool('irqEnabled'),
      irqPending: r.bool('irqPending'),
    }));
  }

  /** Takes a checked state: the guest's adjustment applies to this RTC's wall clock. */
  loadState(s: RtcState): void {
    this.offset = i64ToBigInt(s.offsetNs);
    this.timeHigh = s.timeHigh;
    const alarm = u64ToBigInt(s.alarmNs);
    this.alarmLow = Number(alarm & 0xffffffffn);
    this.alarmHigh = Number(alarm >> 32n);
    this.armed = s.armed;
    this.irqEnabled = s.irqEnabled;
    this.irqPending = s.irqPending;
    this.irqLevel = this.irqPending && this.irqEnabled;
    this.irq.set(this.irqLevel);
  }
}
