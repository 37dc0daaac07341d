// RAM in a snapshot: sections named "ram" (encoding 1), each a window of up to 4096 pages
// (16 MiB) of guest RAM. Pages that are all zero are left out; the others are compressed
// (raw deflate) together. Windows with no such page are not written at all.
//
//   payload: u32 first page, u32 page count, a bitmap of `count` bits (bit i: page first + i
//            is present, lowest bit first), then the deflated bytes of the present pages

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { PAGE_SIZE, type RamRun, type RamState } from '../../machine/ram.js';
import { ENCODING_RAM, SnapshotError, type Section } from './format.js';

/** Pages per RAM section. */
export const RAM_WINDOW_PAGES = 4096;
const RAM_KIND = 'ram';

/** The "ram" sections of a saved RAM state. */
export function* ramSections(s: RamState, version: number): Generator<Section> {
  const pages = s.size / PAGE_SIZE;
  let run = 0;
  // A window's pages are gathered in one buffer, made once for the largest window: a buffer
  // made anew for each would cost the host a page fault per page of it.
  let gather: Uint8Array | null = null;
  for (let first = 0; first < pages; first += RAM_WINDOW_PAGES) {
    const count = Math.min(RAM_WINDOW_PAGES, pages - first);
    const bitmap = new Uint8Array(Math.ceil(count / 8));
    const parts: Uint8Array[] = [];
    while (run < s.runs.length && s.runs[run].page < first + count) {
      const r = s.runs[run];
      const from = Math.max(r.page, first);
      const to = Math.min(r.page + r.data.length / PAGE_SIZE, first + count);
      for (let p = from; p < to; p++) bitmap[(p - first) >> 3] |= 1 << ((p - first) & 7);
      parts.push(r.data.subarray((from - r.page) * PAGE_SIZE, (to - r.page) * PAGE_SIZE));
      if (r.page + r.data.length / PAGE_SIZE > first + count) break; // goes on in the next window
      run++;
    }
    if (parts.length === 0) continue;
    let bytes = parts[0];
    if (parts.length > 1) {
      const n = parts.reduce((sum, part) => sum + part.length, 0);
      gather ??= new Uint8Array(RAM_WINDOW_PAGES * PAGE_SIZE);
      let at = 0;
      for (const part of parts) {
        gather.set(part, at);
        at += part.length;
      }
      bytes = gather.subarray(0, n);
    }
    const packed = deflateRawSync(bytes, { level: 1 });
    const payload = new Uint8Array(8 + bitmap.length + packed.length);
    const v = new DataView(payload.buffer);
    v.setUint32(0, first, true);
    v.setUint32(4, count, true);
    payload.set(bitmap, 8);
    payload.set(packed, 8 + bitmap.length);
    yield { name: 'ram', kind: RAM_KIND, version, encoding: ENCODING_RAM, payload };
  }
}

/**
 * The deflated part of a RAM section's payload, the bytes it must inflate to and the pages it
 * holds (unchecked), or null when the payload is too short to say (the checker tells what is
 * wrong).
 */
export function ramPacked(
  payload: Uint8Array,
): { packed: Uint8Array; bytes: number; pages: number[] } | null {
  if (payload.length < 8) return null;
  const v = new DataView(payload.buffer, payload.byteOffset, 8);
  const first = v.getUint32(0, true);
  const count = Math.min(v.getUint32(4, true), RAM_WINDOW_PAGES);
  const bitmapBytes = Math.ceil(count / 8);
  if (payload.length < 8 + bitmapBytes) return null;
  const pages: number[] = [];
  for (let i = 0; i < count; i++) if (payload[8 + (i >> 3)] & (1 << (i & 7))) pages.push(first + i);
  return { packed: payload.subarray(8 + bitmapBytes), bytes: pages.length * PAGE_SIZE, pages };
}

/** zlib options to inflate `bytes` of pages into one buffer (no joining copy), and no more. */
export function inflateOptions(bytes: number): { maxOutputLength: number; chunkSize: number } {
  return { maxOutputLength: Math.max(1, bytes), chunkSize: bytes + 64 };
}

/** Gathers "ram" sections (in file order) into a RAM state of `size` bytes. */
export class RamAssembler {
  private readonly runs: RamRun[] = [];
  private nextPage = 0;

  constructor(private readonly size: number) {}

  /** Adds RAM section `s`; `inflated`, when given, is its pages inflated already. */
  add(s: Section, where: string, inflated?: Uint8Array): void {
    const bad = (why: string): never => {
      throw new SnapshotError('corrupt', `it is damaged: ${where} ${why}`);
    };
    if (s.kind !== RAM_KIND || s.encoding !== ENCODING_RAM) bad('is not RAM pages');
    const p = s.payload;
    if (p.length < 8) bad('is too short for RAM pages');
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    const first = v.getUint32(0, true);
    const count = v.getUint32(4, true);
    const pages = this.size / PAGE_SIZE;
    if (count < 1 || count > RAM_WINDOW_PAGES || first < this.nextPage || first + count > pages) {
      bad(`holds pages ${first}..${first + count - 1}, out of order or beyond this RAM's ${pages}`);
    }
    const bitmapBytes = Math.ceil(count / 8);
    if (p.length < 8 + bitmapBytes) bad('is too short for its page bitmap');
    const bitmap = p.subarray(8, 8 + bitmapBytes);
    const present: number[] = [];
    for (let i = 0; i < count; i++) if (bitmap[i >> 3] & (1 << (i & 7))) present.push(first + i);
    let data: Uint8Array = new Uint8Array(0);
    const expected = present.length * PAGE_SIZE;
    if (inflated !== undefined && inflated.length === expected) {
      data = inflated;
    } else {
      try {
        data = inflateRawSync(p.subarray(8 + bitmapBytes), inflateOptions(expected));
      } catch (e) {
        bad(`does not decompress (${(e as Error).message})`);
      }
    }
    if (data.length !== expected) {
      bad(`holds ${data.length} bytes for ${present.length} pages`);
    }
    let i = 0;
    while (i < present.length) {
      let j = i + 1;
      while (j < present.length && present[j] === present[j - 1] + 1) j++;
      this.runs.push({ page: present[i], data: data.subarray(i * PAGE_SIZE, j * PAGE_SIZE) });
      i = j;
    }
    this.nextPage = first + count;
  }

  state(): RamState {
    return { size: this.size, runs: this.runs };
  }
}
