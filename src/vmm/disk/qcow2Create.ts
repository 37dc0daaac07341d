// Creating empty qcow2 images (version 2 or 3, any cluster size qemu-img
// accepts), optionally as thin clones of a backing file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { QcowError, buildHeader, writeU64 } from './qcow2Header.js';
import { Qcow2Image, openBacking } from './qcow2.js';
import { pwriteFull, wrapIo } from './qcow2Io.js';

export interface Qcow2CreateOptions {
  /** Backing file name, stored as given; a relative name is relative to the new image's directory. */
  backingFile?: string;
  /** Format of the backing file; probed when left out. */
  backingFormat?: 'raw' | 'qcow2';
  /** log2 of the cluster size, 9..21; default 16 (64 KiB). */
  clusterBits?: number;
  /** qcow2 version; default 3. */
  version?: 2 | 3;
}

/**
 * Creates an empty qcow2 image. With a backing file (a thin clone), `size`
 * may be left out to take the backing file's size. Fails if `file` exists.
 */
export function createQcow2(
  file: string,
  size: number | undefined,
  options: Qcow2CreateOptions = {},
): void {
  const clusterBits = options.clusterBits ?? 16;
  const version = options.version ?? 3;
  if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) {
    throw new QcowError(`cluster bits must be 9..21, got ${clusterBits}`);
  }
  let backingFormat = options.backingFormat;
  if (options.backingFile !== undefined) {
    const resolved = path.isAbsolute(options.backingFile)
      ? options.backingFile
      : path.resolve(path.dirname(file), options.backingFile);
    const b = openBacking(resolved, backingFormat, 0, file, false);
    try {
      backingFormat ??= b instanceof Qcow2Image ? 'qcow2' : 'raw';
      size ??= Math.ceil(b.size / 512) * 512;
    } finally {
      b.close();
    }
  }
  if (size === undefined || !Number.isSafeInteger(size) || size <= 0 || size % 512 !== 0) {
    throw new QcowError(`the disk size must be a positive multiple of 512 bytes, got ${size}`);
  }
  const cs = 2 ** clusterBits;
  const l1Size = Math.ceil(size / (cs * (cs / 8)));
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const clusters = 3 + l1Clusters;
  if (l1Size * 8 > 32 * 1024 * 1024 || clusters > (cs * 8) / 16) {
    throw new QcowError(
      `a ${size}-byte disk is too large for ${cs}-byte clusters; use larger clusters`,
    );
  }
  const header = buildHeader({
    version,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits,
    size,
    cryptMethod: 0,
    l1Size,
    l1TableOffset: 3 * cs,
    refcountTableOffset: cs,
    refcountTableClusters: 1,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatibleFeatures: 0n,
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: 4,
    headerLength: version === 3 ? 112 : 72,
    compressionType: 0,
    backingFile: options.backingFile,
    backingFormat,
  });
  const image = new Uint8Array(clusters * cs);
  image.set(header);
  const dv = new DataView(image.buffer);
  writeU64(dv, cs, 2 * cs); // refcount table entry 0 -> block at cluster 2
  for (let c = 0; c < clusters; c++) dv.setUint16(2 * cs + c * 2, 1);
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    throw new QcowError(`cannot create ${file}: ${(e as Error).message}`);
  }
  try {
    wrapIo(`writing ${file}`, () => {
      pwriteFull(fd, image, 0);
      fs.fsyncSync(fd);
    });
  } finally {
    fs.closeSync(fd);
  }
}
