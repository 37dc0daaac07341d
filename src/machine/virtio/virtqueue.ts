// A split virtqueue (virtio 1.2 section 2.7) over guest RAM: the device pops
// available descriptor chains (direct or through an indirect table), reads and
// writes their buffers, and pushes used elements, with the event-index and
// NO_INTERRUPT rules deciding when the driver is interrupted. Nothing the guest
// wrote is trusted: every index, length and address is checked, and anything
// malformed throws VirtqueueError (the transport then marks the device as
// needing a reset).

import type { Ram } from '../ram.js';

export class VirtqueueError extends Error {}

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

const DESC_SIZE = 16;
/** Largest split queue (virtio 1.2: Queue Size at most 32768). */
export const VIRTQ_MAX_SIZE = 32768;
/** Longest chain accepted through an indirect table (descriptors). */
export const VIRTQ_MAX_INDIRECT = 1024;

/** A guest buffer: physical address and length, already checked to lie in RAM. */
export interface Segment {
  addr: number;
  len: number;
}

/** One available descriptor chain: device-readable buffers first, then device-writable ones. */
export interface Chain {
  head: number;
  readable: Segment[];
  writable: Segment[];
  readableBytes: number;
  writableBytes: number;
}

export interface VirtqueueOptions {
  size: number;
  /** Guest-physical addresses of the descriptor table, driver (avail) and device (used) areas. */
  desc: number;
  driver: number;
  device: number;
  indirect: boolean;
  eventIdx: boolean;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

export class Virtqueue {
  readonly size: number;
  readonly desc: number;
  readonly driver: number;
  readonly device: number;
  private readonly indirect: boolean;
  private readonly eventIdx: boolean;
  private readonly ram: Ram;
  private readonly view: DataView;
  /** Next avail ring index the device will read (free-running u16). */
  lastAvail = 0;
  /** Next used ring index the device will write (free-running u16). */
  usedIdx = 0;
  /** used.idx when the driver was last considered for an interrupt. */
  signalledUsed = 0;

  /** Throws VirtqueueError when the size or the ring areas are invalid. */
  constructor(ram: Ram, opts: VirtqueueOptions) {
    const { size, desc, driver, device } = opts;
    if (!Number.isInteger(size) || size < 1 || size > VIRTQ_MAX_SIZE || (size & (size - 1)) !== 0) {
      throw new VirtqueueError(`queue size ${size} is not a power of 2 between 1 and 32768`);
    }
    const areas: [string, number, number, number][] = [
      ['descriptor table', desc, DESC_SIZE * size, 16],
      ['driver area', driver, 6 + 2 * size, 2],
      ['device area', device, 6 + 8 * size, 4],
    ];
    for (const [name, pa, len, align] of areas) {
      if (pa % align !== 0)
        throw new VirtqueueError(`${name} at ${hex(pa)} is not ${align}-byte aligned`);
      if (ram.offsetOf(pa, len) < 0) {
        throw new VirtqueueError(`${name} at ${hex(pa)} (${len} bytes) is outside RAM`);
      }
    }
    this.size = size;
    this.desc = desc;
    this.driver = driver;
    this.device = device;
    this.indirect = opts.indirect;
    this.eventIdx = opts.eventIdx;
    this.ram = ram;
    this.view = ram.view;
  }

  private off(pa: number): number {
    return pa - this.ram.base;
  }

  private u16(pa: number): number {
    return this.view.getUint16(this.off(pa), true);
  }

  private setU16(pa: number, v: number): void {
    const o = this.off(pa);
    this.view.setUint16(o, v & 0xffff, true);
    this.ram.noteWrite(o, 2);
  }

  /** avail.idx as the driver last wrote it. */
  availIdx(): number {
    return this.u16(this.driver + 2);
  }

  /** Number of chains the driver has made available and the device not popped yet. */
  pending(): number {
    const n = (this.availIdx() - this.lastAvail) & 0xffff;
    if (n > this.size) {
      throw new VirtqueueError(
        `avail.idx ${this.availIdx()} is ${n} entries ahead of the device, more than the queue size ${this.size}`,
      );
    }
    return n;
  }

  /** Pops the next available chain, or null when there is none. */
  pop(): Chain | null {
    if (this.pending() === 0) {
      if (this.eventIdx) this.setU16(this.device + 4 + 8 * this.size, this.lastAvail);
      return null;
    }
    const head = this.u16(this.driver + 4 + 2 * (this.lastAvail % this.size));
    const chain = this.walk(head);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (this.eventIdx) this.setU16(this.device + 4 + 8 * this.size, this.lastAvail);
    return chain;
  }

  private walk(head: number): Chain {
    if (head >= this.size) {
      throw new VirtqueueError(
        `avail ring names descriptor ${head}, outside the ${this.size}-entry table`,
      );
    }
    const chain: Chain = { head, readable: [], writable: [], readableBytes: 0, writableBytes: 0 };
    let table = this.desc;
    let count = this.size;
    let i = head;
    let seen = 0;
    let inIndirect = false;
    const v = this.view;
    for (;;) {
      if (++seen > count) {
        throw new VirtqueueError(
          `descriptor chain from head ${head} is longer than its ${count}-entry table (a loop?)`,
        );
      }
      const o = this.off(table + DESC_SIZE * i);
      const addr = v.getUint32(o, true) + v.getUint32(o + 4, true) * 4294967296;
      const len = v.getUint32(o + 8, true);
      const flags = v.getUint16(o + 12, true);
      const next = v.getUint16(o + 14, true);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) {
          throw new VirtqueueError(
            `descriptor ${i} is indirect but INDIRECT_DESC was not negotiated`,
          );
        }
        if (inIndirect) throw new VirtqueueError(`indirect table entry ${i} is itself indirect`);
        if (flags & VIRTQ_DESC_F_NEXT) {
          throw new VirtqueueError(`indirect descriptor ${i} also has the NEXT flag`);
        }
        if (len === 0 || len % DESC_SIZE !== 0 || len / DESC_SIZE > VIRTQ_MAX_INDIRECT) {
          throw new VirtqueueError(
            `indirect descriptor ${i} has length ${len}: not a multiple of 16 between 16 and ${VIRTQ_MAX_INDIRECT * 16}`,
          );
        }
        if (addr % DESC_SIZE !== 0 || this.ram.offsetOf(addr, len) < 0) {
          throw new VirtqueueError(
            `indirect table at ${hex(addr)} (${len} bytes) is outside RAM or unaligned`,
          );
        }
        if (chain.readable.length + chain.writable.length > 0) {
          throw new VirtqueueError(
            `indirect descriptor ${i} follows direct descriptors in one chain`,
          );
        }
        inIndirect = true;
        table = addr;
        count = len / DESC_SIZE;
        i = 0;
        seen = 0;
        continue;
      }
      if (this.ram.offsetOf(addr, len) < 0) {
        throw new VirtqueueError(`descriptor ${i} points outside RAM: ${hex(addr)} + ${len} bytes`);
      }
      if (flags & VIRTQ_DESC_F_WRITE) {
        chain.writable.push({ addr, len });
        chain.writableBytes += len;
      } else {
        if (chain.writable.length > 0) {
          throw new VirtqueueError(
            `descriptor ${i} is device-readable but follows a device-writable one`,
          );
        }
        chain.readable.push({ addr, len });
        chain.readableBytes += len;
      }
      if (chain.readableBytes + chain.writableBytes > 0xffffffff) {
        throw new VirtqueueError(`descriptor chain from head ${head} is larger than 4 GiB`);
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) return chain;
      if (next >= count) {
        throw new VirtqueueError(
          `descriptor ${i} links to ${next}, outside its ${count}-entry table`,
        );
      }
      i = next;
    }
  }

  /** Marks chain `head` used with `len` bytes written into its device-writable buffers. */
  push(head: number, len: number): void {
    const o = this.off(this.device + 4 + 8 * (this.usedIdx % this.size));
    this.view.setUint32(o, head, true);
    this.view.setUint32(o + 4, len >>> 0, true);
    this.ram.noteWrite(o, 8);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.setU16(this.device + 2, this.usedIdx);
  }

  /**
   * Whether the driver wants an interrupt for the used elements pushed since
   * the last call (event index rule, or avail.flags NO_INTERRUPT).
   */
  shouldInterrupt(): boolean {
    const old = this.signalledUsed;
    const now = this.usedIdx;
    this.signalledUsed = now;
    if (old === now) return false;
    if (this.eventIdx) {
      const event = this.u16(this.driver + 4 + 2 * this.size);
      return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (this.u16(this.driver) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** Copies `dest.length` bytes from the segments, starting `skip` bytes in. */
  static gather(ram: Ram, segs: Segment[], skip: number, dest: Uint8Array): void {
    let done = 0;
    for (const s of segs) {
      if (done >= dest.length) return;
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      const n = Math.min(s.len - skip, dest.length - done);
      const o = s.addr - ram.base + skip;
      dest.set(ram.u8.subarray(o, o + n), done);
      done += n;
      skip = 0;
    }
    if (done < dest.length) throw new VirtqueueError('read past the end of the buffers');
  }

  /** Copies `src` into the segments, starting `skip` bytes in (through noteWrite). */
  static scatter(ram: Ram, segs: Segment[], skip: number, src: Uint8Array): void {
    let done = 0;
    for (const s of segs) {
      if (done >= src.length) return;
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      const n = Math.min(s.len - skip, src.length - done);
      const o = s.addr - ram.base + skip;
      ram.u8.set(src.subarray(done, done + n), o);
      ram.noteWrite(o, n);
      done += n;
      skip = 0;
    }
    if (done < src.length) throw new VirtqueueError('write past the end of the buffers');
  }
}
