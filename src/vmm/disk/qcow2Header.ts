// The qcow2 image header: parsing with validation, and building a fresh one.
// Layout follows QEMU's published format description (docs/interop/qcow2.txt);
// all numbers are big-endian. Offsets are kept as JS numbers: anything at or
// above 2^53 is refused as corrupt rather than silently rounded.

import { BlockBackendError } from '../../machine/virtio/blockBackend.js';

/** Every problem with a qcow2 image: bad or unsupported files, corrupt tables, I/O failures. */
export class QcowError extends BlockBackendError {
  constructor(message: string) {
    super(message);
    this.name = 'QcowError';
  }
}

export const QCOW_MAGIC = 0x514649fb; // "QFI\xfb"

export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
export const INCOMPAT_EXTERNAL_DATA = 1n << 2n;
export const INCOMPAT_COMPRESSION_TYPE = 1n << 3n;
export const INCOMPAT_EXTENDED_L2 = 1n << 4n;

export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_NAMES = 0x6803f857;

/** Largest tables we accept (the same limits QEMU applies). */
const MAX_L1_BYTES = 32 * 1024 * 1024;
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
const MAX_SAFE_HI = 0x200000; // 2^53 / 2^32

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
  backingFile?: string;
  backingFormat?: string;
}

/** Reads a big-endian u64 as a number, refusing values that do not fit exactly. */
export function readU64(dv: DataView, at: number, what: string): number {
  const hi = dv.getUint32(at);
  const lo = dv.getUint32(at + 4);
  if (hi >= MAX_SAFE_HI)
    throw new QcowError(`${what} (${(BigInt(hi) << 32n) | BigInt(lo)}) is too large`);
  return hi * 0x100000000 + lo;
}

export function writeU64(dv: DataView, at: number, value: number): void {
  dv.setUint32(at, Math.floor(value / 0x100000000));
  dv.setUint32(at + 4, value >>> 0);
}

function featureList(bits: bigint, names: Map<string, string>, type: number): string {
  const parts: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((bits >> BigInt(bit)) & 1n) {
      const name = names.get(`${type}:${bit}`);
      parts.push(name ? `'${name}' (bit ${bit})` : `bit ${bit}`);
    }
  }
  return parts.join(', ');
}

/**
 * Parses and validates the header in `first` (the start of the file, at least
 * its first cluster when the file is that long). `fileSize` bounds the tables.
 */
export function parseHeader(first: Uint8Array, fileSize: number, name: string): Qcow2Header {
  const dv = new DataView(first.buffer, first.byteOffset, first.byteLength);
  if (first.length < 4 || dv.getUint32(0) !== QCOW_MAGIC) {
    throw new QcowError(`${name} is not a qcow2 image (no QFI\\xfb magic)`);
  }
  if (first.length < 72)
    throw new QcowError(`${name} is truncated: the qcow2 header is incomplete`);
  const version = dv.getUint32(4);
  if (version !== 2 && version !== 3) {
    throw new QcowError(`${name} is qcow2 version ${version}; only versions 2 and 3 are supported`);
  }
  const clusterBits = dv.getUint32(20);
  if (clusterBits < 9 || clusterBits > 21) {
    throw new QcowError(
      `${name} has an invalid cluster size (cluster_bits ${clusterBits}, must be 9..21)`,
    );
  }
  const cs = 2 ** clusterBits;
  const h: Qcow2Header = {
    version,
    backingFileOffset: readU64(dv, 8, 'backing file offset'),
    backingFileSize: dv.getUint32(16),
    clusterBits,
    size: readU64(dv, 24, 'disk size'),
    cryptMethod: dv.getUint32(32),
    l1Size: dv.getUint32(36),
    l1TableOffset: readU64(dv, 40, 'L1 table offset'),
    refcountTableOffset: readU64(dv, 48, 'refcount table offset'),
    refcountTableClusters: dv.getUint32(56),
    nbSnapshots: dv.getUint32(60),
    snapshotsOffset: readU64(dv, 64, 'snapshot table offset'),
    incompatibleFeatures: 0n,
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: 4,
    headerLength: 72,
    compressionType: 0,
  };
  if (version === 3) {
    if (first.length < 104)
      throw new QcowError(`${name} is truncated: the qcow2 v3 header is incomplete`);
    h.incompatibleFeatures = dv.getBigUint64(72);
    h.compatibleFeatures = dv.getBigUint64(80);
    h.autoclearFeatures = dv.getBigUint64(88);
    h.refcountOrder = dv.getUint32(96);
    h.headerLength = dv.getUint32(100);
    if (
      h.headerLength < 104 ||
      h.headerLength % 8 !== 0 ||
      h.headerLength > Math.min(cs, first.length)
    ) {
      throw new QcowError(`${name} has an invalid header length ${h.headerLength}`);
    }
    if (h.headerLength > 104) h.compressionType = first[104];
  }
  if (h.cryptMethod !== 0) {
    throw new QcowError(
      `${name} is encrypted (crypt_method ${h.cryptMethod}); encrypted qcow2 images are not supported — decrypt it with qemu-img convert first`,
    );
  }

  // Header extensions: in the first cluster, after the header.
  const names = new Map<string, string>();
  const limit = Math.min(cs, first.length);
  let at = h.headerLength;
  while (at + 8 <= limit) {
    const type = dv.getUint32(at);
    const len = dv.getUint32(at + 4);
    if (type === EXT_END) break;
    const data = at + 8;
    if (len > limit - data)
      throw new QcowError(`${name} has a header extension that runs past the first cluster`);
    if (type === EXT_BACKING_FORMAT) {
      h.backingFormat = new TextDecoder().decode(first.subarray(data, data + len));
    } else if (type === EXT_FEATURE_NAMES) {
      for (let e = data; e + 48 <= data + len; e += 48) {
        const raw = first.subarray(e + 2, e + 48);
        const end = raw.indexOf(0);
        names.set(
          `${first[e]}:${first[e + 1]}`,
          new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end)),
        );
      }
    }
    at = data + Math.ceil(len / 8) * 8;
  }

  const known =
    INCOMPAT_DIRTY |
    INCOMPAT_CORRUPT |
    INCOMPAT_EXTERNAL_DATA |
    INCOMPAT_COMPRESSION_TYPE |
    INCOMPAT_EXTENDED_L2;
  const unknown = h.incompatibleFeatures & ~known;
  if (unknown) {
    throw new QcowError(
      `${name} uses incompatible features this version does not support: ${featureList(unknown, names, 0)}`,
    );
  }
  if (h.incompatibleFeatures & INCOMPAT_EXTERNAL_DATA) {
    throw new QcowError(`${name} keeps its data in an external data file, which is not supported`);
  }
  if (h.incompatibleFeatures & INCOMPAT_EXTENDED_L2) {
    throw new QcowError(
      `${name} uses extended L2 entries (subclusters), which are not supported — convert it with qemu-img convert -O qcow2`,
    );
  }
  if (h.compressionType !== 0) {
    throw new QcowError(
      `${name} uses compression type ${h.compressionType === 1 ? 'zstd' : h.compressionType}; only zlib is supported`,
    );
  }
  if (h.refcountOrder > 6)
    throw new QcowError(`${name} has an invalid refcount order ${h.refcountOrder}`);

  // Tables must be aligned, bounded and inside the file.
  const table = (what: string, offset: number, bytes: number, max: number): void => {
    if (offset % cs !== 0 || offset === 0)
      throw new QcowError(`${name} is corrupt: ${what} offset ${offset} is not cluster aligned`);
    if (bytes > max)
      throw new QcowError(`${name} is corrupt: ${what} is too large (${bytes} bytes)`);
    if (offset + bytes > fileSize)
      throw new QcowError(`${name} is corrupt: ${what} lies past the end of the file`);
  };
  if (h.l1Size * 8 > MAX_L1_BYTES)
    throw new QcowError(`${name} is corrupt: the L1 table is too large (${h.l1Size} entries)`);
  const l2Coverage = cs * (cs / 8);
  if (h.l1Size < Math.ceil(h.size / l2Coverage)) {
    throw new QcowError(
      `${name} is corrupt: its L1 table (${h.l1Size} entries) is too small for a ${h.size}-byte disk`,
    );
  }
  if (h.l1Size > 0) table('the L1 table', h.l1TableOffset, h.l1Size * 8, MAX_L1_BYTES);
  if (h.refcountTableClusters === 0)
    throw new QcowError(`${name} is corrupt: it has no refcount table`);
  table(
    'the refcount table',
    h.refcountTableOffset,
    h.refcountTableClusters * cs,
    MAX_REFTABLE_BYTES,
  );

  if (h.backingFileOffset !== 0) {
    if (h.backingFileSize > 1023 || h.backingFileOffset + h.backingFileSize > limit) {
      throw new QcowError(
        `${name} is corrupt: the backing file name lies outside the first cluster or is too long`,
      );
    }
    h.backingFile = new TextDecoder().decode(
      first.subarray(h.backingFileOffset, h.backingFileOffset + h.backingFileSize),
    );
    if (h.backingFile === '') delete h.backingFile;
  }
  return h;
}

/** Serialises a header plus extensions and backing file name into one cluster. */
export function buildHeader(h: Qcow2Header): Uint8Array {
  const cs = 2 ** h.clusterBits;
  const buf = new Uint8Array(cs);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, QCOW_MAGIC);
  dv.setUint32(4, h.version);
  dv.setUint32(20, h.clusterBits);
  writeU64(dv, 24, h.size);
  dv.setUint32(32, 0);
  dv.setUint32(36, h.l1Size);
  writeU64(dv, 40, h.l1TableOffset);
  writeU64(dv, 48, h.refcountTableOffset);
  dv.setUint32(56, h.refcountTableClusters);
  let at = 72;
  if (h.version === 3) {
    dv.setBigUint64(72, h.incompatibleFeatures);
    dv.setBigUint64(80, h.compatibleFeatures);
    dv.setBigUint64(88, h.autoclearFeatures);
    dv.setUint32(96, h.refcountOrder);
    dv.setUint32(100, 112);
    buf[104] = 0; // compression type: zlib
    at = 112;
  }
  const enc = new TextEncoder();
  const fits = (n: number): void => {
    if (at + n > cs)
      throw new QcowError(
        `the qcow2 header does not fit into one ${cs}-byte cluster; use larger clusters or a shorter backing file name`,
      );
  };
  if (h.backingFile !== undefined && h.backingFormat !== undefined) {
    const fmt = enc.encode(h.backingFormat);
    fits(8 + Math.ceil(fmt.length / 8) * 8);
    dv.setUint32(at, EXT_BACKING_FORMAT);
    dv.setUint32(at + 4, fmt.length);
    buf.set(fmt, at + 8);
    at += 8 + Math.ceil(fmt.length / 8) * 8;
  }
  fits(8);
  at += 8; // end-of-extensions marker (zeros)
  if (h.backingFile !== undefined) {
    const bf = enc.encode(h.backingFile);
    if (bf.length > 1023) throw new QcowError(`the backing file name is longer than 1023 bytes`);
    fits(bf.length);
    buf.set(bf, at);
    writeU64(dv, 8, at);
    dv.setUint32(16, bf.length);
  }
  return buf;
}
