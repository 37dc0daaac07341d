// A relay on loopback between a migration's source and its destination that flips one bit of
// the stream (0x10 of one byte), to show that damage anywhere is caught where it lands.

import { createServer, connect, type Server, type Socket } from 'node:net';

export interface FlipRelay {
  /** Where the source is to connect: 127.0.0.1:PORT. */
  address: string;
  server: Server;
  /** Whether the flipped byte has gone through. */
  flipped(): boolean;
}

/**
 * Relays to `to` (HOST:PORT), flipping the byte at offset `flipAt(first)` of the source's
 * stream, where `first` is the first chunk the source sent.
 */
export async function flipRelay(to: string, flipAt: (first: Buffer) => number): Promise<FlipRelay> {
  const [host, port] = to.split(':');
  let seen = 0;
  let at = -1;
  let flipped = false;
  const server = createServer((inbound: Socket) => {
    const out = connect({ host, port: Number(port) });
    inbound.on('data', (d: Buffer) => {
      if (at < 0) at = flipAt(d);
      if (seen <= at && seen + d.length > at) {
        d[at - seen] ^= 0x10;
        flipped = true;
      }
      seen += d.length;
      out.write(d);
    });
    out.pipe(inbound);
    inbound.on('close', () => out.destroy());
    out.on('close', () => inbound.destroy());
    inbound.on('error', () => {});
    out.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return { address, server, flipped: () => flipped };
}
