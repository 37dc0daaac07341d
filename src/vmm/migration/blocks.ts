// Disk blocks on the migration stream (the BLOCKS message of wire.ts, disk mirroring): a batch
// of chunks, each with its disk's index, its offset and length, a flag for a chunk of zeros
// (sent without its bytes), and a CRC-32 of all that and its data. The destination checks a
// whole batch before it writes any of it to its disks.
//
//   u32 count, then per chunk:
//     u32 disk index, u32 offset (low), u32 offset (high), u32 length, u32 flags (1: zeros),
//     u32 CRC-32 of the 20 bytes before it and the data; then the data (none for zeros)

import { crc32 } from 'node:zlib';
import { MigrationError } from './wire.js';

const ENTRY_BYTES = 24;
const FLAG_ZERO = 1;
const TWO32 = 2 ** 32;

export interface Block {
  disk: number;
  offset: number;
  length: number;
  /** The chunk's bytes, or null for a chunk of zeros. */
  data: Uint8Array | null;
}

/** What a destination's disk takes from the stream. */
export interface BlockTarget {
  readonly size: number;
  write(offset: number, data: Uint8Array): void;
  writeZeroes(offset: number, length: number): void;
}

function entryHead(b: Block): Buffer {
  const h = Buffer.alloc(ENTRY_BYTES);
  h.writeUInt32LE(b.disk, 0);
  h.writeUInt32LE(b.offset % TWO32, 4);
  h.writeUInt32LE(Math.floor(b.offset / TWO32), 8);
  h.writeUInt32LE(b.length, 12);
  h.writeUInt32LE(b.data === null ? FLAG_ZERO : 0, 16);
  h.writeUInt32LE(crc32(b.data ?? new Uint8Array(0), crc32(h.subarray(0, 20))), 20);
  return h;
}

/** The BLOCKS payload of `blocks` (a data block's length is its data's). */
export function encodeBlocks(blocks: readonly Block[]): Uint8Array {
  const parts: Uint8Array[] = [Buffer.alloc(4)];
  (parts[0] as Buffer).writeUInt32LE(blocks.length, 0);
  for (const b of blocks) {
    if (b.data !== null && b.data.length !== b.length) {
      throw new Error(`block at ${b.offset}: ${b.data.length} bytes of data for ${b.length}`);
    }
    parts.push(entryHead(b));
    if (b.data) parts.push(b.data);
  }
  return Buffer.concat(parts);
}

/**
 * Checks a BLOCKS payload against `disks` (the mirrored ones by index, null for the others:
 * indexes and ranges, every checksum) and returns its blocks; throws MigrationError when
 * anything is wrong.
 */
export function decodeBlocks(
  payload: Uint8Array,
  disks: readonly ({ size: number } | null)[],
): Block[] {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const bad = (why: string): never => {
    throw new MigrationError(`a batch of disk blocks is refused: ${why}`);
  };
  if (b.length < 4) bad('it is too short');
  const count = b.readUInt32LE(0);
  const out: Block[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_BYTES > b.length) bad(`it ends inside block entry ${i}`);
    const disk = b.readUInt32LE(at);
    const offset = b.readUInt32LE(at + 4) + b.readUInt32LE(at + 8) * TWO32;
    const length = b.readUInt32LE(at + 12);
    const flags = b.readUInt32LE(at + 16);
    const target = disks[disk];
    if (!target) bad(`block ${i} names disk ${disk}, which is not mirrored here`);
    if (flags !== 0 && flags !== FLAG_ZERO) bad(`block ${i} has flags ${flags}`);
    if (length === 0 || offset + length > target!.size) {
      bad(
        `block ${i} (${length} bytes at ${offset}) is outside disk ${disk}'s ${target!.size} bytes`,
      );
    }
    const len = flags === FLAG_ZERO ? 0 : length;
    if (at + ENTRY_BYTES + len > b.length) bad(`it ends inside block ${i}`);
    const data = b.subarray(at + ENTRY_BYTES, at + ENTRY_BYTES + len);
    const sum = crc32(data, crc32(b.subarray(at, at + 20)));
    if (sum !== b.readUInt32LE(at + 20))
      bad(`block ${i} (disk ${disk} at ${offset}) fails its checksum`);
    out.push({ disk, offset, length, data: flags === FLAG_ZERO ? null : data });
    at += ENTRY_BYTES + len;
  }
  if (at !== b.length) bad(`${b.length - at} bytes follow its last block`);
  return out;
}

/** Checks a BLOCKS payload, then writes its blocks to `disks`; returns their bytes. */
export function applyBlocks(payload: Uint8Array, disks: readonly (BlockTarget | null)[]): number {
  const blocks = decodeBlocks(payload, disks);
  let bytes = 0;
  for (const b of blocks) {
    const d = disks[b.disk]!;
    if (b.data) d.write(b.offset, b.data);
    else d.writeZeroes(b.offset, b.length);
    bytes += b.length;
  }
  return bytes;
}
