// The part of a virtio transport that does not depend on how the driver reaches it (virtio 1.2
// sections 2 and 3): device status, feature negotiation, the queues' registers and rings,
// notifications, interrupt status, the configuration generation, DEVICE_NEEDS_RESET, reset,
// and the saved state of all of it. virtio-mmio (mmio.ts) and virtio-pci (pci.ts) decode their
// registers onto this. Feature negotiation is accepted the way QEMU accepts it: FEATURES_OK
// always sticks, the features in force are those the driver wrote that the device offers, and
// a driver that leaves VERSION_1 out (xv6) gets the device with the legacy layouts that
// depend on it (virtio-net's 10-byte header). When the guest hands the device something malformed, the device enters
// DEVICE_NEEDS_RESET (with a configuration-change interrupt), one line goes to the logger, and
// its queues stop until the driver resets it.

import { NO_IRQ, type IrqLine } from '../devices/irq.js';
import type { Ram } from '../ram.js';
import { Virtqueue, VirtqueueError } from './virtqueue.js';
import {
  INT_CONFIG_CHANGE,
  INT_USED_BUFFER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  STATUS_NEEDS_RESET,
  TRANSPORT_FEATURES,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VirtioError,
  type VirtioDevice,
  type VirtioQueueHost,
} from './device.js';
import {
  checkPart,
  savePart,
  StateError,
  type Persistent,
  type SavedPart,
} from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';
import { u64FromBigInt, u64FromNumber, u64ToBigInt, u64ToNumber, type U64 } from '../state/u64.js';

/** One queue's registers and, while it is ready, its ring positions. */
export interface VirtioQueueState {
  /** The queue size as the driver wrote it. */
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

/** A transport's state (the same fields for virtio-mmio and virtio-pci). */
export interface VirtioTransportState {
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

export interface QueueRegs {
  size: number;
  ready: boolean;
  desc: number;
  driver: number;
  device: number;
  ring: Virtqueue | null;
}

const U32 = 4294967296;

/** `v` with its low 32 bits replaced by `lo`. */
export function setLow(v: number, lo: number): number {
  return Math.floor(v / U32) * U32 + (lo >>> 0);
}

/** `v` with its high 32 bits replaced by `hi`. */
export function setHigh(v: number, hi: number): number {
  return (hi >>> 0) * U32 + (v % U32);
}

export abstract class VirtioTransport implements VirtioQueueHost, Persistent<VirtioTransportState> {
  abstract readonly stateId: string;
  readonly stateVersion = 1;
  readonly ram: Ram;
  readonly device: VirtioDevice;
  protected readonly irq: IrqLine;
  private readonly log: (line: string) => void;
  private readonly label: string;
  protected status = 0;
  protected deviceFeaturesSel = 0;
  protected driverFeaturesSel = 0;
  protected driverFeatures = 0n;
  protected queueSel = 0;
  protected interruptStatus = 0;
  protected configGeneration = 0;
  /** The device is in DEVICE_NEEDS_RESET: queues are not processed until reset. */
  private failed = false;
  /** The machine stands still: the host's news wait in the device (see hold). */
  private holding = false;
  protected readonly queues: QueueRegs[] = [];

  /**
   * @param label where the device sits, for log lines (e.g. "virtio slot 7")
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

  /** Features in force: those the driver accepted that the device offers (valid once FEATURES_OK is set). */
  get features(): bigint {
    return this.driverFeatures & this.offeredFeatures;
  }

  /** True while the device waits for a reset after bad guest input. */
  get needsReset(): boolean {
    return this.failed;
  }

  /** The selected queue's registers, if the selector names a queue. */
  protected get selected(): QueueRegs | undefined {
    return this.queues[this.queueSel];
  }

  /** The 32 feature bits DeviceFeaturesSel selects. */
  protected deviceFeatureWord(): number {
    if (this.deviceFeaturesSel > 1) return 0;
    return Number((this.offeredFeatures >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn);
  }

  /** The 32 feature bits of the driver's that DriverFeaturesSel selects. */
  protected driverFeatureWord(): number {
    if (this.driverFeaturesSel > 1) return 0;
    return Number((this.driverFeatures >> BigInt(32 * this.driverFeaturesSel)) & 0xffffffffn);
  }

  /** The driver writes the 32 feature bits DriverFeaturesSel selects (until FEATURES_OK). */
  protected setDriverFeatureWord(value: number): void {
    if (this.driverFeaturesSel > 1 || (this.status & STATUS_FEATURES_OK) !== 0) return;
    const shift = BigInt(32 * this.driverFeaturesSel);
    this.driverFeatures =
      (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value >>> 0) << shift);
  }

  /** Device status as the driver reads it. */
  protected statusRegister(): number {
    return this.status | (this.failed ? STATUS_NEEDS_RESET : 0);
  }

  /**
   * The driver writes Status. FEATURES_OK is never refused, as QEMU (7.2, whose devices here
   * have no feature dependencies to validate) does not: bits the device does not offer are
   * dropped (`features`), and VERSION_1 may be left out.
   */
  protected setStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
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

  /** The driver enables (or disables) the selected queue. */
  protected setReady(ready: boolean): void {
    const index = this.queueSel;
    const q = this.queues[index];
    if (!q) return;
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
    if (!this.holding) this.notify(index);
  }

  /**
   * While the machine stands still (paused, or saved and sent elsewhere), the host's news
   * (network frames, console input, key presses) wait in the device instead of going into the
   * guest's memory, which a snapshot or a migration has taken or is taking with the device's
   * state: a frame written there after the last pages were taken, but counted in the rings'
   * indexes the state holds, left the destination's guest deaf (QEMU likewise stops network
   * receive while the VM is stopped). Released, every queue is looked at again.
   */
  hold(on: boolean): void {
    if (this.holding === on) return;
    this.holding = on;
    if (!on) for (let i = 0; i < this.queues.length; i++) this.notify(i);
  }

  /** The driver notified queue `index`. */
  protected notify(index: number): void {
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

  /** Drives the interrupt line from the interrupt status (a transport may gate it). */
  protected updateIrq(): void {
    this.irq.set(this.interruptStatus !== 0);
  }

  /** A queue over the given registers, with this transport's ring options. */
  private ring(size: number, desc: number, driver: number, device: number): Virtqueue {
    return new Virtqueue(this.ram, {
      size,
      desc,
      driver,
      device,
      indirect: (this.features & (1n << VIRTIO_F_INDIRECT_DESC)) !== 0n,
      eventIdx: (this.features & (1n << VIRTIO_F_EVENT_IDX)) !== 0n,
    });
  }

  saveState(): VirtioTransportState {
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
  checkState(data: unknown): VirtioTransportState {
    const u32 = 0xffffffff;
    return StateReader.read(data, (r) => {
      const status = r.int('status', 0, 0xff);
      if ((status & STATUS_NEEDS_RESET) !== 0) {
        throw new StateError('status must not hold NEEDS_RESET (64): failed says it');
      }
      const driverFeatures = r.u64('driverFeatures');
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
  loadState(s: VirtioTransportState): void {
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
