// The cpio "newc" format (magic 070701) that Linux unpacks as an initramfs: a writer that lays
// out headers, names and data on 4-byte boundaries and ends with TRAILER!!!, and a reader.

import { ImageError } from './errors.js';

export type CpioEntryType = 'file' | 'directory' | 'symlink' | 'chardev' | 'blockdev' | 'fifo';

export interface CpioEntry {
  /** Path inside the archive, with or without a leading slash (stored without it). */
  path: string;
  type: CpioEntryType;
  /** Permission bits (e.g. 0o755); the file-type bits are added from `type`. */
  mode: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (default 0, for reproducible archives). */
  mtime?: number;
  /** Content of a file. */
  data?: Uint8Array;
  /** Target of a symlink. */
  linkTarget?: string;
  /** Device numbers of a chardev or blockdev. */
  major?: number;
  minor?: number;
}

const TYPE_BITS: Record<CpioEntryType, number> = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  chardev: 0o020000,
  blockdev: 0o060000,
  fifo: 0o010000,
};

const MAGIC = '070701';
const HEADER_SIZE = 110;
export const TRAILER = 'TRAILER!!!';

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new ImageError('FORMAT', `cpio field out of range: ${n}`);
  }
  return n.toString(16).toUpperCase().padStart(8, '0');
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

function cleanPath(p: string): string {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.includes('..')) throw new ImageError('FORMAT', `unsafe path for cpio: ${p}`);
  return parts.join('/');
}

export interface WriteCpioOptions {
  /** Add missing parent directories (mode 0755) before their children. Default true. */
  addParents?: boolean;
}

/**
 * Builds a newc archive. Entries are written in the given order (parents are inserted before
 * children when missing); a later entry with the same path as an earlier one replaces it.
 */
export function writeCpio(entries: CpioEntry[], opts: WriteCpioOptions = {}): Buffer {
  const addParents = opts.addParents ?? true;
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = cleanPath(e.path);
    if (path === '') continue; // the root exists already
    if (addParents) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (!byPath.has(dir)) byPath.set(dir, { path: dir, type: 'directory', mode: 0o755 });
      }
    }
    byPath.delete(path); // keep the last definition, in the last position
    byPath.set(path, { ...e, path });
  }
  const chunks: Buffer[] = [];
  let ino = 1;
  for (const e of byPath.values()) chunks.push(encodeEntry(e, ino++));
  chunks.push(encodeRaw(TRAILER, 0, 0, 0, 0, 1, 0, 0, 0, Buffer.alloc(0)));
  return Buffer.concat(chunks);
}

function encodeEntry(e: CpioEntry, ino: number): Buffer {
  let data: Buffer;
  if (e.type === 'file') data = e.data ? Buffer.from(e.data) : Buffer.alloc(0);
  else if (e.type === 'symlink') {
    if (!e.linkTarget) throw new ImageError('FORMAT', `symlink ${e.path} has no target`);
    data = Buffer.from(e.linkTarget, 'utf8');
  } else data = Buffer.alloc(0);
  const dev = e.type === 'chardev' || e.type === 'blockdev';
  return encodeRaw(
    e.path,
    ino,
    TYPE_BITS[e.type] | (e.mode & 0o7777),
    e.uid ?? 0,
    e.gid ?? 0,
    e.type === 'directory' ? 2 : 1,
    e.mtime ?? 0,
    dev ? (e.major ?? 0) : 0,
    dev ? (e.minor ?? 0) : 0,
    data,
  );
}

function encodeRaw(
  name: string,
  ino: number,
  mode: number,
  uid: number,
  gid: number,
  nlink: number,
  mtime: number,
  rdevMajor: number,
  rdevMinor: number,
  data: Buffer,
): Buffer {
  const nameBuf = Buffer.from(name + '\0', 'utf8');
  const header =
    MAGIC +
    hex8(ino) +
    hex8(mode) +
    hex8(uid) +
    hex8(gid) +
    hex8(nlink) +
    hex8(mtime) +
    hex8(data.length) +
    hex8(0) + // devmajor (of the file system holding the file)
    hex8(0) + // devminor
    hex8(rdevMajor) +
    hex8(rdevMinor) +
    hex8(nameBuf.length) +
    hex8(0); // check (only for the 070702 format)
  const nameEnd = HEADER_SIZE + nameBuf.length;
  const dataStart = nameEnd + pad4(nameEnd);
  const out = Buffer.alloc(dataStart + data.length + pad4(data.length));
  out.write(header, 0, 'latin1');
  nameBuf.copy(out, HEADER_SIZE);
  data.copy(out, dataStart);
  return out;
}

/** An entry read back from an archive (file content as a Buffer). */
export type CpioReadEntry = CpioEntry & { data?: Buffer };

/** Parses a newc archive (uncompressed) back into entries, stopping at TRAILER!!!. */
export function readCpio(buf: Uint8Array): CpioReadEntry[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: CpioReadEntry[] = [];
  let off = 0;
  for (;;) {
    if (off + HEADER_SIZE > b.length) throw new ImageError('FORMAT', 'cpio archive is truncated');
    const magic = b.toString('latin1', off, off + 6);
    if (magic !== MAGIC && magic !== '070702') {
      throw new ImageError('FORMAT', `not a newc cpio header at byte ${off}`);
    }
    const at = off;
    const field = (i: number) =>
      Number.parseInt(b.toString('latin1', at + 6 + i * 8, at + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const nameStart = off + HEADER_SIZE;
    const name = b.toString('utf8', nameStart, nameStart + nameSize - 1);
    const dataStart = nameStart + nameSize + pad4(HEADER_SIZE + nameSize);
    if (dataStart + size > b.length) throw new ImageError('FORMAT', 'cpio archive is truncated');
    const data = b.subarray(dataStart, dataStart + size);
    off = dataStart + size + pad4(size);
    if (name === TRAILER) return out;
    const typeBits = mode & 0o170000;
    const type = (Object.keys(TYPE_BITS) as CpioEntryType[]).find((t) => TYPE_BITS[t] === typeBits);
    if (!type) throw new ImageError('FORMAT', `cpio entry ${name} has unknown type ${typeBits}`);
    const e: CpioReadEntry = {
      path: name,
      type,
      mode: mode & 0o7777,
      uid: field(2),
      gid: field(3),
      mtime: field(5),
    };
    if (type === 'file') e.data = Buffer.from(data);
    if (type === 'symlink') e.linkTarget = data.toString('utf8');
    if (type === 'chardev' || type === 'blockdev') {
      e.major = field(9);
      e.minor = field(10);
    }
    out.push(e);
  }
}
