// A minimal virtio driver for unit tests: negotiates features, lays out split queues in RAM,
// submits descriptor chains (direct or indirect) and reads the used ring back, as a guest
// driver would. RingDriver does the rings; each transport's driver (TestDriver here over the
// mmio registers, PciTestDriver in virtioPciTestDriver.ts) the negotiation, queue setup and
// notifications.

import type { Ram } from '../ram.js';
import { REG, type VirtioMmio } from './mmio.js';
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
} from './device.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './virtqueue.js';

export interface TestBuffer {
  /** Bytes the device reads (device-readable buffer). */
  data?: Uint8Array;
  /** Length of a device-writable buffer. */
  writeLen?: number;
  /** Where the buffer starts: a multiple of this (default 16). */
  align?: number;
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

export abstract class RingDriver {
  readonly ram: Ram;
  readonly view: DataView;
  readonly queues: TestQueue[] = [];
  private next: number;

  /** Uses RAM from `heap` (a physical address) up for rings and buffers. */
  constructor(ram: Ram, heap = ram.base + 0x10000) {
    this.ram = ram;
    this.view = ram.view;
    this.next = heap;
  }

  alloc(len: number, align = 16): number {
    this.next = Math.ceil(this.next / align) * align;
    const pa = this.next;
    this.next += Math.max(len, 1);
    return pa;
  }

  /** Resets the device and acknowledges it (ACKNOWLEDGE | DRIVER). */
  protected abstract start(): void;
  /** The 64 feature bits the device offers. */
  protected abstract offered(): bigint;
  /** Writes the driver's 64 feature bits. */
  protected abstract accept(features: bigint): void;
  protected abstract setStatus(status: number): void;
  /** Gives queue `index` its size and ring addresses and enables it. */
  protected abstract program(index: number, q: TestQueue): void;
  /** Notifies queue `qi`. */
  abstract kick(qi: number): void;

  /** Negotiates `features` (default: everything offered) and sets up `sizes.length` queues. */
  init(sizes: number[] = [16], features?: bigint): void {
    this.start();
    this.accept(features ?? this.offered());
    this.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    sizes.forEach((size, i) => this.setupQueue(i, size));
    this.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  }

  setupQueue(index: number, size: number): TestQueue {
    const desc = this.alloc(16 * size, 16);
    const avail = this.alloc(6 + 2 * size, 2);
    const used = this.alloc(6 + 8 * size, 4);
    const q = { size, desc, avail, used, nextDesc: 0, availIdx: 0, seenUsed: 0 };
    this.program(index, q);
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
        const addr = this.alloc(b.data.length, b.align);
        this.ram.write(addr, b.data);
        return { addr, len: b.data.length, write: false };
      }
      const len = b.writeLen ?? 0;
      const addr = this.alloc(len, b.align);
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
    if (notify) this.kick(qi);
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

/** The test driver over the virtio-mmio registers. */
export class TestDriver extends RingDriver {
  readonly t: VirtioMmio;

  constructor(ram: Ram, t: VirtioMmio, heap?: number) {
    super(ram, heap);
    this.t = t;
  }

  w32(off: number, v: number): void {
    this.t.write(off, 4, v >>> 0);
  }

  r32(off: number): number {
    return this.t.read(off, 4);
  }

  protected start(): void {
    this.w32(REG.status, 0);
    this.w32(REG.status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  }

  protected offered(): bigint {
    this.w32(REG.deviceFeaturesSel, 0);
    let offered = BigInt(this.r32(REG.deviceFeatures));
    this.w32(REG.deviceFeaturesSel, 1);
    offered |= BigInt(this.r32(REG.deviceFeatures)) << 32n;
    return offered;
  }

  protected accept(f: bigint): void {
    this.w32(REG.driverFeaturesSel, 0);
    this.w32(REG.driverFeatures, Number(f & 0xffffffffn));
    this.w32(REG.driverFeaturesSel, 1);
    this.w32(REG.driverFeatures, Number(f >> 32n));
  }

  protected setStatus(status: number): void {
    this.w32(REG.status, status);
  }

  protected program(index: number, q: TestQueue): void {
    this.w32(REG.queueSel, index);
    this.w32(REG.queueNum, q.size);
    this.w32(REG.queueDescLow, q.desc % 2 ** 32);
    this.w32(REG.queueDescHigh, Math.floor(q.desc / 2 ** 32));
    this.w32(REG.queueDriverLow, q.avail % 2 ** 32);
    this.w32(REG.queueDriverHigh, Math.floor(q.avail / 2 ** 32));
    this.w32(REG.queueDeviceLow, q.used % 2 ** 32);
    this.w32(REG.queueDeviceHigh, Math.floor(q.used / 2 ** 32));
    this.w32(REG.queueReady, 1);
  }

  kick(qi: number): void {
    this.w32(REG.queueNotify, qi);
  }
}
