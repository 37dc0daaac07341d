// The snapshot format, version 1: a fixed header, then self-contained sections, then an end
// section. Every integer is little-endian; every byte after the format version is covered by
// a CRC-32, so a damaged file is told apart from a short one. The same sections can travel
// one by one over a stream (live migration): each says how long it is and checks itself.
//
//   header (80 bytes)
//     0  8   magic "BERTHSNP"
//     8  4   format version (1)
//    12 32   the Berth version that wrote it (UTF-8, zero-padded)
//    44 32   board fingerprint: SHA-256 of the board's shape (boardFingerprint.ts)
//    76  4   CRC-32 of bytes 0..75
//   section (88-byte header, then the payload)
//     0 32   name: the part's name on the bus ("uart0", "hart0", "ram"), or "board"
//    32 32   kind: the part's stateId ("ns16550a", ...)
//    64  4   the part's state version
//    68  4   encoding: 0 JSON (UTF-8), 1 RAM pages (ramSections.ts)
//    72  8   payload length
//    80  4   CRC-32 of the payload
//    84  4   CRC-32 of bytes 0..83
//   end: a section with an empty name and kind, version 0 and no payload; nothing follows it.

import { crc32 } from './crc32.js';

export const SNAPSHOT_MAGIC = 'BERTHSNP';
/** The format this Berth writes, and the newest it reads. */
export const SNAPSHOT_FORMAT_VERSION = 1;
export const HEADER_BYTES = 80;
export const SECTION_HEADER_BYTES = 88;
const TEXT_BYTES = 32;
export const ENCODING_JSON = 0;
export const ENCODING_RAM = 1;
/** Largest payload of one section (a RAM window of 4096 pages, uncompressible, fits). */
export const MAX_SECTION_BYTES = 64 << 20;

export type SnapshotProblem = 'format' | 'version' | 'truncated' | 'corrupt' | 'board' | 'state';

/** Why a snapshot cannot be read or restored; `problem` says which kind of reason. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  constructor(
    readonly problem: SnapshotProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface SnapshotHeader {
  formatVersion: number;
  /** The Berth version that wrote the snapshot. */
  writer: string;
  /** 32 bytes. */
  fingerprint: Uint8Array;
}

export interface Section {
  name: string;
  kind: string;
  version: number;
  encoding: number;
  payload: Uint8Array;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function putText(out: Uint8Array, at: number, text: string, what: string): void {
  const b = utf8.encode(text);
  if (b.length > TEXT_BYTES) throw new RangeError(`${what} "${text}" is longer than 32 bytes`);
  out.set(b, at);
}

function getText(bytes: Uint8Array, at: number): string {
  let end = at + TEXT_BYTES;
  while (end > at && bytes[end - 1] === 0) end--;
  return fromUtf8.decode(bytes.subarray(at, end));
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function encodeHeader(h: SnapshotHeader): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  const v = view(out);
  putText(out, 0, SNAPSHOT_MAGIC, 'magic');
  v.setUint32(8, h.formatVersion, true);
  putText(out, 12, h.writer, 'the writer version');
  if (h.fingerprint.length !== 32) throw new RangeError('a fingerprint has 32 bytes');
  out.set(h.fingerprint, 44);
  v.setUint32(76, crc32(out.subarray(0, 76)), true);
  return out;
}

/** Reads the header at the start of `bytes`. */
export function decodeHeader(bytes: Uint8Array): SnapshotHeader {
  const magic = utf8.encode(SNAPSHOT_MAGIC);
  const start = bytes.subarray(0, magic.length);
  if (start.some((c, i) => magic[i] !== c)) {
    throw new SnapshotError(
      'format',
      `it is not a Berth snapshot (it does not start with ${SNAPSHOT_MAGIC})`,
    );
  }
  if (bytes.length < 12) {
    throw new SnapshotError(
      'truncated',
      bytes.length === 0 ? 'it is empty' : 'it is truncated: it ends inside its header',
    );
  }
  const version = view(bytes).getUint32(8, true);
  if (version > SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotError(
      'version',
      `it has snapshot format version ${version}, newer than this Berth reads ` +
        `(up to ${SNAPSHOT_FORMAT_VERSION}); restore it with a newer Berth`,
    );
  }
  if (version < 1)
    throw new SnapshotError(
      'format',
      `it has snapshot format version ${version}, which does not exist`,
    );
  if (bytes.length < HEADER_BYTES) {
    throw new SnapshotError('truncated', 'it is truncated: it ends inside its header');
  }
  if (crc32(bytes.subarray(0, 76)) !== view(bytes).getUint32(76, true)) {
    throw new SnapshotError('corrupt', 'it is damaged: its header fails its checksum');
  }
  return { formatVersion: version, writer: getText(bytes, 12), fingerprint: bytes.slice(44, 76) };
}

/** A section's header; the payload follows it. */
export function encodeSectionHeader(s: Section): Uint8Array {
  const out = new Uint8Array(SECTION_HEADER_BYTES);
  const v = view(out);
  putText(out, 0, s.name, 'a section name');
  putText(out, 32, s.kind, 'a section kind');
  v.setUint32(64, s.version, true);
  v.setUint32(68, s.encoding, true);
  v.setBigUint64(72, BigInt(s.payload.length), true);
  v.setUint32(80, crc32(s.payload), true);
  v.setUint32(84, crc32(out.subarray(0, 84)), true);
  return out;
}

/** The end marker. */
export const END_SECTION: Section = {
  name: '',
  kind: '',
  version: 0,
  encoding: ENCODING_JSON,
  payload: new Uint8Array(0),
};

export function isEnd(s: Section): boolean {
  return s.name === '' && s.kind === '';
}

/**
 * Reads section number `index` at `offset` of `bytes`; returns it (its payload a view into
 * `bytes`) and the offset after it.
 */
export function decodeSection(
  bytes: Uint8Array,
  offset: number,
  index: number,
): { section: Section; next: number } {
  const where = `section ${index}`;
  if (bytes.length - offset < SECTION_HEADER_BYTES) {
    throw new SnapshotError(
      'truncated',
      offset === bytes.length
        ? 'it is truncated: it ends before its end marker'
        : `it is truncated: it ends inside the header of ${where}`,
    );
  }
  const h = bytes.subarray(offset, offset + SECTION_HEADER_BYTES);
  const v = view(h);
  if (crc32(h.subarray(0, 84)) !== v.getUint32(84, true)) {
    throw new SnapshotError('corrupt', `it is damaged: the header of ${where} fails its checksum`);
  }
  let name: string;
  let kind: string;
  try {
    name = getText(h, 0);
    kind = getText(h, 32);
  } catch {
    throw new SnapshotError('corrupt', `it is damaged: ${where} has a name that is not UTF-8`);
  }
  const label = `${where} (${name || 'end'})`;
  const length = v.getBigUint64(72, true);
  const encoding = v.getUint32(68, true);
  if (encoding !== ENCODING_JSON && encoding !== ENCODING_RAM) {
    throw new SnapshotError(
      'format',
      `${label} has encoding ${encoding}, which this Berth does not know`,
    );
  }
  if (length > BigInt(MAX_SECTION_BYTES)) {
    throw new SnapshotError('format', `${label} has ${length} bytes, more than a section may hold`);
  }
  const start = offset + SECTION_HEADER_BYTES;
  const end = start + Number(length);
  if (end > bytes.length) {
    throw new SnapshotError('truncated', `it is truncated: it ends inside ${label}`);
  }
  const payload = bytes.subarray(start, end);
  if (crc32(payload) !== v.getUint32(80, true)) {
    throw new SnapshotError('corrupt', `it is damaged: ${label} fails its checksum`);
  }
  return {
    section: { name, kind, version: v.getUint32(64, true), encoding, payload },
    next: end,
  };
}
