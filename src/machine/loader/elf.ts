// ELF64 little-endian RISC-V executable parser: entry point and loadable segments.

export class ElfError extends Error {}

export interface ElfSegment {
  vaddr: bigint;
  paddr: bigint;
  /** File bytes; the rest up to memsz is zero. */
  data: Uint8Array;
  memsz: number;
  flags: number;
}

export interface ElfImage {
  entry: bigint;
  segments: ElfSegment[];
  /** Symbol table (name -> value) when the file has one. */
  symbols: Map<string, bigint>;
}

const EM_RISCV = 243;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;

export function isElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 &&
    bytes[0] === 0x7f &&
    bytes[1] === 0x45 &&
    bytes[2] === 0x4c &&
    bytes[3] === 0x46
  );
}

export function parseElf(bytes: Uint8Array): ElfImage {
  if (!isElf(bytes)) throw new ElfError('not an ELF file (bad magic)');
  if (bytes.length < 64) throw new ElfError('ELF file truncated: header incomplete');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[4] !== 2) throw new ElfError('not a 64-bit ELF file');
  if (bytes[5] !== 1) throw new ElfError('not a little-endian ELF file');
  const machine = dv.getUint16(18, true);
  if (machine !== EM_RISCV)
    throw new ElfError(`ELF file is for machine ${machine}, not RISC-V (243)`);
  const entry = dv.getBigUint64(24, true);
  const phoff = Number(dv.getBigUint64(32, true));
  const shoff = Number(dv.getBigUint64(40, true));
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  if (phoff + phnum * phentsize > bytes.length || (phnum > 0 && phentsize < 56)) {
    throw new ElfError('ELF program headers lie outside the file');
  }
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (dv.getUint32(o, true) !== PT_LOAD) continue;
    const flags = dv.getUint32(o + 4, true);
    const offset = Number(dv.getBigUint64(o + 8, true));
    const vaddr = dv.getBigUint64(o + 16, true);
    const paddr = dv.getBigUint64(o + 24, true);
    const filesz = Number(dv.getBigUint64(o + 32, true));
    const memsz = Number(dv.getBigUint64(o + 40, true));
    if (offset + filesz > bytes.length)
      throw new ElfError(`ELF segment ${i} lies outside the file`);
    if (memsz < filesz)
      throw new ElfError(`ELF segment ${i} is smaller in memory than in the file`);
    segments.push({ vaddr, paddr, data: bytes.subarray(offset, offset + filesz), memsz, flags });
  }
  if (segments.length === 0) throw new ElfError('ELF file has no loadable segments');
  const symbols = new Map<string, bigint>();
  if (shoff > 0 && shentsize >= 64 && shoff + shnum * shentsize <= bytes.length) {
    for (let i = 0; i < shnum; i++) {
      const s = shoff + i * shentsize;
      if (dv.getUint32(s + 4, true) !== SHT_SYMTAB) continue;
      const off = Number(dv.getBigUint64(s + 24, true));
      const size = Number(dv.getBigUint64(s + 32, true));
      const link = dv.getUint32(s + 40, true);
      const strHdr = shoff + link * shentsize;
      if (link >= shnum || off + size > bytes.length) continue;
      const strOff = Number(dv.getBigUint64(strHdr + 24, true));
      const strSize = Number(dv.getBigUint64(strHdr + 32, true));
      if (strOff + strSize > bytes.length) continue;
      for (let e = off; e + 24 <= off + size; e += 24) {
        const nameOff = dv.getUint32(e, true);
        if (nameOff === 0 || nameOff >= strSize) continue;
        let end = strOff + nameOff;
        while (end < strOff + strSize && bytes[end] !== 0) end++;
        const name = new TextDecoder().decode(bytes.subarray(strOff + nameOff, end));
        symbols.set(name, dv.getBigUint64(e + 8, true));
      }
    }
  }
  return { entry, segments, symbols };
}
