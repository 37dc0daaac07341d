// After a live migration, the network must learn where the guest went: the bridges and switches
// between the hosts still send its frames to the port of the source. As QEMU's announce-self
// does, the destination sends RARP requests (EtherType 0x8035, RFC 903) from the guest's MAC
// address to everyone, five of them 100 ms apart after a first wait of 50 ms: every switch on
// the way learns the guest's address on its new port, whatever the guest's own traffic. The
// guest's IP address stays; nobody answers a RARP request.
//
//   announceGuest(net, mac, log);   // right after the migrated guest runs

import type { NetBackend } from '../../machine/virtio/netBackend.js';

const ETHERTYPE_RARP = 0x8035;
/** Shortest Ethernet frame without its checksum. */
const MIN_FRAME = 60;

/** A RARP "request reverse" frame from `mac`, to the broadcast address, padded to 60 bytes. */
export function rarpFrame(mac: Uint8Array): Uint8Array {
  if (mac.length !== 6) throw new RangeError('a MAC address has 6 bytes');
  const f = new Uint8Array(MIN_FRAME);
  const v = new DataView(f.buffer);
  f.fill(0xff, 0, 6); // to everyone
  f.set(mac, 6);
  v.setUint16(12, ETHERTYPE_RARP);
  v.setUint16(14, 1); // hardware: Ethernet
  v.setUint16(16, 0x0800); // protocol: IPv4
  f[18] = 6; // hardware address length
  f[19] = 4; // protocol address length
  v.setUint16(20, 3); // operation: request reverse
  f.set(mac, 22); // sender hardware address (the sender's IPv4 address, 28..31, unknown: 0)
  f.set(mac, 32); // target hardware address (its IPv4 address, 38..41: 0)
  return f;
}

/** When the announcements go, in ms after the guest runs at the destination. */
export const ANNOUNCE_AT_MS = [50, 150, 250, 350, 450];

/** Sends the guest's RARP announcements on `net` (timers that do not keep the process alive). */
export function announceGuest(net: NetBackend, mac: Uint8Array, log: (m: string) => void): void {
  const frame = rarpFrame(mac);
  for (const ms of ANNOUNCE_AT_MS) {
    setTimeout(() => {
      try {
        net.send(frame);
      } catch (e) {
        log(`announce: ${(e as Error).message}`);
      }
    }, ms).unref();
  }
}
