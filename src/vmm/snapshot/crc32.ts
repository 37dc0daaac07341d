// CRC-32 (IEEE 802.3, the polynomial of zlib and PNG) for the checksums of snapshot sections:
// zlib's own (node:zlib crc32, from Node 20.15) where there is one, else a table-driven one.
// Chainable: crc32(b, crc32(a)) is the CRC of a followed by b.

import * as zlib from 'node:zlib';

const TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The table-driven CRC-32 of `data`, continuing from `crc`. */
export function crc32Table(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** The CRC-32 of `data`, continuing from `crc` (the CRC of what came before). */
export const crc32: (data: Uint8Array, crc?: number) => number =
  native !== undefined ? (data, crc = 0) => native(data, crc) : crc32Table;
