// What one flash bank holds (devices/cfiFlash.ts is the chip interface in front of it):
// `size` bytes in sectors of `sectorSize`, every one zero until written (QEMU's banks without
// an image read as zeros too). Only written sectors take memory, so two empty 32 MiB banks
// cost nothing. A store outlives the board it serves: the VMM hands the same stores to the
// board of every boot, so what a guest programs survives its reboots, as in QEMU's banks
// until QEMU exits.
//
//   const store = new FlashStore(32 << 20, 256 << 10);
//   store.write(0x1000, 4, 0x12345678); store.read(0x1000, 4); // 0x12345678
//   store.fillSector(1, 0xff);                                 // a block erase

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
  private readonly sectors = new Map<number, Uint8Array>();

  constructor(size: number, sectorSize: number) {
    this.size = size;
    this.sectorSize = sectorSize;
  }

  /** `size` (1, 2 or 4) bytes at `offset`, little-endian (within one sector). */
  read(offset: number, size: number): number {
    const s = this.sectors.get(Math.floor(offset / this.sectorSize));
    if (s === undefined) return 0;
    const o = offset % this.sectorSize;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (s[o + i] ?? 0);
    return v;
  }

  /** Stores the low `size` bytes of `value` at `offset`, little-endian. */
  write(offset: number, size: number, value: number): void {
    const s = this.sector(Math.floor(offset / this.sectorSize));
    const o = offset % this.sectorSize;
    for (let i = 0; i < size && o + i < s.length; i++) s[o + i] = (value >>> (8 * i)) & 0xff;
  }

  /** Sets every byte of sector `index` to `byte`. */
  fillSector(index: number, byte: number): void {
    this.sector(index).fill(byte);
  }

  private sector(index: number): Uint8Array {
    let s = this.sectors.get(index);
    if (s === undefined) {
      s = new Uint8Array(this.sectorSize);
      this.sectors.set(index, s);
    }
    return s;
  }

  /** The sectors written so far, in order. */
  save(): SavedSector[] {
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

  /** Holds exactly the checked sectors (every other one reads as zeros again). */
  load(saved: SavedSector[]): void {
    this.sectors.clear();
    for (const s of saved) {
      if (s.hex !== undefined) this.sectors.set(s.index, hexToBytes(s.hex));
      else this.fillSector(s.index, s.fill ?? 0);
    }
  }
}
