// Frames a guest would send, built by hand for backend tests without a guest:
// ARP requests, DHCP DISCOVER/REQUEST, TCP segments with real checksums, and
// parsers for what comes back.

export const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0xbe, 0x27, 0x01);
export const BROADCAST = Uint8Array.of(255, 255, 255, 255, 255, 255);

export function ip4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

function sum16(b: Uint8Array, s = 0): number {
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export function ethernet(dst: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(dst, 0);
  f.set(GUEST_MAC, 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(payload, 14);
  return f;
}

/** An IPv4 packet (no options) around `payload`. */
export function ipv4(
  proto: number,
  src: Uint8Array,
  dst: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const ip = new Uint8Array(20 + payload.length);
  const h = new DataView(ip.buffer);
  ip[0] = 0x45;
  h.setUint16(2, ip.length);
  ip[8] = 64;
  ip[9] = proto;
  ip.set(src, 12);
  ip.set(dst, 16);
  h.setUint16(10, fold(sum16(ip.subarray(0, 20))));
  ip.set(payload, 20);
  return ip;
}

export function arpRequest(senderIp: Uint8Array, targetIp: Uint8Array): Uint8Array {
  const a = new Uint8Array(28);
  a.set([0, 1, 8, 0, 6, 4, 0, 1], 0);
  a.set(GUEST_MAC, 8);
  a.set(senderIp, 14);
  a.set(targetIp, 24);
  return ethernet(BROADCAST, 0x0806, a);
}

/** The sender MAC of an ARP reply from `ip`, or null. */
export function arpReplyFrom(f: Uint8Array, ip: Uint8Array): Uint8Array | null {
  if (f.length < 42 || f[12] !== 8 || f[13] !== 6 || f[21] !== 2) return null;
  return f.subarray(28, 32).every((b, i) => b === ip[i]) ? f.slice(22, 28) : null;
}

/** DHCP DISCOVER (type 1) or REQUEST (type 3, for `requested` from `server`). */
export function dhcp(
  xid: number,
  type: 1 | 3,
  requested?: Uint8Array,
  server?: Uint8Array,
): Uint8Array {
  const bootp = new Uint8Array(300);
  const v = new DataView(bootp.buffer);
  bootp[0] = 1; // BOOTREQUEST
  bootp[1] = 1; // Ethernet
  bootp[2] = 6;
  v.setUint32(4, xid);
  v.setUint16(10, 0x8000); // broadcast reply
  bootp.set(GUEST_MAC, 28);
  v.setUint32(236, 0x63825363); // magic cookie
  const opts = [53, 1, type];
  if (requested) opts.push(50, 4, ...requested);
  if (server) opts.push(54, 4, ...server);
  opts.push(55, 3, 1, 3, 6, 255);
  bootp.set(opts, 240);
  const udp = new Uint8Array(8 + bootp.length);
  const u = new DataView(udp.buffer);
  u.setUint16(0, 68);
  u.setUint16(2, 67);
  u.setUint16(4, udp.length);
  udp.set(bootp, 8); // checksum 0: none
  return ethernet(BROADCAST, 0x0800, ipv4(17, ip4('0.0.0.0'), ip4('255.255.255.255'), udp));
}

export interface DhcpReply {
  yiaddr: Uint8Array;
  router: Uint8Array | null;
  server: Uint8Array | null;
  type: number;
}

/** Parses a DHCP reply for `xid` out of an Ethernet frame, or null. */
export function parseDhcp(f: Uint8Array, xid: number): DhcpReply | null {
  if (f.length < 14 + 20 + 8 + 240 || f[12] !== 8 || f[13] !== 0) return null;
  const ihl = (f[14] & 15) * 4;
  if (f[14 + 9] !== 17) return null;
  const udp = 14 + ihl;
  const v = new DataView(f.buffer, f.byteOffset, f.length);
  if (v.getUint16(udp) !== 67 || v.getUint16(udp + 2) !== 68) return null;
  const b = udp + 8;
  if (f[b] !== 2 || v.getUint32(b + 4) !== xid) return null;
  const out: DhcpReply = { yiaddr: f.slice(b + 16, b + 20), router: null, server: null, type: 0 };
  for (let o = b + 240; o + 1 < f.length && f[o] !== 255;) {
    if (f[o] === 0) {
      o++;
      continue;
    }
    const code = f[o];
    const len = f[o + 1];
    if (code === 53) out.type = f[o + 2];
    if (code === 3 && len >= 4) out.router = f.slice(o + 2, o + 6);
    if (code === 54 && len >= 4) out.server = f.slice(o + 2, o + 6);
    o += 2 + len;
  }
  return out;
}

export interface TcpSegment {
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  payload: Uint8Array;
}

export const SYN = 0x02;
export const ACK = 0x10;
export const PSH = 0x08;
export const FIN = 0x01;

/** A TCP segment in an IPv4 packet in an Ethernet frame to `dstMac`, checksummed. */
export function tcpFrame(dstMac: Uint8Array, s: TcpSegment): Uint8Array {
  const t = new Uint8Array(20 + s.payload.length);
  const v = new DataView(t.buffer);
  v.setUint16(0, s.sport);
  v.setUint16(2, s.dport);
  v.setUint32(4, s.seq >>> 0);
  v.setUint32(8, s.ack >>> 0);
  t[12] = 5 << 4;
  t[13] = s.flags;
  v.setUint16(14, 65535);
  t.set(s.payload, 20);
  const pseudo = new Uint8Array(12);
  pseudo.set(s.src, 0);
  pseudo.set(s.dst, 4);
  pseudo[9] = 6;
  new DataView(pseudo.buffer).setUint16(10, t.length);
  v.setUint16(16, fold(sum16(t, sum16(pseudo))));
  return ethernet(dstMac, 0x0800, ipv4(6, s.src, s.dst, t));
}

/** The TCP segment in Ethernet frame `f`, or null. */
export function parseTcp(f: Uint8Array): TcpSegment | null {
  if (f.length < 54 || f[12] !== 8 || f[13] !== 0 || f[23] !== 6) return null;
  const ihl = (f[14] & 15) * 4;
  const v = new DataView(f.buffer, f.byteOffset, f.length);
  const total = v.getUint16(16);
  const t = 14 + ihl;
  const off = (f[t + 12] >> 4) * 4;
  return {
    src: f.slice(26, 30),
    dst: f.slice(30, 34),
    sport: v.getUint16(t),
    dport: v.getUint16(t + 2),
    seq: v.getUint32(t + 4),
    ack: v.getUint32(t + 8),
    flags: f[t + 13],
    payload: f.slice(t + off, 14 + total),
  };
}
