// Reads the address a DHCP server gives the guest from its DHCPACK, so that
// the VMM can tell the guest's address (libslirp keeps its leases to itself).

/** The "your address" of a DHCPACK in Ethernet frame `f` (IPv4, UDP 67 -> 68), or null. */
export function dhcpAckAddress(f: Uint8Array): string | null {
  if (f.length < 14 + 20 + 8 + 240 || f[12] !== 0x08 || f[13] !== 0x00) return null;
  const ihl = (f[14] & 0x0f) * 4;
  if (f[14] >> 4 !== 4 || ihl < 20 || f[23] !== 17) return null;
  const udp = 14 + ihl;
  if (udp + 8 + 240 > f.length) return null;
  if (((f[udp] << 8) | f[udp + 1]) !== 67 || ((f[udp + 2] << 8) | f[udp + 3]) !== 68) return null;
  const bootp = udp + 8;
  if (f[bootp] !== 2) return null; // BOOTREPLY
  // The magic cookie, then options: 53 (message type) = 5 (ACK).
  if (f[bootp + 236] !== 99 || f[bootp + 237] !== 130 || f[bootp + 238] !== 83) return null;
  if (f[bootp + 239] !== 99) return null;
  let o = bootp + 240;
  while (o < f.length) {
    const code = f[o];
    if (code === 255) break;
    if (code === 0) {
      o++;
      continue;
    }
    if (o + 1 >= f.length) break;
    const len = f[o + 1];
    if (code === 53 && len === 1 && o + 2 < f.length) {
      if (f[o + 2] !== 5) return null;
      const y = bootp + 16;
      return `${f[y]}.${f[y + 1]}.${f[y + 2]}.${f[y + 3]}`;
    }
    o += 2 + len;
  }
  return null;
}
