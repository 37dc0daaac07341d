// Unpacks Debian binary packages (.deb) in Node, without dpkg: the ar container, the control and
// data tarballs (uncompressed, gzip, xz, or zstd where Node has it) and their file entries.

import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { xz } from '@napi-rs/lzma';
import tar from 'tar-stream';
import { parseStanza } from './control.js';
import { ImageError } from './errors.js';

export interface ArMember {
  name: string;
  data: Buffer;
}

export type DebEntryType =
  'file' | 'directory' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo';

export interface DebEntry {
  /** Absolute path inside the package, e.g. /usr/bin/busybox ("/" for the root). */
  path: string;
  type: DebEntryType;
  /** Permission bits (0o7777 range), without the file type. */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** File content, for regular files that were asked for. */
  data?: Buffer;
  /** Target of a symlink (as stored) or of a hard link (an absolute path). */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
}

export interface ExtractOptions {
  /** Which entries to return (default: all). Files not chosen are skipped without copying. */
  include?: (path: string, type: DebEntryType) => boolean;
  /** Stop reading the archive once this returns true for the entries returned so far. */
  done?: (entries: DebEntry[]) => boolean;
}

/** Splits an ar archive (the .deb container) into its members. */
export function parseAr(buf: Uint8Array): ArMember[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8 || b.toString('latin1', 0, 8) !== '!<arch>\n') {
    throw new ImageError('FORMAT', 'not a Debian package: the file does not start with "!<arch>"');
  }
  const out: ArMember[] = [];
  let off = 8;
  while (off + 60 <= b.length) {
    const header = b.toString('latin1', off, off + 60);
    if (header.slice(58, 60) !== '`\n') {
      throw new ImageError('FORMAT', `damaged Debian package: bad ar header at byte ${off}`);
    }
    let name = header.slice(0, 16).trimEnd();
    const size = Number.parseInt(header.slice(48, 58).trim(), 10);
    if (!Number.isFinite(size) || size < 0 || off + 60 + size > b.length) {
      throw new ImageError('FORMAT', `damaged Debian package: member "${name}" is truncated`);
    }
    let start = off + 60;
    let len = size;
    const bsd = /^#1\/(\d+)$/.exec(name);
    if (bsd) {
      const n = Number(bsd[1]);
      name = b.toString('utf8', start, start + n).replace(/\0+$/, '');
      start += n;
      len -= n;
    } else if (name.endsWith('/')) {
      name = name.slice(0, -1);
    }
    out.push({ name, data: b.subarray(start, start + len) });
    off += 60 + size + (size & 1);
  }
  return out;
}

const gunzip = promisify(zlib.gunzip);

/** Decompresses a tarball member by its name's suffix. */
export async function decompressMember(name: string, data: Buffer): Promise<Buffer> {
  if (name.endsWith('.tar')) return data;
  if (name.endsWith('.gz')) return gunzip(data);
  if (name.endsWith('.xz')) {
    try {
      return await xz.decompress(data);
    } catch (e) {
      throw new ImageError('FORMAT', `damaged Debian package: cannot decompress ${name}`, {
        cause: e,
      });
    }
  }
  if (name.endsWith('.zst')) {
    const z = zlib as unknown as { zstdDecompress?: typeof zlib.gunzip };
    if (z.zstdDecompress) return promisify(z.zstdDecompress)(data);
    throw new ImageError(
      'UNSUPPORTED',
      `${name} is zstd-compressed, which needs Node.js 22.15 or later; run Berth on a newer Node.js`,
    );
  }
  throw new ImageError('UNSUPPORTED', `unsupported compression of ${name} in a Debian package`);
}

function member(members: ArMember[], prefix: 'control.tar' | 'data.tar'): ArMember {
  const m = members.find((x) => x.name.startsWith(prefix));
  if (!m) throw new ImageError('FORMAT', `damaged Debian package: no ${prefix}.* member`);
  return m;
}

/** Normalises a tar path (./usr/bin/x, usr/bin/x/) to /usr/bin/x and refuses ".." escapes. */
export function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new ImageError('FORMAT', `unsafe path in archive: ${p}`);
    parts.push(part);
  }
  return '/' + parts.join('/');
}

const TAR_TYPES: Record<string, DebEntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'chardev',
  'block-device': 'blockdev',
  fifo: 'fifo',
};

/** Reads the entries of an uncompressed tar archive. */
export async function readTar(tarData: Buffer, opts: ExtractOptions = {}): Promise<DebEntry[]> {
  const out: DebEntry[] = [];
  const ex = tar.extract();
  const CHUNK = 1 << 20;
  const src = Readable.from(
    (function* () {
      for (let i = 0; i < tarData.length; i += CHUNK) yield tarData.subarray(i, i + CHUNK);
    })(),
  );
  src.on('error', (e) => ex.destroy(e));
  src.pipe(ex);
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const type = TAR_TYPES[h.type ?? 'file'];
      const path = normalizePath(h.name);
      if (type === undefined || (opts.include && !opts.include(path, type))) {
        entry.resume();
        continue;
      }
      const e: DebEntry = {
        path,
        type,
        mode: (h.mode ?? 0) & 0o7777,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
      };
      if (type === 'file') {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        e.data = Buffer.concat(chunks);
      } else {
        entry.resume();
      }
      if (type === 'symlink') e.linkTarget = h.linkname ?? '';
      if (type === 'hardlink') e.linkTarget = normalizePath(h.linkname ?? '');
      if (type === 'chardev' || type === 'blockdev') {
        e.devMajor = h.devmajor ?? 0;
        e.devMinor = h.devminor ?? 0;
      }
      out.push(e);
      if (opts.done?.(out)) break;
    }
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError('FORMAT', `damaged tar archive in a Debian package: ${String(err)}`, {
      cause: err,
    });
  } finally {
    src.unpipe(ex);
    src.destroy();
    ex.destroy();
  }
  return out;
}

/** The file entries of a .deb's data part (what dpkg would install). */
export async function extractDeb(deb: Uint8Array, opts: ExtractOptions = {}): Promise<DebEntry[]> {
  const m = member(parseAr(deb), 'data.tar');
  return readTar(await decompressMember(m.name, m.data), opts);
}

/** The entries of a .deb's control part (control, md5sums, maintainer scripts). */
export async function extractDebControl(deb: Uint8Array): Promise<DebEntry[]> {
  const m = member(parseAr(deb), 'control.tar');
  return readTar(await decompressMember(m.name, m.data));
}

/** The fields of a .deb's control file (Package, Version, Architecture, ...). */
export async function readDebControl(deb: Uint8Array): Promise<Record<string, string>> {
  const entries = await extractDebControl(deb);
  const control = entries.find((e) => e.path === '/control' && e.data);
  if (!control?.data) throw new ImageError('FORMAT', 'damaged Debian package: no control file');
  return parseStanza(control.data.toString('utf8'));
}
