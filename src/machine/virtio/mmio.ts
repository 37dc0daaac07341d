// The virtio-mmio transport, version 2 (virtio 1.2 section 4.2.2): identification,
// feature negotiation, queue setup, notifications, interrupt status and the
// device configuration space at 0x100, decoded onto the transport core
// (transport.ts) around a device model (VirtioDevice).
//
//   const t = new VirtioMmio(ram, new VirtioBlk(backend), plic.line(1 + slot), log, 'virtio7');
//   bus.map('virtio7', base, 0x1000, t);

import type { MmioDevice } from '../bus.js';
import {
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_VERSION,
  VIRTIO_VENDOR_QEMU,
} from '../devices/virtioMmioSlot.js';
import { setHigh, setLow, VirtioTransport, type VirtioTransportState } from './transport.js';

/** Register offsets (virtio 1.2 table 4.1). */
export const REG = {
  magic: 0x000,
  version: 0x004,
  deviceId: 0x008,
  vendorId: 0x00c,
  deviceFeatures: 0x010,
  deviceFeaturesSel: 0x014,
  driverFeatures: 0x020,
  driverFeaturesSel: 0x024,
  queueSel: 0x030,
  queueNumMax: 0x034,
  queueNum: 0x038,
  queueReady: 0x044,
  queueNotify: 0x050,
  interruptStatus: 0x060,
  interruptAck: 0x064,
  status: 0x070,
  queueDescLow: 0x080,
  queueDescHigh: 0x084,
  queueDriverLow: 0x090,
  queueDriverHigh: 0x094,
  queueDeviceLow: 0x0a0,
  queueDeviceHigh: 0x0a4,
  shmSel: 0x0ac,
  shmLenLow: 0x0b0,
  shmLenHigh: 0x0b4,
  shmBaseLow: 0x0b8,
  shmBaseHigh: 0x0bc,
  queueReset: 0x0c0,
  configGeneration: 0x0fc,
  config: 0x100,
} as const;

/** A virtio-mmio transport's saved state: the transport core's. */
export type VirtioMmioState = VirtioTransportState;

const U32 = 4294967296;

export class VirtioMmio extends VirtioTransport implements MmioDevice {
  readonly stateId = 'virtio-mmio';

  read(offset: number, size: number): number {
    if (offset >= REG.config) return this.device.configRead(offset - REG.config, size);
    if (size !== 4) return 0;
    const q = this.selected;
    switch (offset) {
      case REG.magic:
        return VIRTIO_MMIO_MAGIC;
      case REG.version:
        return VIRTIO_MMIO_VERSION;
      case REG.deviceId:
        return this.device.deviceId;
      case REG.vendorId:
        return VIRTIO_VENDOR_QEMU;
      case REG.deviceFeatures:
        return this.deviceFeatureWord();
      case REG.queueNumMax:
        return q ? this.device.queueMax : 0;
      case REG.queueNum:
        return q ? q.size : 0;
      case REG.queueReady:
        return q && q.ready ? 1 : 0;
      case REG.interruptStatus:
        return this.interruptStatus;
      case REG.status:
        return this.statusRegister();
      case REG.queueDescLow:
        return q ? q.desc % U32 : 0;
      case REG.queueDescHigh:
        return q ? Math.floor(q.desc / U32) : 0;
      case REG.queueDriverLow:
        return q ? q.driver % U32 : 0;
      case REG.queueDriverHigh:
        return q ? Math.floor(q.driver / U32) : 0;
      case REG.queueDeviceLow:
        return q ? q.device % U32 : 0;
      case REG.queueDeviceHigh:
        return q ? Math.floor(q.device / U32) : 0;
      case REG.shmLenLow:
      case REG.shmLenHigh:
      case REG.shmBaseLow:
      case REG.shmBaseHigh:
        return 0xffffffff; // no shared memory regions
      case REG.configGeneration:
        return this.configGeneration;
      default:
        return 0;
    }
  }

  write(offset: number, size: number, value: number): void {
    if (offset >= REG.config) {
      this.device.configWrite(offset - REG.config, size, value);
      return;
    }
    if (size !== 4) return;
    value >>>= 0;
    const q = this.selected;
    const setup = q !== undefined && !q.ready;
    switch (offset) {
      case REG.deviceFeaturesSel:
        this.deviceFeaturesSel = value;
        return;
      case REG.driverFeaturesSel:
        this.driverFeaturesSel = value;
        return;
      case REG.driverFeatures:
        this.setDriverFeatureWord(value);
        return;
      case REG.queueSel:
        this.queueSel = value;
        return;
      case REG.queueNum:
        if (setup) q.size = value;
        return;
      case REG.queueReady:
        this.setReady((value & 1) === 1);
        return;
      case REG.queueNotify:
        this.notify(value & 0xffff);
        return;
      case REG.interruptAck:
        this.interruptStatus &= ~value;
        this.updateIrq();
        return;
      case REG.status:
        this.setStatus(value & 0xff);
        return;
      case REG.queueDescLow:
        if (setup) q.desc = setLow(q.desc, value);
        return;
      case REG.queueDescHigh:
        if (setup) q.desc = setHigh(q.desc, value);
        return;
      case REG.queueDriverLow:
        if (setup) q.driver = setLow(q.driver, value);
        return;
      case REG.queueDriverHigh:
        if (setup) q.driver = setHigh(q.driver, value);
        return;
      case REG.queueDeviceLow:
        if (setup) q.device = setLow(q.device, value);
        return;
      case REG.queueDeviceHigh:
        if (setup) q.device = setHigh(q.device, value);
        return;
      default:
        return;
    }
  }
}
