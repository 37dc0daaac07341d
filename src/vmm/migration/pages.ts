// RAM pages on the migration stream (the PAGES message of wire.ts): a batch of pages, each with
// its page number and a CRC-32 of the number and its bytes; pages of zeros travel as their
// number alone. The destination checks a whole batch before it writes any of it into RAM.

import { crc32 } from 'node:zlib';
import { PAGE_SIZE, type Ram } from '../../machine/ram.js';
import { MigrationError } from './wire.js';

/** Pages per PAGES message (1 MiB of data at most). */
export const PAGES_PER_BATCH = 256;
const ENTRY_BYTES = 12;

function pageCrc(page: number, data: Uint8Array): number {
  const n = Buffer.alloc(4);
  n.writeUInt32LE(page, 0);
  return crc32(data, crc32(n));
}

/** The PAGES payload of `pages` of `ram`, as they are now (copied). */
export function encodePages(ram: Ram, pages: readonly number[]): Uint8Array {
  let size = 4;
  const zero = pages.map((p) => ram.isZeroPage(p));
  for (const z of zero) size += ENTRY_BYTES + (z ? 0 : PAGE_SIZE);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(pages.length, 0);
  let at = 4;
  pages.forEach((p, i) => {
    const data = zero[i] ? new Uint8Array(0) : ram.u8.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
    out.writeUInt32LE(p, at);
    out.writeUInt32LE(zero[i] ? 0 : 1, at + 4);
    // The copy's checksum: harts on other threads may write the page meanwhile (a page written
    // after the dirty log was taken is sent again in a later round).
    out.set(data, at + ENTRY_BYTES);
    const copy = out.subarray(at + ENTRY_BYTES, at + ENTRY_BYTES + data.length);
    out.writeUInt32LE(pageCrc(p, copy), at + 8);
    at += ENTRY_BYTES + data.length;
  });
  return out;
}

/**
 * Checks a PAGES payload against `ram` (page numbers in range, every checksum), then writes
 * the pages; returns how many. Throws MigrationError, writing nothing, when anything is wrong.
 */
export function applyPages(ram: Ram, payload: Uint8Array): number {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const bad = (why: string): never => {
    throw new MigrationError(`a batch of RAM pages is refused: ${why}`);
  };
  if (b.length < 4) bad('it is too short');
  const count = b.readUInt32LE(0);
  const pages = ram.size / PAGE_SIZE;
  const found: { page: number; data: Uint8Array | null }[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_BYTES > b.length) bad(`it ends inside page entry ${i}`);
    const page = b.readUInt32LE(at);
    const kind = b.readUInt32LE(at + 4);
    if (page >= pages) bad(`page ${page} is beyond this RAM's ${pages} pages`);
    if (kind !== 0 && kind !== 1) bad(`page ${page} has kind ${kind}`);
    const len = kind === 1 ? PAGE_SIZE : 0;
    if (at + ENTRY_BYTES + len > b.length) bad(`it ends inside page ${page}`);
    const data = b.subarray(at + ENTRY_BYTES, at + ENTRY_BYTES + len);
    if (pageCrc(page, data) !== b.readUInt32LE(at + 8)) bad(`page ${page} fails its checksum`);
    found.push({ page, data: kind === 1 ? data : null });
    at += ENTRY_BYTES + len;
  }
  if (at !== b.length) bad(`${b.length - at} bytes follow its last page`);
  // Written as a device writes (noteWrite): the page is logged as holding data, so that a
  // later snapshot or migration of this guest reads it.
  for (const { page, data } of found) {
    const off = page * PAGE_SIZE;
    if (data) {
      ram.u8.set(data, off);
      ram.noteWrite(off, PAGE_SIZE);
    } else if (ram.holdsData(page)) ram.u8.fill(0, off, off + PAGE_SIZE);
  }
  return count;
}

/** Zeroes every page of `ram` that is not zero (pages never written are not read). */
export function zeroRam(ram: Ram): void {
  for (const p of ram.dataPages()) ram.u8.fill(0, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
}
