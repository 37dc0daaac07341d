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
import { Virtqueue, VirtqueueError } from './virtqueue.js';
import {
  checkPart,
  savePart,
  StateError,
  type Persistent,
  type SavedPart,
} from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';
import { u64FromBigInt, u64FromNumber, u64ToBigInt, u64ToNumber, type U64 } from '../state/u64.js';

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

/**
 * A virtio device model behind the transport. Its saved state (Persistent)
 * is what the device keeps beyond its transport and queues: held frames or
 * events, selector registers; its counters are not state.
 */
export interface VirtioDevice<S = unknown> extends Persistent<S> {
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
}

/** One queue's registers and, while it is ready, its ring positions. */
export interface VirtioQueueState {
  /** QueueNum as the driver wrote it. */
  size: number;
  ready: boolean;
  desc: U64;
  driver: U64;
  device: U64;
  /** Ring positions (free-running 16-bit indexes); 0 while the queue is not ready. */
  lastAvail: number;
  usedIdx: number;
  signalledUsed: number;
}

export interface VirtioMmioState {
  /** Device status (without NEEDS_RESET, which `failed` gives). */
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  /** The features the driver wrote (accepted once status has FEATURES_OK). */
  driverFeatures: U64;
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  failed: boolean;
  queues: VirtioQueueState[];
  /** The device model's state, with its kind and version. */
  device: SavedPart;
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

export class VirtioMmio implements MmioDevice, VirtioQueueHost, Persistent<VirtioMmioState> {
  readonly stateId = 'virtio-mmio';
  readonly stateVersion = 1;
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
      q.ring = this.ring(q.size, q.desc, q.driver, q.device);
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

  /** A queue over the given registers, with this transport's ring options. */
  private ring(size: number, desc: number, driver: number, device: number): Virtqueue {
    return new Virtqueue(this.ram, {
      size,
      desc,
      driver,
      device,
      indirect: (this.driverFeatures & (1n << VIRTIO_F_INDIRECT_DESC)) !== 0n,
      eventIdx: (this.driverFeatures & (1n << VIRTIO_F_EVENT_IDX)) !== 0n,
    });
  }

  saveState(): VirtioMmioState {
    return {
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: u64FromBigInt(this.driverFeatures),
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      failed: this.failed,
      queues: this.queues.map((q) => ({
        size: q.size,
        ready: q.ready,
        desc: u64FromNumber(q.desc),
        driver: u64FromNumber(q.driver),
        device: u64FromNumber(q.device),
        lastAvail: q.ring?.lastAvail ?? 0,
        usedIdx: q.ring?.usedIdx ?? 0,
        signalledUsed: q.ring?.signalledUsed ?? 0,
      })),
      device: savePart(this.device),
    };
  }

  /** Validates a state for this transport and its device; ready queues must lie in this RAM. */
  checkState(data: unknown): VirtioMmioState {
    const u32 = 0xffffffff;
    return StateReader.read(data, (r) => {
      const status = r.int('status', 0, 0xff);
      if ((status & STATUS_NEEDS_RESET) !== 0) {
        throw new StateError('status must not hold NEEDS_RESET (64): failed says it');
      }
      const driverFeatures = r.u64('driverFeatures');
      const features = u64ToBigInt(driverFeatures);
      if ((status & STATUS_FEATURES_OK) !== 0 && (features & ~this.offeredFeatures) !== 0n) {
        throw new StateError(
          `driverFeatures ${driverFeatures} has features the ${this.device.name} does not offer`,
        );
      }
      const n = this.queues.length;
      const queues = r.objects('queues', n, n, (q, i) => {
        const s: VirtioQueueState = {
          size: q.int('size', 0, u32),
          ready: q.bool('ready'),
          desc: q.u64('desc'),
          driver: q.u64('driver'),
          device: q.u64('device'),
          lastAvail: q.int('lastAvail', 0, 0xffff),
          usedIdx: q.int('usedIdx', 0, 0xffff),
          signalledUsed: q.int('signalledUsed', 0, 0xffff),
        };
        if (!s.ready && (s.lastAvail | s.usedIdx | s.signalledUsed) !== 0) {
          throw new StateError(`queues[${i}] is not ready, so its ring positions must be 0`);
        }
        if (s.ready) {
          if (s.size > this.device.queueMax) {
            throw new StateError(
              `queues[${i}].size ${s.size} is larger than the device's ${this.device.queueMax}`,
            );
          }
          try {
            this.ring(s.size, u64ToNumber(s.desc), u64ToNumber(s.driver), u64ToNumber(s.device));
          } catch (e) {
            if (!(e instanceof VirtqueueError)) throw e;
            throw new StateError(`queues[${i}]: ${e.message}`);
          }
        }
        return s;
      });
      return {
        status,
        deviceFeaturesSel: r.int('deviceFeaturesSel', 0, u32),
        driverFeaturesSel: r.int('driverFeaturesSel', 0, u32),
        driverFeatures,
        queueSel: r.int('queueSel', 0, u32),
        interruptStatus: r.int('interruptStatus', 0, INT_USED_BUFFER | INT_CONFIG_CHANGE),
        configGeneration: r.int('configGeneration', 0, u32),
        failed: r.bool('failed'),
        queues,
        device: {
          id: this.device.stateId,
          version: this.device.stateVersion,
          state: checkPart(this.device, r.raw('device'), 'device'),
        },
      };
    });
  }

  /** Takes a checked state (RAM's state does not matter: queues are only located, not read). */
  loadState(s: VirtioMmioState): void {
    this.status = s.status;
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.driverFeatures = u64ToBigInt(s.driverFeatures);
    this.queueSel = s.queueSel;
    this.interruptStatus = s.interruptStatus;
    this.configGeneration = s.configGeneration;
    this.failed = s.failed;
    this.device.loadState(s.device.state);
    s.queues.forEach((sq, i) => {
      const q: QueueRegs = {
        size: sq.size,
        ready: sq.ready,
        desc: u64ToNumber(sq.desc),
        driver: u64ToNumber(sq.driver),
        device: u64ToNumber(sq.device),
        ring: null,
      };
      if (q.ready) {
        q.ring = this.ring(q.size, q.desc, q.driver, q.device);
        q.ring.lastAvail = sq.lastAvail;
        q.ring.usedIdx = sq.usedIdx;
        q.ring.signalledUsed = sq.signalledUsed;
      }
      this.queues[i] = q;
    });
    this.updateIrq();
  }
}
