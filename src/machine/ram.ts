// Guest RAM: one zero-filled buffer (the host commits pages only when touched),
// seen through typed views, with a dirty-page log for snapshots and migration.

export const PAGE_SIZE = 4096;

export class RamError extends Error {}

export class Ram {
  readonly base: number;
  readonly size: number;
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly i32: Int32Array;
  /** One byte per 4 KiB page: 1 when the page was written since the log was last cleared. */
  readonly dirty: Uint8Array;
  /** Bumped whenever the dirty log is cleared, so write caches know to refill. */
  dirtyEpoch = 0;

  constructor(base: number, size: number) {
    if (!Number.isInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new RamError(`RAM size must be a positive multiple of 4 KiB, got ${size}`);
    }
    if (size > 2 ** 32) throw new RamError(`RAM size is limited to 4 GiB, got ${size}`);
    this.base = base;
    this.size = size;
    this.buffer = new ArrayBuffer(size);
    this.u8 = new Uint8Array(this.buffer);
    this.u16 = new Uint16Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.dirty = new Uint8Array(size / PAGE_SIZE);
  }

  /** Offset of physical address `pa` in the buffer, or -1 when `pa .. pa+len` is not all RAM. */
  offsetOf(pa: number, len = 1): number {
    const off = pa - this.base;
    return off >= 0 && off + len <= this.size ? off : -1;
  }

  markDirty(off: number, len: number): void {
    const first = Math.floor(off / PAGE_SIZE);
    const last = Math.floor((off + len - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) this.dirty[p] = 1;
  }

  /** Returns the pages written since the last call and starts a new log. */
  takeDirtyPages(): number[] {
    const pages: number[] = [];
    for (let p = 0; p < this.dirty.length; p++) if (this.dirty[p]) pages.push(p);
    this.dirty.fill(0);
    this.dirtyEpoch++;
    return pages;
  }

  /** Copies `data` into RAM at physical address `pa` (used by loaders and devices). */
  write(pa: number, data: Uint8Array): void {
    const off = this.offsetOf(pa, data.length);
    if (off < 0) {
      throw new RamError(
        `cannot place ${data.length} bytes at 0x${pa.toString(16)}: outside RAM ` +
          `0x${this.base.toString(16)}..0x${(this.base + this.size).toString(16)}`,
      );
    }
    this.u8.set(data, off);
    if (data.length) this.markDirty(off, data.length);
  }

  read(pa: number, len: number): Uint8Array {
    const off = this.offsetOf(pa, len);
    if (off < 0) throw new RamError(`cannot read ${len} bytes at 0x${pa.toString(16)}: outside RAM`);
    return this.u8.slice(off, off + len);
  }
}
