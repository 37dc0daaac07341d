// qcow2 disk images as a BlockBackend: synchronous reads and writes through
// the L1/L2 tables, copy-on-write from a backing file, compressed clusters
// (read; rewritten as normal clusters on write), v3 zero clusters, and
// refcount maintenance so that `qemu-img check` finds no errors or leaks.
//
// Allocation always appends at the end of the file. Metadata is written
// through in an order that leaves at worst leaked clusters after a crash:
// refcounts first, then data, then the L2 entry, then the L1 entry.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants as zlibConstants, inflateRawSync } from 'node:zlib';
import { BlockBackendError, type BlockBackend } from '../../machine/virtio/blockBackend.js';
import {
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  QCOW_MAGIC,
  QcowError,
  parseHeader,
  writeU64,
  type Qcow2Header,
} from './qcow2Header.js';
import { acquireDiskLock, type DiskLock } from './diskLock.js';
import { preadFull, pwriteFull, wrapIo } from './qcow2Io.js';

export { QcowError } from './qcow2Header.js';

export interface Qcow2OpenOptions {
  /** Open without write access; writes then throw. */
  readOnly?: boolean;
  /**
   * Take disk locks (see diskLock.ts): on the image (shared when read-only)
   * and, shared, on every file of its backing chain, held until close().
   */
  lock?: boolean;
}

/** What reads fall through to: a qcow2 image or a raw file. */
export interface Backing {
  readonly size: number;
  read(offset: number, dest: Uint8Array): void;
  close(): void;
}

const COPIED_HI = 0x80000000;
const COMPRESSED_HI = 0x40000000;
const OFFSET_HI_MASK = 0x00ffffff;
const MAX_BACKING_DEPTH = 16;
const CACHE_LIMIT = 4096;

type Mapping =
  | { kind: 'unallocated' }
  | { kind: 'zero'; host: number }
  | { kind: 'data'; host: number; copied: boolean }
  | { kind: 'compressed'; host: number; sectors: number };

class RawBacking implements Backing {
  readonly size: number;
  constructor(
    private readonly fd: number,
    private readonly name: string,
    private readonly lock: DiskLock | null,
  ) {
    this.size = fs.fstatSync(fd).size;
  }
  read(offset: number, dest: Uint8Array): void {
    const n = wrapIo(`reading backing file ${this.name}`, () => preadFull(this.fd, dest, offset));
    dest.fill(0, n);
  }
  close(): void {
    try {
      fs.closeSync(this.fd);
    } finally {
      this.lock?.release();
    }
  }
}

function isQcow2File(fd: number): boolean {
  const magic = new Uint8Array(4);
  return preadFull(fd, magic, 0) === 4 && new DataView(magic.buffer).getUint32(0) === QCOW_MAGIC;
}

export function openBacking(
  file: string,
  format: string | undefined,
  depth: number,
  from: string,
  lock: boolean,
): Backing {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new QcowError(
      code === 'ENOENT'
        ? `the backing file ${file} of ${from} does not exist`
        : `cannot open the backing file ${file} of ${from}: ${(e as Error).message}`,
    );
  }
  const purpose = `the backing file of ${from}`;
  let fmt: string;
  try {
    fmt = format ?? (isQcow2File(fd) ? 'qcow2' : 'raw');
    if (fmt === 'raw') {
      const held = lock ? acquireDiskLock(file, 'ro', { purpose }) : null;
      return new RawBacking(fd, file, held);
    }
  } catch (e) {
    fs.closeSync(fd);
    throw e instanceof BlockBackendError
      ? e
      : new QcowError(`cannot read the backing file ${file}: ${String(e)}`);
  }
  fs.closeSync(fd);
  if (fmt === 'qcow2') return Qcow2Image.openInternal(file, true, depth + 1, lock, purpose);
  throw new QcowError(
    `the backing file ${file} of ${from} has format '${fmt}'; only raw and qcow2 are supported`,
  );
}

export class Qcow2Image implements BlockBackend {
  readonly size: number;
  readonly readOnly: boolean;
  readonly clusterSize: number;
  readonly version: 2 | 3;
  /** The backing file name as stored in the image, if any. */
  readonly backingFile: string | undefined;

  private readonly fd: number;
  private readonly name: string;
  private readonly header: Qcow2Header;
  private readonly clusterBits: number;
  private readonly l2Entries: number;
  private readonly l1: Uint8Array;
  private readonly l1View: DataView;
  private refTable: Uint8Array;
  private refTableView: DataView;
  private refTableOffset: number;
  private refTableClusters: number;
  private readonly refBits: number;
  private readonly refEntries: number;
  private readonly backing: Backing | null;
  private readonly l2Cache = new Map<number, Uint8Array>();
  private readonly refCache = new Map<number, Uint8Array>();
  private lastCompressed: { host: number; data: Uint8Array } | null = null;
  private fileSize: number;
  private nextFree: number;
  private closed = false;
  private lock: DiskLock | null = null;

  /** Opens a qcow2 image (version 2 or 3). */
  static open(file: string, options: Qcow2OpenOptions = {}): Qcow2Image {
    return Qcow2Image.openInternal(file, options.readOnly ?? false, 0, options.lock ?? false);
  }

  /** @internal */
  static openInternal(
    file: string,
    readOnly: boolean,
    depth: number,
    lock = false,
    purpose?: string,
  ): Qcow2Image {
    if (depth > MAX_BACKING_DEPTH)
      throw new QcowError(`the backing chain of ${file} is too deep (a loop?)`);
    let fd: number;
    try {
      fd = fs.openSync(file, readOnly ? 'r' : 'r+');
    } catch (e) {
      throw new QcowError(`cannot open ${file}: ${(e as Error).message}`);
    }
    let held: DiskLock | null = null;
    try {
      // Before the header is read: a writer elsewhere may be changing it.
      if (lock) held = acquireDiskLock(file, readOnly ? 'ro' : 'rw', { purpose });
      const img = new Qcow2Image(fd, file, readOnly, depth, lock);
      img.lock = held;
      return img;
    } catch (e) {
      fs.closeSync(fd);
      held?.release();
      if (e instanceof BlockBackendError) throw e;
      throw new QcowError(`cannot open ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private constructor(
    fd: number,
    file: string,
    readOnly: boolean,
    depth: number,
    lockChain: boolean,
  ) {
    this.fd = fd;
    this.name = file;
    this.readOnly = readOnly;
    this.fileSize = fs.fstatSync(fd).size;
    const first = new Uint8Array(Math.min(this.fileSize, 2 * 1024 * 1024));
    preadFull(fd, first, 0);
    const h = parseHeader(first, this.fileSize, file);
    this.header = h;
    this.version = h.version;
    this.size = h.size;
    this.clusterBits = h.clusterBits;
    this.clusterSize = 2 ** h.clusterBits;
    this.l2Entries = this.clusterSize / 8;
    this.refBits = 2 ** h.refcountOrder;
    this.refEntries = (this.clusterSize * 8) / this.refBits;
    this.backingFile = h.backingFile;
    if (!readOnly) {
      if (h.incompatibleFeatures & INCOMPAT_CORRUPT) {
        throw new QcowError(
          `${file} is marked corrupt; open it read-only or repair it with qemu-img check -r all`,
        );
      }
      if (h.incompatibleFeatures & INCOMPAT_DIRTY) {
        throw new QcowError(
          `${file} was not closed cleanly (dirty bit set, lazy refcounts); repair it with qemu-img check -r all or open it read-only`,
        );
      }
    }

    this.l1 = new Uint8Array(h.l1Size * 8);
    preadFull(fd, this.l1, h.l1TableOffset);
    this.l1View = new DataView(this.l1.buffer);
    this.refTableOffset = h.refcountTableOffset;
    this.refTableClusters = h.refcountTableClusters;
    this.refTable = new Uint8Array(h.refcountTableClusters * this.clusterSize);
    preadFull(fd, this.refTable, h.refcountTableOffset);
    this.refTableView = new DataView(this.refTable.buffer);
    this.nextFree = Math.ceil(this.fileSize / this.clusterSize) * this.clusterSize;

    if (!readOnly && h.version === 3 && h.autoclearFeatures !== 0n) {
      // We do not maintain what the autoclear bits promise (e.g. bitmaps): clear them.
      const b = new Uint8Array(8);
      pwriteFull(fd, b, 88);
    }

    if (h.backingFile !== undefined) {
      const resolved = path.isAbsolute(h.backingFile)
        ? h.backingFile
        : path.resolve(path.dirname(file), h.backingFile);
      this.backing = openBacking(resolved, h.backingFormat, depth, file, lockChain);
    } else {
      this.backing = null;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.backing?.close();
      fs.closeSync(this.fd);
    } finally {
      this.lock?.release();
      this.lock = null;
    }
  }

  flush(): void {
    this.guard('flushing', () => {
      if (!this.readOnly) fs.fsyncSync(this.fd);
    });
  }

  read(offset: number, dest: Uint8Array): void {
    this.checkRange(offset, dest.length);
    this.guard('reading', () => {
      const cs = this.clusterSize;
      let pos = 0;
      while (pos < dest.length) {
        const vo = offset + pos;
        const inCluster = vo % cs;
        const n = Math.min(cs - inCluster, dest.length - pos);
        this.readPiece(vo - inCluster, inCluster, dest.subarray(pos, pos + n));
        pos += n;
      }
    });
  }

  write(offset: number, data: Uint8Array): void {
    this.checkWritable();
    this.checkRange(offset, data.length);
    this.guard('writing', () => {
      const cs = this.clusterSize;
      let pos = 0;
      while (pos < data.length) {
        const vo = offset + pos;
        const inCluster = vo % cs;
        const n = Math.min(cs - inCluster, data.length - pos);
        this.writePiece(vo - inCluster, inCluster, data.subarray(pos, pos + n));
        pos += n;
      }
    });
  }

  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }

  /** Zeros a range: whole clusters become zero clusters (v3) or unallocated (v2 without backing). */
  writeZeroes(offset: number, length: number): void {
    this.checkWritable();
    this.checkRange(offset, length);
    this.guard('writing zeros', () => {
      const cs = this.clusterSize;
      let pos = 0;
      while (pos < length) {
        const vo = offset + pos;
        const inCluster = vo % cs;
        const n = Math.min(cs - inCluster, length - pos);
        const whole = inCluster === 0 && (n === cs || vo + n === this.size);
        if (!whole || !this.zeroCluster(vo)) {
          this.writePiece(vo - inCluster, inCluster, new Uint8Array(n));
        }
        pos += n;
      }
    });
  }

  // ---- checks and error wrapping ----

  private checkRange(offset: number, length: number): void {
    if (this.closed) throw new QcowError(`${this.name} is closed`);
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new QcowError(
        `access of ${length} bytes at ${offset} is outside the ${this.size}-byte disk ${this.name}`,
      );
    }
  }

  private checkWritable(): void {
    if (this.readOnly) throw new QcowError(`${this.name} is opened read-only`);
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof BlockBackendError) throw e;
      throw new QcowError(
        `${what} ${this.name} failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  private corrupt(what: string): QcowError {
    return new QcowError(`${this.name} is corrupt: ${what}; repair it with qemu-img check -r all`);
  }

  /** A host cluster offset taken from a table must be aligned and must not hit the header or the top tables. */
  private checkHostCluster(host: number, what: string): void {
    const cs = this.clusterSize;
    if (host % cs !== 0) throw this.corrupt(`${what} at ${host} is not cluster aligned`);
    if (host < cs) throw this.corrupt(`${what} points into the header`);
    const h = this.header;
    if (host >= h.l1TableOffset && host < h.l1TableOffset + h.l1Size * 8) {
      throw this.corrupt(`${what} at ${host} overlaps the L1 table`);
    }
    if (host >= this.refTableOffset && host < this.refTableOffset + this.refTableClusters * cs) {
      throw this.corrupt(`${what} at ${host} overlaps the refcount table`);
    }
  }

  // ---- table access ----

  private l1Offset(i: number): { host: number; copied: boolean } {
    const hi = this.l1View.getUint32(i * 8);
    const lo = this.l1View.getUint32(i * 8 + 4);
    return {
      host: (hi & OFFSET_HI_MASK) * 0x100000000 + (lo - (lo & 0x1ff)),
      copied: (hi & COPIED_HI) !== 0,
    };
  }

  private loadTable(cache: Map<number, Uint8Array>, host: number, what: string): Uint8Array {
    let t = cache.get(host);
    if (t) return t;
    this.checkHostCluster(host, what);
    if (host + this.clusterSize > this.fileSize)
      throw this.corrupt(`${what} at ${host} lies past the end of the file`);
    t = new Uint8Array(this.clusterSize);
    preadFull(this.fd, t, host);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as number);
    cache.set(host, t);
    return t;
  }

  private lookup(clusterVo: number): Mapping {
    const vc = clusterVo / this.clusterSize;
    const l1i = Math.floor(vc / this.l2Entries);
    if (l1i >= this.header.l1Size) return { kind: 'unallocated' };
    const l2 = this.l1Offset(l1i).host;
    if (l2 === 0) return { kind: 'unallocated' };
    const t = this.loadTable(this.l2Cache, l2, 'an L2 table');
    return this.decodeL2(new DataView(t.buffer), vc % this.l2Entries);
  }

  private decodeL2(dv: DataView, i: number): Mapping {
    const hi = dv.getUint32(i * 8);
    const lo = dv.getUint32(i * 8 + 4);
    if (hi & COMPRESSED_HI) {
      const e = (BigInt(hi) << 32n) | BigInt(lo);
      const x = BigInt(62 - (this.clusterBits - 8));
      const host = Number(e & ((1n << x) - 1n));
      const sectors = Number((e >> x) & ((1n << BigInt(this.clusterBits - 8)) - 1n)) + 1;
      return { kind: 'compressed', host, sectors };
    }
    const host = (hi & OFFSET_HI_MASK) * 0x100000000 + (lo - (lo & 0x1ff));
    if (this.version === 3 && lo & 1) return { kind: 'zero', host };
    if (host === 0) return { kind: 'unallocated' };
    return { kind: 'data', host, copied: (hi & COPIED_HI) !== 0 };
  }

  // ---- reading ----

  private readPiece(clusterVo: number, inCluster: number, dest: Uint8Array): void {
    const m = this.lookup(clusterVo);
    switch (m.kind) {
      case 'unallocated':
        this.readBacking(clusterVo + inCluster, dest);
        return;
      case 'zero':
        dest.fill(0);
        return;
      case 'data': {
        this.checkHostCluster(m.host, 'a data cluster');
        if (m.host >= this.fileSize)
          throw this.corrupt(`data cluster at ${m.host} lies past the end of the file`);
        const n = preadFull(this.fd, dest, m.host + inCluster);
        dest.fill(0, n);
        return;
      }
      case 'compressed':
        dest.set(this.decompress(m.host, m.sectors).subarray(inCluster, inCluster + dest.length));
        return;
    }
  }

  private readBacking(offset: number, dest: Uint8Array): void {
    const b = this.backing;
    const avail = b ? Math.max(0, Math.min(dest.length, b.size - offset)) : 0;
    if (b && avail > 0) b.read(offset, dest.subarray(0, avail));
    dest.fill(0, avail);
  }

  /** Byte range [start, end) of the sectors holding a compressed cluster. */
  private compressedSpan(host: number, sectors: number): { start: number; end: number } {
    const start = host - (host % 512);
    return { start, end: start + sectors * 512 };
  }

  private decompress(host: number, sectors: number): Uint8Array {
    if (this.lastCompressed?.host === host) return this.lastCompressed.data;
    const { end } = this.compressedSpan(host, sectors);
    if (host < this.clusterSize || host >= this.fileSize) {
      throw this.corrupt(`compressed cluster at ${host} lies outside the file`);
    }
    const raw = new Uint8Array(Math.min(end, this.fileSize) - host);
    preadFull(this.fd, raw, host);
    let out: Uint8Array;
    try {
      out = inflateRawSync(raw, {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        maxOutputLength: this.clusterSize,
      });
    } catch (e) {
      throw this.corrupt(
        `compressed cluster at ${host} does not inflate (${(e as Error).message})`,
      );
    }
    if (out.length !== this.clusterSize) {
      throw this.corrupt(
        `compressed cluster at ${host} inflates to ${out.length} bytes, not ${this.clusterSize}`,
      );
    }
    this.lastCompressed = { host, data: out };
    return out;
  }

  // ---- writing ----

  private writePiece(clusterVo: number, inCluster: number, data: Uint8Array): void {
    const cs = this.clusterSize;
    const vc = clusterVo / cs;
    const l1i = Math.floor(vc / this.l2Entries);
    const l2i = vc % this.l2Entries;
    const l2 = this.writableL2(l1i);
    const t = this.loadTable(this.l2Cache, l2, 'an L2 table');
    const dv = new DataView(t.buffer);
    const m = this.decodeL2(dv, l2i);

    if (
      (m.kind === 'data' && m.copied) ||
      (m.kind === 'zero' && m.host !== 0 && dv.getUint32(l2i * 8) & COPIED_HI)
    ) {
      // The cluster is ours alone: write in place.
      this.checkHostCluster(m.host, 'a data cluster');
      if (m.kind === 'data') {
        pwriteFull(this.fd, data, m.host + inCluster);
        this.grew(m.host + inCluster + data.length);
        return;
      }
      // A preallocated zero cluster: fill it, then clear the zero flag.
      const full = new Uint8Array(cs);
      full.set(data, inCluster);
      pwriteFull(this.fd, full, m.host);
      this.grew(m.host + cs);
      this.setL2Entry(l2, t, l2i, m.host, true);
      return;
    }

    // Copy-on-write into a fresh cluster.
    const full = new Uint8Array(cs);
    if (data.length < cs)
      this.readPiece(clusterVo, 0, full.subarray(0, Math.min(cs, this.size - clusterVo)));
    full.set(data, inCluster);
    const host = this.allocCluster();
    pwriteFull(this.fd, full, host);
    this.grew(host + cs);
    this.setL2Entry(l2, t, l2i, host, true);
    this.release(m);
  }

  /** Replaces a v3 cluster by a zero cluster, or a v2 one by a hole; false if that cannot express zeros here. */
  private zeroCluster(clusterVo: number): boolean {
    const m = this.lookup(clusterVo);
    if (this.version === 2) {
      if (this.backing) return false;
      if (m.kind === 'unallocated') return true;
    } else {
      if (m.kind === 'zero' && m.host === 0) return true;
      if (m.kind === 'unallocated' && !this.backing) return true;
    }
    const vc = clusterVo / this.clusterSize;
    const l1i = Math.floor(vc / this.l2Entries);
    const l2i = vc % this.l2Entries;
    const l2 = this.writableL2(l1i);
    const t = this.loadTable(this.l2Cache, l2, 'an L2 table');
    const now = this.decodeL2(new DataView(t.buffer), l2i); // the L2 table may have been copied
    this.setL2Entry(l2, t, l2i, 0, false, this.version === 3);
    this.release(now);
    return true;
  }

  private setL2Entry(
    l2: number,
    t: Uint8Array,
    i: number,
    host: number,
    copied: boolean,
    zero = false,
  ): void {
    const dv = new DataView(t.buffer);
    writeU64(dv, i * 8, host + (zero ? 1 : 0));
    if (copied) dv.setUint32(i * 8, dv.getUint32(i * 8) | COPIED_HI);
    pwriteFull(this.fd, t.subarray(i * 8, i * 8 + 8), l2 + i * 8);
    if (this.lastCompressed) this.lastCompressed = null;
  }

  /** Drops the reference an old L2 entry held. */
  private release(m: Mapping): void {
    if (m.kind === 'data' || (m.kind === 'zero' && m.host !== 0)) {
      this.decref(m.host / this.clusterSize);
    } else if (m.kind === 'compressed') {
      const { start, end } = this.compressedSpan(m.host, m.sectors);
      const cs = this.clusterSize;
      for (let c = Math.floor(start / cs); c <= Math.floor((end - 1) / cs); c++) this.decref(c);
    }
  }

  /** Returns the offset of an L2 table for `l1i` that only the active L1 table references. */
  private writableL2(l1i: number): number {
    if (l1i >= this.header.l1Size) throw this.corrupt(`the L1 table does not cover the disk`);
    const { host: old, copied } = this.l1Offset(l1i);
    if (old !== 0 && copied) return old;
    const table =
      old !== 0
        ? this.loadTable(this.l2Cache, old, 'an L2 table').slice()
        : new Uint8Array(this.clusterSize);
    const host = this.allocCluster();
    pwriteFull(this.fd, table, host);
    this.grew(host + this.clusterSize);
    if (this.l2Cache.size >= CACHE_LIMIT)
      this.l2Cache.delete(this.l2Cache.keys().next().value as number);
    this.l2Cache.set(host, table);
    writeU64(this.l1View, l1i * 8, host);
    this.l1View.setUint32(l1i * 8, this.l1View.getUint32(l1i * 8) | COPIED_HI);
    pwriteFull(
      this.fd,
      this.l1.subarray(l1i * 8, l1i * 8 + 8),
      this.header.l1TableOffset + l1i * 8,
    );
    if (old !== 0) {
      this.l2Cache.delete(old);
      this.decref(old / this.clusterSize);
    }
    return host;
  }

  private grew(end: number): void {
    if (end > this.fileSize) this.fileSize = end;
  }

  // ---- refcounts ----

  private refBlockOffset(bi: number): number {
    if (bi >= this.refTable.length / 8) return 0;
    const hi = this.refTableView.getUint32(bi * 8);
    const lo = this.refTableView.getUint32(bi * 8 + 4);
    if (hi >= 0x200000) throw this.corrupt(`refcount table entry ${bi} is out of range`);
    return hi * 0x100000000 + (lo - (lo & 0x1ff));
  }

  private getRef(block: Uint8Array, i: number): number {
    const bits = this.refBits;
    if (bits < 8) {
      const per = 8 / bits;
      return (block[Math.floor(i / per)] >> ((i % per) * bits)) & ((1 << bits) - 1);
    }
    const dv = new DataView(block.buffer);
    if (bits === 8) return block[i];
    if (bits === 16) return dv.getUint16(i * 2);
    if (bits === 32) return dv.getUint32(i * 4);
    const hi = dv.getUint32(i * 8);
    if (hi >= 0x200000) throw this.corrupt('a refcount is out of range');
    return hi * 0x100000000 + dv.getUint32(i * 8 + 4);
  }

  /** Sets entry `i` of `block` in memory; returns the byte range touched. */
  private setRef(block: Uint8Array, i: number, v: number): [number, number] {
    const bits = this.refBits;
    if (bits < 64 && v >= 2 ** bits)
      throw new QcowError(`${this.name}: a refcount would overflow ${bits} bits`);
    if (bits < 8) {
      const per = 8 / bits;
      const byte = Math.floor(i / per);
      const shift = (i % per) * bits;
      const mask = ((1 << bits) - 1) << shift;
      block[byte] = (block[byte] & ~mask) | (v << shift);
      return [byte, byte + 1];
    }
    const dv = new DataView(block.buffer);
    const w = bits / 8;
    if (bits === 8) block[i] = v;
    else if (bits === 16) dv.setUint16(i * 2, v);
    else if (bits === 32) dv.setUint32(i * 4, v);
    else writeU64(dv, i * 8, v);
    return [i * w, i * w + w];
  }

  private refcount(c: number): number {
    const bo = this.refBlockOffset(Math.floor(c / this.refEntries));
    if (bo === 0) return 0;
    return this.getRef(this.loadTable(this.refCache, bo, 'a refcount block'), c % this.refEntries);
  }

  /** Writes a refcount through to the file; the refcount block must exist. */
  private storeRefcount(c: number, v: number): void {
    const bo = this.refBlockOffset(Math.floor(c / this.refEntries));
    if (bo === 0) throw this.corrupt(`cluster ${c} has no refcount block`);
    const block = this.loadTable(this.refCache, bo, 'a refcount block');
    const [a, b] = this.setRef(block, c % this.refEntries, v);
    pwriteFull(this.fd, block.subarray(a, b), bo + a);
  }

  private decref(c: number): void {
    const v = this.refcount(c);
    if (v === 0) throw this.corrupt(`cluster ${c} is referenced but has refcount 0`);
    this.storeRefcount(c, v - 1);
  }

  /** Allocates one cluster at the end of the file, with refcount 1. */
  private allocCluster(): number {
    const cs = this.clusterSize;
    for (;;) {
      const c = this.nextFree / cs;
      const bi = Math.floor(c / this.refEntries);
      if (bi >= this.refTable.length / 8) {
        this.growRefTable(bi);
        continue;
      }
      if (this.refBlockOffset(bi) === 0) {
        // The new refcount block covers itself: it is the first free cluster of its range.
        const block = new Uint8Array(cs);
        this.setRef(block, c % this.refEntries, 1);
        pwriteFull(this.fd, block, c * cs);
        this.grew((c + 1) * cs);
        this.refCache.set(c * cs, block);
        writeU64(this.refTableView, bi * 8, c * cs);
        pwriteFull(
          this.fd,
          this.refTable.subarray(bi * 8, bi * 8 + 8),
          this.refTableOffset + bi * 8,
        );
        this.nextFree += cs;
        continue;
      }
      this.nextFree += cs;
      if (this.refcount(c) !== 0) continue; // in use though past the end of the file: skip
      this.storeRefcount(c, 1);
      return c * cs;
    }
  }

  /** Moves the refcount table to a larger one at the end of the file covering block index `minIndex`. */
  private growRefTable(minIndex: number): void {
    const cs = this.clusterSize;
    const E = this.refEntries;
    const oldEntries = this.refTable.length / 8;
    const start = this.nextFree / cs;
    let n = Math.max(this.refTableClusters * 2, Math.ceil(((minIndex + 1) * 8) / cs));
    let missing: number[] = [];
    for (;;) {
      let nb = 0;
      for (;;) {
        const end = start + n + nb;
        missing = [];
        for (let bi = Math.floor(start / E); bi <= Math.floor((end - 1) / E); bi++) {
          if (bi >= oldEntries || this.refBlockOffset(bi) === 0) missing.push(bi);
        }
        if (missing.length === nb) break;
        nb = missing.length;
      }
      const maxIndex = Math.max(minIndex, Math.floor((start + n + nb - 1) / E));
      if ((n * cs) / 8 > maxIndex) break;
      n = Math.ceil(((maxIndex + 1) * 8) / cs) + 1;
    }
    if (n * cs > 8 * 1024 * 1024)
      throw new QcowError(`${this.name}: the refcount table cannot grow any further`);

    const table = new Uint8Array(n * cs);
    table.set(this.refTable);
    const tableView = new DataView(table.buffer);
    const blocks = new Map<number, Uint8Array>();
    missing.forEach((bi, k) => {
      blocks.set(bi, new Uint8Array(cs));
      writeU64(tableView, bi * 8, (start + n + k) * cs);
    });
    const end = start + n + missing.length;
    for (let c = start; c < end; c++) {
      const bi = Math.floor(c / E);
      const fresh = blocks.get(bi);
      if (fresh) this.setRef(fresh, c % E, 1);
      else this.storeRefcount(c, 1);
    }
    missing.forEach((bi, k) => {
      const block = blocks.get(bi) as Uint8Array;
      pwriteFull(this.fd, block, (start + n + k) * cs);
      this.refCache.set((start + n + k) * cs, block);
    });
    pwriteFull(this.fd, table, start * cs);
    this.grew(end * cs);
    fs.fsyncSync(this.fd);

    // Switch the header to the new table.
    const hdr = new Uint8Array(12);
    const hv = new DataView(hdr.buffer);
    writeU64(hv, 0, start * cs);
    hv.setUint32(8, n);
    pwriteFull(this.fd, hdr, 48);
    fs.fsyncSync(this.fd);

    const oldOffset = this.refTableOffset;
    const oldClusters = this.refTableClusters;
    this.refTable = table;
    this.refTableView = tableView;
    this.refTableOffset = start * cs;
    this.refTableClusters = n;
    this.nextFree = end * cs;
    for (let k = 0; k < oldClusters; k++) this.decref(oldOffset / cs + k);
  }
}
