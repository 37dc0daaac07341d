// The virtio-pci transport, modern only (virtio 1.2 section 4.1): a PCI function with vendor
// 1af4 and device 1040 + the virtio device ID, revision 1, whose vendor-specific capabilities
// point into one 64-bit memory BAR (BAR 4, 16 KiB, as QEMU lays it out): common configuration
// at 0x0000, ISR status at 0x1000, device configuration at 0x2000, notifications at 0x3000
// (queue N's doorbell at 4 * N: queue_notify_off = N, notify_off_multiplier = 4). Interrupts
// are INTx (pin A) through the ISR, which a read clears; no MSI-X capability, so drivers use
// INTx. A fifth capability (VIRTIO_PCI_CAP_PCI_CFG) is the config-space window into the BAR:
// the driver sets its bar, offset and length, then reads or writes pci_cfg_data. The
// registers decode onto the transport core (transport.ts), shared with virtio-mmio; the PCI
// host keeps and saves the config space (pci/pciHost.ts).
//
//   const t = new VirtioPci(ram, new VirtioBlk(backend), plic.line(33), log, 'pci 00:01.0');
//   host.attach(1, t);

import type { IrqLine } from '../devices/irq.js';
import type { Ram } from '../ram.js';
import { PciConfigSpace, type BarSpec } from '../pci/configSpace.js';
import type { PciFunction } from '../pci/pciHost.js';
import type { VirtioDevice } from './device.js';
import { setHigh, setLow, VirtioTransport } from './transport.js';

export const VIRTIO_PCI_VENDOR = 0x1af4;
export const VIRTIO_PCI_DEVICE_BASE = 0x1040;
/** The BAR every capability points into. */
export const VIRTIO_PCI_BAR: BarSpec = {
  index: 4,
  kind: 'mem64',
  size: 0x4000,
  prefetchable: true,
};

/** Capability cfg_type values (virtio 1.2 4.1.4). */
export const CAP = { common: 1, notify: 2, isr: 3, device: 4, pciCfg: 5 } as const;
/** Where each structure sits in the BAR, and its length. */
export const REGION = {
  common: { offset: 0x0000, length: 0x1000 },
  isr: { offset: 0x1000, length: 0x1000 },
  device: { offset: 0x2000, length: 0x1000 },
  notify: { offset: 0x3000, length: 0x1000 },
} as const;
export const NOTIFY_OFF_MULTIPLIER = 4;
/** PCI capability ID of vendor-specific capabilities. */
export const PCI_CAP_VENDOR = 0x09;
/** "No MSI-X vector": what the vector fields read without MSI-X. */
const NO_VECTOR = 0xffff;

/** Common configuration fields (virtio 1.2 4.1.4.3): offset and width. */
export const COMMON = {
  deviceFeatureSelect: 0x00,
  deviceFeature: 0x04,
  driverFeatureSelect: 0x08,
  driverFeature: 0x0c,
  configMsixVector: 0x10,
  numQueues: 0x12,
  deviceStatus: 0x14,
  configGeneration: 0x15,
  queueSelect: 0x16,
  queueSize: 0x18,
  queueMsixVector: 0x1a,
  queueEnable: 0x1c,
  queueNotifyOff: 0x1e,
  queueDescLow: 0x20,
  queueDescHigh: 0x24,
  queueDriverLow: 0x28,
  queueDriverHigh: 0x2c,
  queueDeviceLow: 0x30,
  queueDeviceHigh: 0x34,
} as const;

/**
 * PCI class code of each virtio device, as QEMU 7.2 gives virtio-net-pci, virtio-blk-pci,
 * virtio-serial-pci, virtio-rng-pci, virtio-balloon-pci and virtio-keyboard-pci (the power
 * button is a keyboard of one key to the guest).
 */
const CLASS: Record<number, number> = {
  1: 0x020000, // network controller: Ethernet
  2: 0x010000, // mass storage: SCSI
  3: 0x078000, // communication controller: other
  4: 0x00ff00, // unclassified: "other" (QEMU's PCI_CLASS_OTHERS)
  5: 0x00ff00, // the balloon: the same
  18: 0x090000, // input device: keyboard
};

const U32 = 4294967296;

/** A virtio capability's bytes after its ID and next pointer. */
function virtioCap(
  type: number,
  region: { offset: number; length: number },
  extra = 0,
): Uint8Array {
  const len = extra ? 20 : 16;
  const b = new Uint8Array(len - 2);
  const v = new DataView(b.buffer);
  b[0] = len; // cap_len
  b[1] = type; // cfg_type
  b[2] = VIRTIO_PCI_BAR.index;
  v.setUint32(6, region.offset, true);
  v.setUint32(10, region.length, true);
  if (extra) v.setUint32(14, extra, true);
  return b;
}

export class VirtioPci extends VirtioTransport implements PciFunction {
  readonly stateId = 'virtio-pci';
  readonly config: PciConfigSpace;

  constructor(
    ram: Ram,
    device: VirtioDevice,
    irq?: IrqLine,
    log?: (line: string) => void,
    label?: string,
  ) {
    super(ram, device, irq, log, label);
    this.config = new PciConfigSpace(
      {
        vendorId: VIRTIO_PCI_VENDOR,
        deviceId: VIRTIO_PCI_DEVICE_BASE + device.deviceId,
        revision: 1,
        classCode: CLASS[device.deviceId] ?? 0xff0000,
        subsystemVendorId: VIRTIO_PCI_VENDOR,
        subsystemId: 0x1100,
        interruptPin: 1,
      },
      [VIRTIO_PCI_BAR],
    );
    this.config.addCapability(PCI_CAP_VENDOR, virtioCap(CAP.common, REGION.common));
    this.config.addCapability(PCI_CAP_VENDOR, virtioCap(CAP.isr, REGION.isr));
    this.config.addCapability(PCI_CAP_VENDOR, virtioCap(CAP.device, REGION.device));
    this.config.addCapability(
      PCI_CAP_VENDOR,
      virtioCap(CAP.notify, REGION.notify, NOTIFY_OFF_MULTIPLIER),
    );
    this.addPciCfgCap();
  }

  /**
   * VIRTIO_PCI_CAP_PCI_CFG: bar (byte 4), offset (8..11) and length (12..15) are the driver's
   * to write; pci_cfg_data (16..19) reads or writes `length` (1, 2 or 4) bytes at `offset` in
   * BAR 4 (any other bar or length: reads 0, writes are dropped).
   */
  private addPciCfgCap(): void {
    const body = virtioCap(CAP.pciCfg, { offset: 0, length: 0 }, 0);
    const at = this.config.addCapability(PCI_CAP_VENDOR, Uint8Array.of(...body, 0, 0, 0, 0));
    this.config.bytes[at + 2] = 20; // cap_len: the header and pci_cfg_data
    this.config.bytes[at + 4] = 0; // bar: none until the driver names one
    this.config.setWritable(at + 4, 1, 0xff);
    this.config.setWritable(at + 8, 4, 0xffffffff);
    this.config.setWritable(at + 12, 4, 0xffffffff);
    const target = (): { offset: number; length: number } | null => {
      const bar = this.config.read(at + 4, 1);
      const offset = this.config.read(at + 8, 4);
      const length = this.config.read(at + 12, 4);
      const fits = offset + length <= VIRTIO_PCI_BAR.size && offset % length === 0;
      return bar === VIRTIO_PCI_BAR.index && [1, 2, 4].includes(length) && fits
        ? { offset, length }
        : null;
    };
    this.config.setWindow({
      offset: at + 16,
      size: 4,
      read: () => {
        const t = target();
        return t ? this.barRead(VIRTIO_PCI_BAR, t.offset, t.length) : 0;
      },
      write: (_off, _size, value) => {
        const t = target();
        if (t) this.barWrite(VIRTIO_PCI_BAR, t.offset, t.length, value);
      },
    });
  }

  barRead(_bar: BarSpec, offset: number, size: number): number {
    const region = offset >>> 12;
    const at = offset & 0xfff;
    if (region === 0) return this.commonRead(at, size);
    if (region === 1) return at === 0 ? this.takeIsr() : 0;
    if (region === 2) return this.device.configRead(at, size);
    return 0;
  }

  barWrite(_bar: BarSpec, offset: number, size: number, value: number): void {
    const region = offset >>> 12;
    const at = offset & 0xfff;
    if (region === 0) this.commonWrite(at, size, value);
    else if (region === 2) this.device.configWrite(at, size, value);
    else if (region === 3 && at % NOTIFY_OFF_MULTIPLIER === 0) {
      this.notify(at / NOTIFY_OFF_MULTIPLIER);
    }
  }

  /** Reading the ISR returns the interrupt status and clears it (deasserting INTx). */
  private takeIsr(): number {
    const v = this.interruptStatus;
    this.interruptStatus = 0;
    this.updateIrq();
    return v;
  }

  /** The field at `at` of width `size`, or 0 (reads of part of a field see 0). */
  private commonRead(at: number, size: number): number {
    const q = this.selected;
    switch (size === 4 ? at : size === 2 ? at | 0x1000 : size === 1 ? at | 0x2000 : -1) {
      case COMMON.deviceFeatureSelect:
        return this.deviceFeaturesSel;
      case COMMON.deviceFeature:
        return this.deviceFeatureWord();
      case COMMON.driverFeatureSelect:
        return this.driverFeaturesSel;
      case COMMON.driverFeature:
        return this.driverFeatureWord();
      case COMMON.configMsixVector | 0x1000:
      case COMMON.queueMsixVector | 0x1000:
        return NO_VECTOR;
      case COMMON.numQueues | 0x1000:
        return this.queues.length;
      case COMMON.deviceStatus | 0x2000:
        return this.statusRegister();
      case COMMON.configGeneration | 0x2000:
        return this.configGeneration & 0xff;
      case COMMON.queueSelect | 0x1000:
        return this.queueSel;
      case COMMON.queueSize | 0x1000:
        return q ? q.size : 0;
      case COMMON.queueEnable | 0x1000:
        return q?.ready ? 1 : 0;
      case COMMON.queueNotifyOff | 0x1000:
        return q ? this.queueSel : 0;
      case COMMON.queueDescLow:
        return q ? q.desc % U32 : 0;
      case COMMON.queueDescHigh:
        return q ? Math.floor(q.desc / U32) : 0;
      case COMMON.queueDriverLow:
        return q ? q.driver % U32 : 0;
      case COMMON.queueDriverHigh:
        return q ? Math.floor(q.driver / U32) : 0;
      case COMMON.queueDeviceLow:
        return q ? q.device % U32 : 0;
      case COMMON.queueDeviceHigh:
        return q ? Math.floor(q.device / U32) : 0;
      default:
        return 0;
    }
  }

  private commonWrite(at: number, size: number, value: number): void {
    value >>>= 0;
    const q = this.selected;
    const setup = q !== undefined && !q.ready;
    switch (size === 4 ? at : size === 2 ? at | 0x1000 : size === 1 ? at | 0x2000 : -1) {
      case COMMON.deviceFeatureSelect:
        this.deviceFeaturesSel = value;
        return;
      case COMMON.driverFeatureSelect:
        this.driverFeaturesSel = value;
        return;
      case COMMON.driverFeature:
        this.setDriverFeatureWord(value);
        return;
      case COMMON.deviceStatus | 0x2000:
        this.setStatus(value & 0xff);
        return;
      case COMMON.queueSelect | 0x1000:
        this.queueSel = value & 0xffff;
        return;
      case COMMON.queueSize | 0x1000:
        if (setup) q.size = value & 0xffff;
        return;
      case COMMON.queueEnable | 0x1000:
        if ((value & 1) === 1) this.setReady(true);
        return;
      case COMMON.queueDescLow:
        if (setup) q.desc = setLow(q.desc, value);
        return;
      case COMMON.queueDescHigh:
        if (setup) q.desc = setHigh(q.desc, value);
        return;
      case COMMON.queueDriverLow:
        if (setup) q.driver = setLow(q.driver, value);
        return;
      case COMMON.queueDriverHigh:
        if (setup) q.driver = setHigh(q.driver, value);
        return;
      case COMMON.queueDeviceLow:
        if (setup) q.device = setLow(q.device, value);
        return;
      case COMMON.queueDeviceHigh:
        if (setup) q.device = setHigh(q.device, value);
        return;
      default:
        return; // read-only fields, MSI-X vectors (none)
    }
  }

  /** Command.InterruptDisable may have changed. */
  configWritten(): void {
    this.updateIrq();
  }

  /** INTx follows the interrupt status unless Command.InterruptDisable masks it. */
  protected override updateIrq(): void {
    const level = this.interruptStatus !== 0;
    this.config.setInterruptStatus(level);
    this.irq.set(level && this.config.intxEnabled);
  }
}
