// Bytes as lowercase hex digits, the way saved states keep short byte strings (a network
// card's held frames, the VM generation ID, PCI config spaces); StateReader.hexBytes checks
// such a field before hexToBytes reads it.

export function bytesToHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}

/** Reads checked hex digits (an even number of 0-9a-f). */
export function hexToBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}
