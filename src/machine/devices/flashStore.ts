// What one flash bank holds (devices/cfiFlash.ts is the chip interface in front of it):
// `size` bytes in sectors of `sectorSize`, every one zero until written (QEMU's banks without
// an image read as zeros too). Only written sectors take memory, so two empty 32 MiB banks
// cost nothing. A store outlives the board it serves: the VMM hands the same stores to the
// board of every boot, so what a guest programs survives its reboots, as in QEMU's banks
// until QEMU exits. A store may sit on an image (`backing`, QEMU's -drive if=pflash): its
// sectors are read from it when first touched and every write goes through to it; a write
// the image refuses (read-only, an I/O error) changes nothing and is reported to the caller.
//
//   const store = new FlashStore(32 << 20, 256 << 10);
//   store.write(0x1000, 4, 0x12345678); store.read(0x1000, 4); // 0x12345678
//   store.fillSector(1, 0xff);                                 // a block erase

import { BlockBackendError, type BlockBackend } from '../virtio/blockBackend.js';
import { StateError } from '../state/persistent.js';
import { bytesToHex, hexToBytes } from '../state/hex.js';
import { asHexBytes, asInt, StateReader } from '../state/stateReader.js';

/** One written sector in a saved state: its bytes, or `fill` when they are all that byte. */
export interface SavedSector {
  index: number;
  fill?: number;
  hex?: string;
}

export class FlashStore {
  readonly size: number;
  readonly sectorSize: number;
  /** The image the bank sits on (its size is the bank's), if any. */
  readonly backing: BlockBackend | null;
  private readonly sectors = new Map<number, Uint8Array>();

  constructor(size: number, sectorSize: number, backing: BlockBackend | null = null) {
    this.size = size;
    this.sectorSize = sectorSize;
    this.backing = backing;
  }

  /** Writes are refused (the image is read-only). */
  get readOnly(): boolean {
    return this.backing?.readOnly === true;
  }

  /** `size` (1, 2 or 4) bytes at `offset`, little-endian (within one sector). */
  read(offset: number, size: number): number {
    const index = Math.floor(offset / this.sectorSize);
    const s = this.backing === null ? this.sectors.get(index) : this.sector(index);
    if (s === undefined) return 0;
    const o = offset % this.sectorSize;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (s[o + i] ?? 0);
    return v;
  }

  /** Stores the low `size` bytes of `value` at `offset`, little-endian; false if the image refused. */
  write(offset: number, size: number, value: number): boolean {
    const bytes = new Uint8Array(Math.min(size, this.sectorSize - (offset % this.sectorSize)));
    for (let i = 0; i < bytes.length; i++) bytes[i] = (value >>> (8 * i)) & 0xff;
    return this.put(offset, bytes);
  }

  /** Sets every byte of sector `index` to `byte`; false if the image refused. */
  fillSector(index: number, byte: number): boolean {
    return this.put(index * this.sectorSize, new Uint8Array(this.sectorSize).fill(byte));
  }

  /** Writes `bytes` (within one sector) through to the image, then into the sector. */
  private put(offset: number, bytes: Uint8Array): boolean {
    if (this.backing !== null) {
      if (this.backing.readOnly) return false;
      try {
        this.backing.write(offset, bytes);
      } catch (e) {
        if (e instanceof BlockBackendError) return false;
        throw e;
      }
    }
    this.sector(Math.floor(offset / this.sectorSize)).set(bytes, offset % this.sectorSize);
    return true;
  }

  private sector(index: number): Uint8Array {
    let s = this.sectors.get(index);
    if (s === undefined) {
      s = new Uint8Array(this.sectorSize);
      try {
        this.backing?.read(index * this.sectorSize, s);
      } catch (e) {
        if (!(e instanceof BlockBackendError)) throw e;
        s.fill(0); // an image that cannot be read reads as an empty bank
      }
      this.sectors.set(index, s);
    }
    return s;
  }

  /** The sectors written so far, in order (none for a bank on an image: the image has them). */
  save(): SavedSector[] {
    if (this.backing !== null) return [];
    return [...this.sectors.keys()]
      .sort((a, b) => a - b)
      .map((index) => {
        const s = this.sectors.get(index)!;
        return s.every((b) => b === s[0]) ? { index, fill: s[0] } : { index, hex: bytesToHex(s) };
      });
  }

  /** Checks saved sectors against this store's geometry (`path` names them in messages). */
  check(data: unknown, path: string): SavedSector[] {
    const count = this.size / this.sectorSize;
    if (!Array.isArray(data) || data.length > count) {
      throw new StateError(`${path} must be a list of at most ${count} sectors`);
    }
    let last = -1;
    return data.map((v, i) => {
      const r = StateReader.of(v, `${path}[${i}]`);
      const index = r.int('index', 0, count - 1);
      if (index <= last) throw new StateError(`${r.at('index')} must grow: ${index}`);
      last = index;
      const [fill, hex] = [r.raw('fill'), r.raw('hex')];
      if ((fill === undefined) === (hex === undefined)) {
        throw new StateError(`${r.path} must have either fill or hex`);
      }
      r.end();
      const n = this.sectorSize;
      return fill !== undefined
        ? { index, fill: asInt(fill, r.at('fill'), 0, 255) }
        : { index, hex: asHexBytes(hex, r.at('hex'), n, n) };
    });
  }

  /** Holds exactly the checked sectors (every other one reads as zeros again); kept by an image's. */
  load(saved: SavedSector[]): void {
    if (this.backing !== null) return;
    this.sectors.clear();
    for (const s of saved) {
      const bytes = s.hex !== undefined ? hexToBytes(s.hex) : new Uint8Array(this.sectorSize);
      if (s.fill !== undefined) bytes.fill(s.fill);
      this.sectors.set(s.index, bytes);
    }
  }
}
