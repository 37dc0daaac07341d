// The test driver (virtioTestDriver.ts) over virtio-pci, as a guest driver finds and drives a
// function: through the host's ECAM window it reads the identity, walks the capability list
// for the virtio structures, sizes BAR 4 by writing all-ones, places it in the memory window
// and turns memory decoding on; then it negotiates and sets up queues through the common
// configuration and notifies at queue_notify_off * notify_off_multiplier, all through the
// host's memory window.

import type { MmioDevice } from '../bus.js';
import { COMMAND_MEMORY, PCI } from '../pci/configSpace.js';
import type { PciHost } from '../pci/pciHost.js';
import type { Ram } from '../ram.js';
import { CAP, COMMON, PCI_CAP_VENDOR } from './pci.js';
import { STATUS_ACKNOWLEDGE, STATUS_DRIVER } from './device.js';
import { RingDriver, type TestQueue } from './virtioTestDriver.js';

export interface VirtioCapFound {
  at: number;
  type: number;
  bar: number;
  offset: number;
  length: number;
  /** notify_off_multiplier, for the notify capability. */
  multiplier?: number;
}

export class PciTestDriver extends RingDriver {
  readonly window: MmioDevice;
  /** Where the driver put BAR 4 (a PCI address inside the window). */
  barBase = 0;
  caps: VirtioCapFound[] = [];

  /**
   * @param device the function's device number on bus 0
   * @param windowBase the PCI address of the memory window's first byte
   */
  constructor(
    ram: Ram,
    readonly host: PciHost,
    readonly device: number,
    readonly windowBase = 0x40000000,
    heap?: number,
  ) {
    super(ram, heap);
    this.window = host.window('mem', windowBase);
  }

  cfgRead(reg: number, size: number): number {
    return this.host.ecam.read((this.device << 15) | reg, size);
  }

  cfgWrite(reg: number, size: number, value: number): void {
    this.host.ecam.write((this.device << 15) | reg, size, value);
  }

  /** Walks the capability list: every vendor-specific (virtio) capability. */
  findCaps(): VirtioCapFound[] {
    const out: VirtioCapFound[] = [];
    const seen = new Set<number>();
    for (let at = this.cfgRead(PCI.capabilities, 1); at !== 0; at = this.cfgRead(at + 1, 1)) {
      if (seen.has(at)) throw new Error(`capability list loops at 0x${at.toString(16)}`);
      seen.add(at);
      if (this.cfgRead(at, 1) !== PCI_CAP_VENDOR) continue;
      const cap: VirtioCapFound = {
        at,
        type: this.cfgRead(at + 3, 1),
        bar: this.cfgRead(at + 4, 1),
        offset: this.cfgRead(at + 8, 4),
        length: this.cfgRead(at + 12, 4),
      };
      if (cap.type === CAP.notify) cap.multiplier = this.cfgRead(at + 16, 4);
      out.push(cap);
    }
    return out;
  }

  /** Sizes BAR 4 (64-bit), puts it at `base` and enables memory decoding; returns its size. */
  mapBar(base = this.windowBase + 0x10000): number {
    const reg = PCI.bar0 + 4 * 4;
    this.cfgWrite(reg, 4, 0xffffffff);
    this.cfgWrite(reg + 4, 4, 0xffffffff);
    const low = (this.cfgRead(reg, 4) & 0xfffffff0) >>> 0;
    const high = this.cfgRead(reg + 4, 4);
    const size = Number(2n ** 64n - ((BigInt(high) << 32n) | BigInt(low)));
    this.cfgWrite(reg, 4, base % 2 ** 32);
    this.cfgWrite(reg + 4, 4, Math.floor(base / 2 ** 32));
    this.cfgWrite(PCI.command, 2, this.cfgRead(PCI.command, 2) | COMMAND_MEMORY);
    this.barBase = base;
    this.caps = this.findCaps();
    return size;
  }

  private cap(type: number): VirtioCapFound {
    const c = this.caps.find((x) => x.type === type);
    if (!c) throw new Error(`no virtio capability of type ${type}`);
    return c;
  }

  /** Reads `size` bytes at `offset` in the structure of capability type `type`. */
  readCap(type: number, offset: number, size: number): number {
    return this.window.read(this.barBase - this.windowBase + this.cap(type).offset + offset, size);
  }

  writeCap(type: number, offset: number, size: number, value: number): void {
    this.window.write(this.barBase - this.windowBase + this.cap(type).offset + offset, size, value);
  }

  common(offset: number, size: number): number {
    return this.readCap(CAP.common, offset, size);
  }

  setCommon(offset: number, size: number, value: number): void {
    this.writeCap(CAP.common, offset, size, value);
  }

  /** Reads (and so clears) the ISR status. */
  isr(): number {
    return this.readCap(CAP.isr, 0, 1);
  }

  protected start(): void {
    if (this.caps.length === 0) this.mapBar();
    this.setStatus(0);
    this.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  }

  protected offered(): bigint {
    this.setCommon(COMMON.deviceFeatureSelect, 4, 0);
    let f = BigInt(this.common(COMMON.deviceFeature, 4));
    this.setCommon(COMMON.deviceFeatureSelect, 4, 1);
    f |= BigInt(this.common(COMMON.deviceFeature, 4)) << 32n;
    return f;
  }

  protected accept(f: bigint): void {
    this.setCommon(COMMON.driverFeatureSelect, 4, 0);
    this.setCommon(COMMON.driverFeature, 4, Number(f & 0xffffffffn));
    this.setCommon(COMMON.driverFeatureSelect, 4, 1);
    this.setCommon(COMMON.driverFeature, 4, Number(f >> 32n));
  }

  protected setStatus(status: number): void {
    this.setCommon(COMMON.deviceStatus, 1, status);
  }

  status(): number {
    return this.common(COMMON.deviceStatus, 1);
  }

  protected program(index: number, q: TestQueue): void {
    this.setCommon(COMMON.queueSelect, 2, index);
    this.setCommon(COMMON.queueSize, 2, q.size);
    const pairs: [number, number][] = [
      [COMMON.queueDescLow, q.desc],
      [COMMON.queueDriverLow, q.avail],
      [COMMON.queueDeviceLow, q.used],
    ];
    for (const [at, pa] of pairs) {
      this.setCommon(at, 4, pa % 2 ** 32);
      this.setCommon(at + 4, 4, Math.floor(pa / 2 ** 32));
    }
    this.setCommon(COMMON.queueEnable, 2, 1);
  }

  kick(qi: number): void {
    this.setCommon(COMMON.queueSelect, 2, qi);
    const off = this.common(COMMON.queueNotifyOff, 2);
    this.writeCap(CAP.notify, off * this.cap(CAP.notify).multiplier!, 2, qi);
  }
}
