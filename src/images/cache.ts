// The guest-assets cache: a content-addressed store of files named by their SHA-256
// ($XDG_CACHE_HOME/berth or ~/.cache/berth, or BERTH_CACHE_DIR), plus small JSON records that
// name blobs. Every write goes to a temporary file that is renamed into place, so a crash or a
// concurrent run never leaves a half-written entry; a blob whose content no longer matches its
// name (disk corruption, a manual edit) is deleted when read, and callers fetch it again.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** The default cache folder: $BERTH_CACHE_DIR, else $XDG_CACHE_HOME/berth, else ~/.cache/berth. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BERTH_CACHE_DIR) return env.BERTH_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'berth');
  return join(homedir(), '.cache', 'berth');
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;

export class AssetCache {
  readonly dir: string;
  constructor(dir: string = defaultCacheDir()) {
    this.dir = dir;
  }

  /** Where the blob with this SHA-256 lives (it may not exist). */
  blobPath(sha256: string): string {
    if (!HEX64.test(sha256)) throw new TypeError(`not a SHA-256: ${sha256}`);
    return join(this.dir, 'sha256', sha256.slice(0, 2), sha256);
  }

  /**
   * The path of a cached blob whose content was checked against its name, or undefined if it is
   * absent or was corrupt (a corrupt blob is removed). `size`, when known, is checked first.
   */
  async get(sha256: string, size?: number): Promise<string | undefined> {
    const path = this.blobPath(sha256);
    try {
      const st = await stat(path);
      if (size !== undefined && st.size !== size) {
        await rm(path, { force: true });
        return undefined;
      }
    } catch {
      return undefined;
    }
    if ((await sha256File(path)) !== sha256) {
      await rm(path, { force: true });
      return undefined;
    }
    return path;
  }

  /** Reads a checked blob, or undefined. */
  async read(sha256: string): Promise<Buffer | undefined> {
    const path = this.blobPath(sha256);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch {
      return undefined;
    }
    if (sha256Hex(data) !== sha256) {
      await rm(path, { force: true });
      return undefined;
    }
    return data;
  }

  /** Stores data and returns its SHA-256 and path. */
  async put(data: Uint8Array): Promise<{ sha256: string; path: string }> {
    const sha256 = sha256Hex(data);
    const path = this.blobPath(sha256);
    await atomicWrite(path, data);
    return { sha256, path };
  }

  /**
   * A writer for a blob whose hash is known in advance (a download): write chunks, then commit,
   * which checks size and hash and renames into place, or throws and leaves nothing behind.
   */
  async writer(expectedSha256: string): Promise<BlobWriter> {
    const path = this.blobPath(expectedSha256);
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempName(path);
    const fh = await open(tmp, 'w');
    const hash = createHash('sha256');
    let bytes = 0;
    let closed = false;
    const close = async () => {
      if (!closed) {
        closed = true;
        await fh.close();
      }
    };
    return {
      async write(chunk: Uint8Array) {
        hash.update(chunk);
        bytes += chunk.length;
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
          off += bytesWritten;
        }
      },
      async commit(expectedSize?: number) {
        await close();
        const got = hash.digest('hex');
        if (got !== expectedSha256 || (expectedSize !== undefined && bytes !== expectedSize)) {
          await rm(tmp, { force: true });
          return { ok: false, sha256: got, size: bytes, path };
        }
        await rename(tmp, path);
        return { ok: true, sha256: got, size: bytes, path };
      },
      async abort() {
        await close();
        await rm(tmp, { force: true });
      },
    };
  }

  /** Reads a JSON record (undefined if absent or unreadable). */
  async readRecord<T>(key: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(this.recordPath(key), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  async writeRecord(key: string, value: unknown): Promise<void> {
    await atomicWrite(this.recordPath(key), JSON.stringify(value, null, 2) + '\n');
  }

  private recordPath(key: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(key)) throw new TypeError(`bad cache record key: ${key}`);
    return join(this.dir, 'records', `${key}.json`);
  }
}

export interface BlobWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Checks and publishes the blob; ok is false (and nothing is kept) on a size or hash mismatch. */
  commit(
    expectedSize?: number,
  ): Promise<{ ok: boolean; sha256: string; size: number; path: string }>;
  abort(): Promise<void>;
}

/** Writes a file through a temporary file in the same folder and a rename. */
export async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempName(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

function tempName(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}
