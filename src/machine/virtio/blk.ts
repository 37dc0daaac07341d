// virtio-blk (virtio 1.2 section 5.2, device ID 2) on a BlockBackend: one
// request queue; reads, writes, flush, discard, write-zeroes and GET_ID, with
// the capacity, block size, segment limits and discard/write-zeroes limits in
// the configuration space. Requests that are malformed in their framing (no
// room for the header or the status byte) are a driver bug and put the device
// into NEEDS_RESET; requests that are well framed but wrong (past the end,
// read-only disk, unknown type) are answered with IOERR or UNSUPP.
//
//   const blk = new VirtioBlk(new MemoryBlockBackend(16 << 20), { serial: 'disk0' });
//   bus.map('virtio7', base, 0x1000, new VirtioMmio(ram, blk, irq, log, 'virtio7'));

import { BlockBackendError, type BlockBackend } from './blockBackend.js';
import { VirtioError, type VirtioDevice, type VirtioQueueHost } from './device.js';
import { Virtqueue, type Chain } from './virtqueue.js';
import { checkEmpty } from '../state/stateReader.js';

export const VIRTIO_ID_BLOCK = 2;

export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

export const VIRTIO_BLK_ID_BYTES = 20;
const SECTOR = 512;
const HEADER = 16;
/** Bytes of one discard / write-zeroes range: sector u64, num_sectors u32, flags u32. */
const RANGE = 16;
const QUEUE_MAX = 256;
/** Data segments per request the driver may use (seg_max). */
export const BLK_SEG_MAX = QUEUE_MAX - 2;
/** Largest single data segment (size_max). */
export const BLK_SIZE_MAX = 1 << 20;
/** Limits for discard and write-zeroes requests. */
export const BLK_MAX_RANGE_SECTORS = (32 << 20) / SECTOR;
export const BLK_MAX_RANGES = 16;

/** Offsets in the configuration space (struct virtio_blk_config). */
const CFG = {
  capacity: 0,
  sizeMax: 8,
  segMax: 12,
  blkSize: 20,
  numQueues: 34,
  maxDiscardSectors: 36,
  maxDiscardSeg: 40,
  discardSectorAlignment: 44,
  maxWriteZeroesSectors: 48,
  maxWriteZeroesSeg: 52,
  writeZeroesMayUnmap: 56,
  size: 60,
} as const;

export interface VirtioBlkConfig {
  /** Serial number the guest reads with GET_ID (up to 20 bytes). */
  serial?: string;
}

export interface VirtioBlkCounters {
  requests: number;
  readRequests: number;
  writeRequests: number;
  flushes: number;
  discards: number;
  writeZeroes: number;
  errors: number;
  bytesRead: number;
  bytesWritten: number;
}

/** virtio-blk keeps no state beyond its transport: requests complete before the guest runs on. */
export type VirtioBlkState = Record<string, never>;

function zeroCounters(): VirtioBlkCounters {
  return {
    requests: 0,
    readRequests: 0,
    writeRequests: 0,
    flushes: 0,
    discards: 0,
    writeZeroes: 0,
    errors: 0,
    bytesRead: 0,
    bytesWritten: 0,
  };
}

export class VirtioBlk implements VirtioDevice<VirtioBlkState> {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly name = 'virtio-blk';
  readonly stateId = 'virtio-blk';
  readonly stateVersion = 1;
  readonly numQueues = 1;
  readonly queueMax = QUEUE_MAX;
  readonly features: bigint;
  readonly backend: BlockBackend;
  readonly serial: Uint8Array;
  /** Requests and bytes since the device was made (kept across resets; not state). */
  counters: VirtioBlkCounters = zeroCounters();
  private readonly config: Uint8Array;

  constructor(backend: BlockBackend, cfg: VirtioBlkConfig = {}) {
    if (!Number.isInteger(backend.size) || backend.size % SECTOR !== 0) {
      throw new VirtioError(
        `a virtio disk must be a multiple of 512 bytes; this one has ${backend.size}`,
      );
    }
    this.backend = backend;
    const serial = new TextEncoder().encode(cfg.serial ?? '');
    if (serial.length > VIRTIO_BLK_ID_BYTES) {
      throw new VirtioError(
        `disk serial "${cfg.serial}" is longer than ${VIRTIO_BLK_ID_BYTES} bytes`,
      );
    }
    this.serial = serial;
    const canDiscard = typeof backend.discard === 'function' && !backend.readOnly;
    const canZero = typeof backend.writeZeroes === 'function' && !backend.readOnly;
    let f =
      (1n << BigInt(VIRTIO_BLK_F_SIZE_MAX)) |
      (1n << BigInt(VIRTIO_BLK_F_SEG_MAX)) |
      (1n << BigInt(VIRTIO_BLK_F_BLK_SIZE)) |
      (1n << BigInt(VIRTIO_BLK_F_FLUSH));
    if (backend.readOnly) f |= 1n << BigInt(VIRTIO_BLK_F_RO);
    if (canDiscard) f |= 1n << BigInt(VIRTIO_BLK_F_DISCARD);
    if (canZero) f |= 1n << BigInt(VIRTIO_BLK_F_WRITE_ZEROES);
    this.features = f;

    this.config = new Uint8Array(CFG.size);
    const v = new DataView(this.config.buffer);
    const sectors = backend.size / SECTOR;
    v.setUint32(CFG.capacity, sectors % 4294967296, true);
    v.setUint32(CFG.capacity + 4, Math.floor(sectors / 4294967296), true);
    v.setUint32(CFG.sizeMax, BLK_SIZE_MAX, true);
    v.setUint32(CFG.segMax, BLK_SEG_MAX, true);
    v.setUint32(CFG.blkSize, SECTOR, true);
    v.setUint16(CFG.numQueues, 1, true);
    if (canDiscard) {
      v.setUint32(CFG.maxDiscardSectors, BLK_MAX_RANGE_SECTORS, true);
      v.setUint32(CFG.maxDiscardSeg, BLK_MAX_RANGES, true);
      v.setUint32(CFG.discardSectorAlignment, 1, true);
    }
    if (canZero) {
      v.setUint32(CFG.maxWriteZeroesSectors, BLK_MAX_RANGE_SECTORS, true);
      v.setUint32(CFG.maxWriteZeroesSeg, BLK_MAX_RANGES, true);
      v.setUint8(CFG.writeZeroesMayUnmap, 1);
    }
  }

  configRead(offset: number, size: number): number {
    if (offset < 0 || offset + size > this.config.length) return 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.config[offset + i];
    return v >>> 0;
  }

  configWrite(): void {
    // writeback (CONFIG_WCE) is not offered: the configuration space is read-only.
  }

  reset(): void {}

  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void {
    for (;;) {
      const chain = queue.pop();
      if (chain === null) break;
      const written = this.handle(chain, host);
      queue.push(chain.head, written);
    }
    host.usedBuffers(index);
  }

  /** Serves one request; returns the bytes written into the chain's writable buffers. */
  private handle(chain: Chain, host: VirtioQueueHost): number {
    const ram = host.ram;
    if (chain.readableBytes < HEADER) {
      throw new VirtioError(
        `request ${chain.head} has ${chain.readableBytes} readable bytes, less than its 16-byte header`,
      );
    }
    if (chain.writableBytes < 1) {
      throw new VirtioError(`request ${chain.head} has no writable byte for its status`);
    }
    const hdr = new Uint8Array(HEADER);
    Virtqueue.gather(ram, chain.readable, 0, hdr);
    const hv = new DataView(hdr.buffer);
    const type = hv.getUint32(0, true);
    const sector = hv.getUint32(8, true) + hv.getUint32(12, true) * 4294967296;
    const c = this.counters;
    c.requests++;
    let status: number;
    let dataIn = 0;
    try {
      switch (type) {
        case VIRTIO_BLK_T_IN: {
          c.readRequests++;
          const len = chain.writableBytes - 1;
          status = this.checkRange(sector, len);
          if (status === VIRTIO_BLK_S_OK) {
            this.readInto(chain, host, sector * SECTOR, len);
            dataIn = len;
            c.bytesRead += len;
          }
          break;
        }
        case VIRTIO_BLK_T_OUT: {
          c.writeRequests++;
          const len = chain.readableBytes - HEADER;
          status = this.backend.readOnly ? VIRTIO_BLK_S_IOERR : this.checkRange(sector, len);
          if (status === VIRTIO_BLK_S_OK) {
            const data = new Uint8Array(len);
            Virtqueue.gather(ram, chain.readable, HEADER, data);
            this.backend.write(sector * SECTOR, data);
            c.bytesWritten += len;
          }
          break;
        }
        case VIRTIO_BLK_T_FLUSH:
          c.flushes++;
          this.backend.flush();
          status = VIRTIO_BLK_S_OK;
          break;
        case VIRTIO_BLK_T_GET_ID: {
          const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
          id.set(this.serial);
          dataIn = Math.min(VIRTIO_BLK_ID_BYTES, chain.writableBytes - 1);
          Virtqueue.scatter(ram, chain.writable, 0, id.subarray(0, dataIn));
          status = VIRTIO_BLK_S_OK;
          break;
        }
        case VIRTIO_BLK_T_DISCARD:
        case VIRTIO_BLK_T_WRITE_ZEROES:
          status = this.ranges(type, chain, host);
          break;
        default:
          status = VIRTIO_BLK_S_UNSUPP;
      }
    } catch (e) {
      if (!(e instanceof BlockBackendError)) throw e;
      status = VIRTIO_BLK_S_IOERR;
    }
    if (status !== VIRTIO_BLK_S_OK) c.errors++;
    Virtqueue.scatter(ram, chain.writable, chain.writableBytes - 1, Uint8Array.of(status));
    return dataIn + 1;
  }

  /** OK when `len` bytes at `sector` are whole sectors inside the disk, else IOERR. */
  private checkRange(sector: number, len: number): number {
    if (len % SECTOR !== 0) return VIRTIO_BLK_S_IOERR;
    if (sector * SECTOR + len > this.backend.size) return VIRTIO_BLK_S_IOERR;
    return VIRTIO_BLK_S_OK;
  }

  /** Reads `len` disk bytes at `offset` straight into the chain's writable buffers. */
  private readInto(chain: Chain, host: VirtioQueueHost, offset: number, len: number): void {
    const ram = host.ram;
    let left = len;
    for (const s of chain.writable) {
      if (left === 0) break;
      const n = Math.min(s.len, left);
      const o = s.addr - ram.base;
      this.backend.read(offset, ram.u8.subarray(o, o + n));
      ram.noteWrite(o, n);
      offset += n;
      left -= n;
    }
  }

  private ranges(type: number, chain: Chain, host: VirtioQueueHost): number {
    const discard = type === VIRTIO_BLK_T_DISCARD;
    if (discard) this.counters.discards++;
    else this.counters.writeZeroes++;
    const op = discard ? this.backend.discard : this.backend.writeZeroes;
    if (typeof op !== 'function') return VIRTIO_BLK_S_UNSUPP;
    if (this.backend.readOnly) return VIRTIO_BLK_S_IOERR;
    const len = chain.readableBytes - HEADER;
    if (len === 0 || len % RANGE !== 0 || len / RANGE > BLK_MAX_RANGES) return VIRTIO_BLK_S_IOERR;
    const data = new Uint8Array(len);
    Virtqueue.gather(host.ram, chain.readable, HEADER, data);
    const v = new DataView(data.buffer);
    const ranges: [number, number][] = [];
    for (let r = 0; r < len; r += RANGE) {
      const sector = v.getUint32(r, true) + v.getUint32(r + 4, true) * 4294967296;
      const count = v.getUint32(r + 8, true);
      const flags = v.getUint32(r + 12, true);
      if (flags & ~1) return VIRTIO_BLK_S_UNSUPP;
      if (discard && flags !== 0) return VIRTIO_BLK_S_UNSUPP;
      if (count > BLK_MAX_RANGE_SECTORS) return VIRTIO_BLK_S_IOERR;
      if (this.checkRange(sector, count * SECTOR) !== VIRTIO_BLK_S_OK) return VIRTIO_BLK_S_IOERR;
      ranges.push([sector * SECTOR, count * SECTOR]);
    }
    for (const [off, n] of ranges) {
      if (n > 0) op.call(this.backend, off, n);
    }
    return VIRTIO_BLK_S_OK;
  }

  saveState(): VirtioBlkState {
    return {};
  }

  checkState(data: unknown): VirtioBlkState {
    return checkEmpty(data);
  }

  loadState(): void {}
}
