// A minimal virtio driver for unit tests: negotiates features over the mmio
// registers, lays out split queues in RAM, submits descriptor chains (direct
// or indirect) and reads the used ring back, as a guest driver would.

import type { Ram } from '../ram.js';
import { StateReader } from '../state/stateReader.js';
import { REG, type VirtioMmio } from './mmio.js';
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  type VirtioDevice,
  type VirtioQueueHost,
} from './device.js';
import {
  Virtqueue,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from './virtqueue.js';

export interface TestBuffer {
  /** Bytes the device reads (device-readable buffer). */
  data?: Uint8Array;
  /** Length of a device-writable buffer. */
  writeLen?: number;
}

export interface TestQueue {
  size: number;
  desc: number;
  avail: number;
  used: number;
  nextDesc: number;
  availIdx: number;
  seenUsed: number;
}

export class TestDriver {
  readonly ram: Ram;
  readonly t: VirtioMmio;
  readonly view: DataView;
  readonly queues: TestQueue[] = [];
  private next: number;

  /** Uses RAM from `heap` (a physical address) up for rings and buffers. */
  constructor(ram: Ram, t: VirtioMmio, heap = ram.base + 0x10000) {
    this.ram = ram;
    this.t = t;
    this.view = ram.view;
    this.next = heap;
  }

  alloc(len: number, align = 16): number {
    this.next = Math.ceil(this.next / align) * align;
    const pa = this.next;
    this.next += Math.max(len, 1);
    return pa;
  }

  w32(off: number, v: number): void {
    this.t.write(off, 4, v >>> 0);
  }

  r32(off: number): number {
    return this.t.read(off, 4);
  }

  /** Negotiates `features` (default: everything offered) and sets up `sizes.length` queues. */
  init(sizes: number[] = [16], features?: bigint): void {
    this.w32(REG.status, 0);
    this.w32(REG.status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    this.w32(REG.deviceFeaturesSel, 0);
    let offered = BigInt(this.r32(REG.deviceFeatures));
    this.w32(REG.deviceFeaturesSel, 1);
    offered |= BigInt(this.r32(REG.deviceFeatures)) << 32n;
    const f = features ?? offered;
    this.w32(REG.driverFeaturesSel, 0);
    this.w32(REG.driverFeatures, Number(f & 0xffffffffn));
    this.w32(REG.driverFeaturesSel, 1);
    this.w32(REG.driverFeatures, Number(f >> 32n));
    this.w32(REG.status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    sizes.forEach((size, i) => this.setupQueue(i, size));
    this.w32(
      REG.status,
      STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK,
    );
  }

  setupQueue(index: number, size: number): TestQueue {
    const desc = this.alloc(16 * size, 16);
    const avail = this.alloc(6 + 2 * size, 2);
    const used = this.alloc(6 + 8 * size, 4);
    this.w32(REG.queueSel, index);
    this.w32(REG.queueNum, size);
    this.w32(REG.queueDescLow, desc % 2 ** 32);
    this.w32(REG.queueDescHigh, Math.floor(desc / 2 ** 32));
    this.w32(REG.queueDriverLow, avail % 2 ** 32);
    this.w32(REG.queueDriverHigh, Math.floor(avail / 2 ** 32));
    this.w32(REG.queueDeviceLow, used % 2 ** 32);
    this.w32(REG.queueDeviceHigh, Math.floor(used / 2 ** 32));
    this.w32(REG.queueReady, 1);
    const q = { size, desc, avail, used, nextDesc: 0, availIdx: 0, seenUsed: 0 };
    this.queues[index] = q;
    return q;
  }

  off(pa: number): number {
    return pa - this.ram.base;
  }

  /** Writes descriptor `i` of the table at `table`. */
  writeDesc(
    table: number,
    i: number,
    addr: number,
    len: number,
    flags: number,
    next: number,
  ): void {
    const o = this.off(table + 16 * i);
    this.view.setUint32(o, addr % 2 ** 32, true);
    this.view.setUint32(o + 4, Math.floor(addr / 2 ** 32), true);
    this.view.setUint32(o + 8, len, true);
    this.view.setUint16(o + 12, flags, true);
    this.view.setUint16(o + 14, next, true);
    this.ram.noteWrite(o, 16);
  }

  /** Lays buffers out as a chain and returns [descriptor addr, len, flags] per buffer plus buffer addresses. */
  private buffers(bufs: TestBuffer[]): { addr: number; len: number; write: boolean }[] {
    return bufs.map((b) => {
      if (b.data) {
        const addr = this.alloc(b.data.length);
        this.ram.write(addr, b.data);
        return { addr, len: b.data.length, write: false };
      }
      const len = b.writeLen ?? 0;
      const addr = this.alloc(len);
      this.ram.u8.fill(0xee, this.off(addr), this.off(addr) + len);
      if (len > 0) this.ram.noteWrite(this.off(addr), len);
      return { addr, len, write: true };
    });
  }

  /**
   * Submits one chain on queue `qi` (through an indirect table when asked),
   * notifies unless `notify` is false, and returns the writable buffers' addresses.
   */
  submit(
    qi: number,
    bufs: TestBuffer[],
    opts: { indirect?: boolean; notify?: boolean } = {},
  ): number[] {
    const q = this.queues[qi];
    const laid = this.buffers(bufs);
    let head: number;
    if (opts.indirect) {
      const table = this.alloc(16 * laid.length, 16);
      laid.forEach((b, i) =>
        this.writeDesc(
          table,
          i,
          b.addr,
          b.len,
          (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < laid.length ? VIRTQ_DESC_F_NEXT : 0),
          i + 1,
        ),
      );
      head = q.nextDesc;
      q.nextDesc = (q.nextDesc + 1) % q.size;
      this.writeDesc(q.desc, head, table, 16 * laid.length, VIRTQ_DESC_F_INDIRECT, 0);
    } else {
      const ids = laid.map(() => {
        const id = q.nextDesc;
        q.nextDesc = (q.nextDesc + 1) % q.size;
        return id;
      });
      head = ids[0];
      laid.forEach((b, i) =>
        this.writeDesc(
          q.desc,
          ids[i],
          b.addr,
          b.len,
          (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < laid.length ? VIRTQ_DESC_F_NEXT : 0),
          ids[i + 1] ?? 0,
        ),
      );
    }
    this.publish(qi, head, opts.notify);
    return laid.filter((b) => b.write).map((b) => b.addr);
  }

  /** Puts `head` in the avail ring, bumps avail.idx and notifies (unless told not to). */
  publish(qi: number, head: number, notify = true): void {
    const q = this.queues[qi];
    this.setU16(q.avail + 4 + 2 * (q.availIdx % q.size), head);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    this.setU16(q.avail + 2, q.availIdx);
    if (notify) this.w32(REG.queueNotify, qi);
  }

  /** Used elements added since the last call. */
  takeUsed(qi: number): { id: number; len: number }[] {
    const q = this.queues[qi];
    const idx = this.view.getUint16(this.off(q.used + 2), true);
    const out: { id: number; len: number }[] = [];
    while (q.seenUsed !== idx) {
      const o = this.off(q.used + 4 + 8 * (q.seenUsed % q.size));
      out.push({ id: this.view.getUint32(o, true), len: this.view.getUint32(o + 4, true) });
      q.seenUsed = (q.seenUsed + 1) & 0xffff;
    }
    return out;
  }

  /** avail.flags, used_event (at the end of the avail ring) and avail_event (end of the used ring). */
  setAvailFlags(qi: number, flags: number): void {
    this.setU16(this.queues[qi].avail, flags);
  }

  setUsedEvent(qi: number, v: number): void {
    const q = this.queues[qi];
    this.setU16(q.avail + 4 + 2 * q.size, v);
  }

  /** A 16-bit write of the driver, logged as a guest's store would be (ram.noteWrite). */
  private setU16(pa: number, v: number): void {
    this.view.setUint16(this.off(pa), v, true);
    this.ram.noteWrite(this.off(pa), 2);
  }

  availEvent(qi: number): number {
    const q = this.queues[qi];
    return this.view.getUint16(this.off(q.used + 4 + 8 * q.size), true);
  }

  bytes(pa: number, len: number): Uint8Array {
    return this.ram.read(pa, len);
  }
}

/**
 * A device for transport tests (ID 0x7e): each chain's readable bytes are
 * copied into its writable buffers; `features` adds device bits.
 */
export class EchoDevice implements VirtioDevice<{ config: number[] }> {
  readonly deviceId = 0x7e;
  readonly name = 'virtio-echo';
  readonly stateId = 'virtio-echo';
  readonly stateVersion = 1;
  readonly queueMax = 64;
  chains = 0;
  resets = 0;
  readonly config = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

  constructor(
    readonly numQueues = 2,
    readonly features = 1n,
  ) {}

  configRead(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.config[offset + i] ?? 0);
    return v >>> 0;
  }

  configWrite(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++)
      if (offset + i < 8) this.config[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void {
    for (let c = queue.pop(); c !== null; c = queue.pop()) {
      const n = Math.min(c.readableBytes, c.writableBytes);
      const data = new Uint8Array(n);
      Virtqueue.gather(host.ram, c.readable, 0, data);
      Virtqueue.scatter(host.ram, c.writable, 0, data);
      queue.push(c.head, n);
      this.chains++;
    }
    host.usedBuffers(index);
  }

  reset(): void {
    this.resets++;
  }

  /** Its state: the writable configuration bytes (chains and resets are counters). */
  saveState(): { config: number[] } {
    return { config: Array.from(this.config) };
  }

  checkState(data: unknown): { config: number[] } {
    return StateReader.read(data, (r) => ({ config: r.ints('config', 8, 8, 0, 0xff) }));
  }

  loadState(s: { config: number[] }): void {
    this.config.set(s.config);
  }
}
