// The files a disk image reads through: the image, then its qcow2 backing file, that file's
// backing file, and so on (absolute paths, the image first). Only headers are read; a raw
// image or an image without a backing file ends the chain.

import { closeSync, fstatSync, openSync } from 'node:fs';
import { isAbsolute, resolve, dirname } from 'node:path';
import { parseHeader, QCOW_MAGIC, QcowError } from './qcow2Header.js';
import { preadFull } from './qcow2Io.js';

const MAX_DEPTH = 64;

function backingOf(file: string): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const first = new Uint8Array(Math.min(size, 2 * 1024 * 1024));
    preadFull(fd, first, 0);
    if (first.length < 4 || new DataView(first.buffer).getUint32(0) !== QCOW_MAGIC) {
      return undefined;
    }
    const b = parseHeader(first, size, file).backingFile;
    if (b === undefined) return undefined;
    return isAbsolute(b) ? b : resolve(dirname(file), b);
  } finally {
    closeSync(fd);
  }
}

export function backingChain(image: string): string[] {
  const chain = [resolve(image)];
  for (;;) {
    const next = backingOf(chain[chain.length - 1]);
    if (next === undefined) return chain;
    if (chain.length >= MAX_DEPTH || chain.includes(next)) {
      throw new QcowError(`the backing chain of ${image} is too deep (a loop?)`);
    }
    chain.push(next);
  }
}
