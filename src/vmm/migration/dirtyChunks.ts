// Which parts of a disk a guest wrote since they were last sent (disk mirroring, diskMirror.ts):
// one bit per fixed-size chunk, set by every write, discard and zeroing the disk sees. Taking
// a chunk clears its bit before the chunk is read, so a write that lands afterwards sets it
// again and the chunk goes once more in the next round.

/** Bytes per chunk: the unit a mirror reads, sends and tracks. */
export const CHUNK_BYTES = 64 << 10;

export class DirtyChunks {
  private readonly bits: Uint8Array;
  readonly chunks: number;
  private dirty = 0;

  constructor(
    /** The disk's size in bytes. */
    readonly size: number,
    readonly chunkBytes = CHUNK_BYTES,
  ) {
    this.chunks = Math.ceil(size / chunkBytes);
    this.bits = new Uint8Array(Math.ceil(this.chunks / 8));
  }

  /** Chunks whose bit is set. */
  get count(): number {
    return this.dirty;
  }

  /** Bytes of the chunks whose bit is set (the last chunk counts what the disk holds of it). */
  get bytes(): number {
    let n = this.dirty * this.chunkBytes;
    const last = this.chunks - 1;
    if (this.has(last)) n -= this.chunks * this.chunkBytes - this.size;
    return n;
  }

  has(chunk: number): boolean {
    return (this.bits[chunk >> 3] & (1 << (chunk & 7))) !== 0;
  }

  private set(chunk: number): void {
    const m = 1 << (chunk & 7);
    if ((this.bits[chunk >> 3] & m) === 0) {
      this.bits[chunk >> 3] |= m;
      this.dirty++;
    }
  }

  /** Marks every chunk `length` bytes at `offset` touch (nothing for an empty range). */
  mark(offset: number, length: number): void {
    if (length <= 0) return;
    const first = Math.max(0, Math.floor(offset / this.chunkBytes));
    const last = Math.min(this.chunks - 1, Math.floor((offset + length - 1) / this.chunkBytes));
    for (let c = first; c <= last; c++) this.set(c);
  }

  markAll(): void {
    for (let c = 0; c < this.chunks; c++) this.set(c);
  }

  /** Clears a chunk's bit; true when it was set. */
  take(chunk: number): boolean {
    if (!this.has(chunk)) return false;
    this.bits[chunk >> 3] &= ~(1 << (chunk & 7));
    this.dirty--;
    return true;
  }

  /** The chunks set now, in order (their bits stay set until taken). */
  list(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.bits.length; i++) {
      if (this.bits[i] === 0) continue;
      for (let b = 0; b < 8; b++) if (this.bits[i] & (1 << b)) out.push(i * 8 + b);
    }
    return out;
  }
}
