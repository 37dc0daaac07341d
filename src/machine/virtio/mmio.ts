// The virtio-mmio transport, version 2 (virtio 1.2 section 4.2.2): identification,
// feature negotiation, queue setup, notifications, interrupt status and the
// device configuration space at 0x100, around a device model (VirtioDevice).
// When the guest hands the device something malformed, the device enters
// DEVICE_NEEDS_RESET (with a configuration-change interrupt), one line goes to
// the logger, and its queues stop until the driver resets it.
//
//   const t = new VirtioMmio(ram, new VirtioBlk(backend), plic.line(1 + slot), log, 'virtio7');
//   bus.map('virtio7', base, 0x1000, t);

import type { MmioDevice } from '../bus.js';
import { NO_IRQ, type IrqLine } from '../devices/irq.js';
import {
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_VERSION,
  VIRTIO_VENDOR_BERTH,
} from '../devices/virtioMmioSlot.js';
import type { Ram } from '../ram.js';
import { Virtqueue, VirtqueueError, type VirtqueueState } from './virtqueue.js';

export class VirtioError extends Error {}

export const VIRTIO_F_INDIRECT_DESC = 28n;
export const VIRTIO_F_EVENT_IDX = 29n;
export const VIRTIO_F_VERSION_1 = 32n;
/** Transport features every Berth device offers. */
export const TRANSPORT_FEATURES =
  (1n << VIRTIO_F_VERSION_1) | (1n << VIRTIO_F_INDIRECT_DESC) | (1n << VIRTIO_F_EVENT_IDX);

export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;

export const INT_USED_BUFFER = 1;
export const INT_CONFIG_CHANGE = 2;

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

/** What a device model sees of its transport while it handles a notification. */
export interface VirtioQueueHost {
  readonly ram: Ram;
  /** The features the driver accepted. */
  readonly features: bigint;
  /** Raises the used-buffer interrupt for queue `index` when the driver wants one. */
  usedBuffers(index: number): void;
}

/** A virtio device model behind the transport. */
export interface VirtioDevice<S = unknown> {
  /** Virtio device ID (2 = block, 1 = network, ...). */
  readonly deviceId: number;
  /** Short name for log lines, e.g. "virtio-blk". */
  readonly name: string;
  /** Device-specific feature bits (the transport adds VERSION_1, INDIRECT_DESC, EVENT_IDX). */
  readonly features: bigint;
  readonly numQueues: number;
  /** Largest size of each queue (a power of 2). */
  readonly queueMax: number;
  /** Reads the device configuration space (offset from 0x100). */
  configRead(offset: number, size: number): number;
  configWrite(offset: number, size: number, value: number): void;
  /**
   * The driver notified queue `index`: pop chains from `queue`, push used
   * elements, then call host.usedBuffers(index). Throws VirtqueueError or
   * VirtioError on malformed guest input (the transport contains it).
   */
  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void;
  /** Back to the power-on state (the driver wrote 0 to Status). */
  reset(): void;
  save(): S;
  restore(state: S): void;
}

export interface VirtioQueueRegsState {
  size: number;
  ready: boolean;
  desc: number;
  driver: number;
  device: number;
  ring: VirtqueueState | null;
}

export interface VirtioMmioState {
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  /** Accepted features as a hex string (a bigint). */
  driverFeatures: string;
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  failed: boolean;
  queues: VirtioQueueRegsState[];
  device: unknown;
}

interface QueueRegs {
  size: number;
  ready: boolean;
  desc: number;
  driver: number;
  device: number;
  ring: Virtqueue | null;
}

const U32 = 4294967296;

function setLow(v: number, lo: number): number {
  return Math.floor(v / U32) * U32 + (lo >>> 0);
}

function setHigh(v: number, hi: number): number {
  return (hi >>> 0) * U32 + (v % U32);
}

export class VirtioMmio implements MmioDevice, VirtioQueueHost {
  readonly ram: Ram;
  readonly device: VirtioDevice;
  private readonly irq: IrqLine;
  private readonly log: (line: string) => void;
  private readonly label: string;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  /** The device is in DEVICE_NEEDS_RESET: queues are not processed until reset. */
  private failed = false;
  private readonly queues: QueueRegs[] = [];

  /**
   * @param label where the device sits, for log lines (e.g. "virtio7")
   * @param log receives one line when the guest drives the device into NEEDS_RESET
   */
  constructor(
    ram: Ram,
    device: VirtioDevice,
    irq: IrqLine = NO_IRQ,
    log: (line: string) => void = () => {},
    label = 'virtio',
  ) {
    this.ram = ram;
    this.device = device;
    this.irq = irq;
    this.log = log;
    this.label = label;
    for (let i = 0; i < device.numQueues; i++) this.queues.push(this.emptyQueue());
  }

  private emptyQueue(): QueueRegs {
    return { size: this.device.queueMax, ready: false, desc: 0, driver: 0, device: 0, ring: null };
  }

  /** Everything the device offers. */
  get offeredFeatures(): bigint {
    return this.device.features | TRANSPORT_FEATURES;
  }

  /** Features the driver accepted (valid once FEATURES_OK is set). */
  get features(): bigint {
    return this.driverFeatures;
  }

  /** True while the device waits for a reset after bad guest input. */
  get needsReset(): boolean {
    return this.failed;
  }

  read(offset: number, size: number): number {
    if (offset >= REG.config) return this.device.configRead(offset - REG.config, size);
    if (size !== 4) return 0;
    const q = this.queues[this.queueSel];
    switch (offset) {
      case REG.magic:
        return VIRTIO_MMIO_MAGIC;
      case REG.version:
        return VIRTIO_MMIO_VERSION;
      case REG.deviceId:
        return this.device.deviceId;
      case REG.vendorId:
        return VIRTIO_VENDOR_BERTH;
      case REG.deviceFeatures: {
        if (this.deviceFeaturesSel > 1) return 0;
        return Number((this.offeredFeatures >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn);
      }
      case REG.queueNumMax:
        return q ? this.device.queueMax : 0;
      case REG.queueNum:
        return q ? q.size : 0;
      case REG.queueReady:
        return q && q.ready ? 1 : 0;
      case REG.interruptStatus:
        return this.interruptStatus;
      case REG.status:
        return this.status | (this.failed ? STATUS_NEEDS_RESET : 0);
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
    const q = this.queues[this.queueSel];
    const setup = q !== undefined && !q.ready;
    switch (offset) {
      case REG.deviceFeaturesSel:
        this.deviceFeaturesSel = value;
        return;
      case REG.driverFeaturesSel:
        this.driverFeaturesSel = value;
        return;
      case REG.driverFeatures: {
        if (this.driverFeaturesSel > 1 || (this.status & STATUS_FEATURES_OK) !== 0) return;
        const shift = BigInt(32 * this.driverFeaturesSel);
        this.driverFeatures =
          (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value) << shift);
        return;
      }
      case REG.queueSel:
        this.queueSel = value;
        return;
      case REG.queueNum:
        if (setup) q.size = value;
        return;
      case REG.queueReady:
        if (q) this.setReady(this.queueSel, q, (value & 1) === 1);
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

  private setStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
    }
    if (value & STATUS_FEATURES_OK && !(this.status & STATUS_FEATURES_OK)) {
      const f = this.driverFeatures;
      const ok = (f & ~this.offeredFeatures) === 0n && (f & (1n << VIRTIO_F_VERSION_1)) !== 0n;
      if (!ok) value &= ~STATUS_FEATURES_OK;
    }
    this.status = value & ~STATUS_NEEDS_RESET;
  }

  /** The driver wrote 0 to Status: device, queues and interrupts back to their initial state. */
  reset(): void {
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.queueSel = 0;
    this.interruptStatus = 0;
    this.failed = false;
    for (let i = 0; i < this.queues.length; i++) this.queues[i] = this.emptyQueue();
    this.device.reset();
    this.updateIrq();
  }

  private setReady(index: number, q: QueueRegs, ready: boolean): void {
    if (!ready) {
      q.ready = false;
      q.ring = null;
      return;
    }
    if (q.ready) return;
    if (q.size > this.device.queueMax) {
      this.fail(
        `queue ${index}: size ${q.size} is larger than the maximum ${this.device.queueMax}`,
      );
      return;
    }
    try {
      q.ring = new Virtqueue(this.ram, {
        size: q.size,
        desc: q.desc,
        driver: q.driver,
        device: q.device,
        indirect: (this.driverFeatures & (1n << VIRTIO_F_INDIRECT_DESC)) !== 0n,
        eventIdx: (this.driverFeatures & (1n << VIRTIO_F_EVENT_IDX)) !== 0n,
      });
      q.ready = true;
    } catch (e) {
      if (!(e instanceof VirtqueueError)) throw e;
      this.fail(`queue ${index}: ${e.message}`);
    }
  }

  /**
   * Processes queue `index` as if the driver had notified it: devices whose
   * host side has news (console input, network frames) call this.
   */
  poll(index: number): void {
    this.notify(index);
  }

  private notify(index: number): void {
    const q = this.queues[index];
    if (!q || !q.ready || q.ring === null || this.failed) return;
    if (!(this.status & STATUS_DRIVER_OK)) return;
    try {
      this.device.onNotify(index, q.ring, this);
    } catch (e) {
      if (!(e instanceof VirtqueueError) && !(e instanceof VirtioError)) throw e;
      this.fail(`queue ${index}: ${e.message}`);
    }
  }

  /** Tells the driver about used buffers on queue `index`, if it wants to know. */
  usedBuffers(index: number): void {
    const ring = this.queues[index]?.ring;
    if (!ring) return;
    if (ring.shouldInterrupt()) {
      this.interruptStatus |= INT_USED_BUFFER;
      this.updateIrq();
    }
  }

  /** The device configuration changed: new generation and a configuration-change interrupt. */
  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    this.interruptStatus |= INT_CONFIG_CHANGE;
    this.updateIrq();
  }

  /** Puts the device into DEVICE_NEEDS_RESET after bad guest input; logs one line. */
  fail(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.log(
      `berth: ${this.device.name} at ${this.label}: the guest driver gave a malformed request (${reason}); ` +
        `the device stopped and waits for a reset`,
    );
    if (this.status & STATUS_DRIVER_OK) {
      this.interruptStatus |= INT_CONFIG_CHANGE;
      this.updateIrq();
    }
  }

  private updateIrq(): void {
    this.irq.set(this.interruptStatus !== 0);
  }

  save(): VirtioMmioState {
    return {
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeatures.toString(16),
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      failed: this.failed,
      queues: this.queues.map((q) => ({
        size: q.size,
        ready: q.ready,
        desc: q.desc,
        driver: q.driver,
        device: q.device,
        ring: q.ring ? q.ring.save() : null,
      })),
      device: this.device.save(),
    };
  }

  /** Restores a saved state (RAM must be restored first); throws VirtioError on a mismatch. */
  restore(s: VirtioMmioState): void {
    if (!Array.isArray(s.queues) || s.queues.length !== this.queues.length) {
      throw new VirtioError(
        `saved ${this.device.name} state has ${s.queues?.length} queues, the device has ${this.queues.length}`,
      );
    }
    if (typeof s.driverFeatures !== 'string' || !/^[0-9a-f]{1,16}$/.test(s.driverFeatures)) {
      throw new VirtioError(`saved ${this.device.name} state has bad driver features`);
    }
    this.status = s.status & 0xff;
    this.deviceFeaturesSel = s.deviceFeaturesSel >>> 0;
    this.driverFeaturesSel = s.driverFeaturesSel >>> 0;
    this.driverFeatures = BigInt('0x' + s.driverFeatures);
    this.queueSel = s.queueSel >>> 0;
    this.interruptStatus = s.interruptStatus & 3;
    this.configGeneration = s.configGeneration >>> 0;
    this.failed = s.failed;
    this.device.restore(s.device);
    s.queues.forEach((sq, i) => {
      const q: QueueRegs = { ...sq, ring: null };
      if (sq.ready && sq.ring) {
        try {
          q.ring = new Virtqueue(this.ram, {
            size: sq.size,
            desc: sq.desc,
            driver: sq.driver,
            device: sq.device,
            indirect: (this.driverFeatures & (1n << VIRTIO_F_INDIRECT_DESC)) !== 0n,
            eventIdx: (this.driverFeatures & (1n << VIRTIO_F_EVENT_IDX)) !== 0n,
          });
        } catch (e) {
          throw new VirtioError(
            `saved ${this.device.name} queue ${i} is invalid: ${(e as Error).message}`,
          );
        }
        q.ring.restore(sq.ring);
      }
      this.queues[i] = q;
    });
    this.updateIrq();
  }
}
