// The sending side of disk mirroring (QEMU's drive-mirror, libvirt's --copy-storage-all): while
// a migration with `mirror` runs, every writable disk logs the chunks the guest writes
// (dirtyChunks.ts, through LayeredDisk.tracker), and the source sends them as BLOCKS: round 1
// every chunk that is not all zero (the destination's disks are new and read as zeros), each
// later round the chunks written since, and at the switch, the guest paused, the last ones.
// A chunk's bit is cleared before the chunk is read, so a write landing after the read marks
// it again. The source's disks are only read: a failed migration leaves them as they were.

import type { LayeredDisk } from '../disk/layeredDisk.js';
import { encodeBlocks, type Block } from './blocks.js';
import { DirtyChunks } from './dirtyChunks.js';

/** Chunks per BLOCKS message (1 MiB of data at most). */
export const CHUNKS_PER_BATCH = 16;

export class DiskMirror {
  private readonly trackers: DirtyChunks[];

  private constructor(private readonly disks: { index: number; disk: LayeredDisk }[]) {
    this.trackers = disks.map(({ disk }) => new DirtyChunks(disk.size));
  }

  /** A mirror of the writable disks among `disks` (read-only ones stay shared). */
  static of(disks: readonly LayeredDisk[]): DiskMirror {
    return new DiskMirror(disks.flatMap((disk, index) => (disk.readOnly ? [] : [{ index, disk }])));
  }

  /** The hello's `mirror`: each mirrored disk's index and size. */
  describe(): { disk: number; size: number }[] {
    return this.disks.map(({ index, disk }) => ({ disk: index, size: disk.size }));
  }

  /** Starts logging writes, every chunk marked (round 1 reads them all). */
  start(): void {
    this.disks.forEach(({ disk }, i) => {
      this.trackers[i].markAll();
      disk.tracker = this.trackers[i];
    });
  }

  /** Stops logging writes (the migration ended, either way). */
  stop(): void {
    for (const { disk } of this.disks) if (disk.tracker !== null) disk.tracker = null;
  }

  /** Bytes of the chunks waiting to be sent. */
  get dirtyBytes(): number {
    return this.trackers.reduce((n, t) => n + t.bytes, 0);
  }

  /**
   * The chunks dirty now, in batches: each batch is read when asked for (so a chunk written
   * before its turn goes with what was written), its chunks' bits cleared first. In round 1
   * (`skipZero`) a chunk of zeros is left out; later it goes as a zero block.
   */
  *batches(skipZero: boolean): Generator<{ payload: Uint8Array; chunks: number }> {
    const todo = this.trackers.flatMap((t, i) => t.list().map((c) => ({ i, c })));
    let blocks: Block[] = [];
    for (const { i, c } of todo) {
      const t = this.trackers[i];
      if (!t.take(c)) continue; // sent in a batch before this one
      const { index, disk } = this.disks[i];
      const offset = c * t.chunkBytes;
      const length = Math.min(t.chunkBytes, disk.size - offset);
      const data = new Uint8Array(length);
      disk.read(offset, data);
      const zero = isZero(data);
      if (!(zero && skipZero))
        blocks.push({ disk: index, offset, length, data: zero ? null : data });
      if (blocks.length === CHUNKS_PER_BATCH) {
        yield { payload: encodeBlocks(blocks), chunks: blocks.length };
        blocks = [];
      }
    }
    if (blocks.length > 0) yield { payload: encodeBlocks(blocks), chunks: blocks.length };
  }
}

function isZero(data: Uint8Array): boolean {
  const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = words.length << 2; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}
