// The migration stream's framing: every message is one frame, a 24-byte header and a payload,
// each under a CRC-32, so that a flipped bit anywhere is caught where it lands. The destination
// answers every message with an ACK (or an ERROR saying why it refuses, after which the stream
// ends); the source keeps a few messages in flight. The stream is a TCP connection or a TLS one
// (channel.ts, destination.ts): FrameReader and writeFrame only use what both sockets share.
//
//   header (24 bytes, little-endian)
//     0  4  magic "BMIG"
//     4  4  message type (MSG_*)
//     8  4  sequence number (the source counts its messages from 1; an ACK names the one it answers)
//    12  4  payload length (at most MAX_FRAME_BYTES)
//    16  4  CRC-32 of the payload
//    20  4  CRC-32 of bytes 0..19
//
//   HELLO   JSON {protocol, fingerprint, shape, memoryBytes, snapshotFormat, writer, token?,
//           mirror?} (token: the destination's migration token, when it has one; see
//           destination.ts; mirror: [{disk, size}], the disks whose blocks follow, protocol 2)
//   PAGES   binary: u32 count, then per page u32 page number, u32 kind (0 zero, 1 data),
//           u32 CRC-32 of the page number's 4 bytes and the data; the 4096 data bytes (kind 1)
//   BLOCKS  binary: chunks of mirrored disks, each with its CRC-32 (blocks.ts; protocol 2)
//   STATE   the device state: snapshot sections (deviceState.ts), the guest paused at the source
//   CANCEL  JSON {reason}: the source gives up; the destination must not start the guest
//   ACK     JSON {seq, ...}: accepted (the ACK of STATE says the guest runs at the destination)
//   ERROR   JSON {message}: refused; the destination closes the stream

import { crc32 } from 'node:zlib';
import type { Socket } from 'node:net';

/**
 * The newest protocol this Berth speaks: 2 adds BLOCKS and the hello's `mirror`. A stream
 * without mirrored disks goes as protocol 1, which a Berth from before mirroring reads too; a
 * mirroring stream goes as 2, which such a Berth refuses at the hello, saying so.
 */
export const MIGRATION_PROTOCOL = 2;
/** The protocol of a stream that sends no disk blocks. */
export const MIGRATION_PROTOCOL_SHARED = 1;
export const MSG_HELLO = 1;
export const MSG_PAGES = 2;
export const MSG_STATE = 3;
export const MSG_CANCEL = 4;
export const MSG_ACK = 5;
export const MSG_ERROR = 6;
export const MSG_BLOCKS = 7;
const TYPES = [MSG_HELLO, MSG_PAGES, MSG_STATE, MSG_CANCEL, MSG_ACK, MSG_ERROR, MSG_BLOCKS];

export const FRAME_HEADER_BYTES = 24;
/** Largest payload: a device state or a batch of pages stays well under it. */
export const MAX_FRAME_BYTES = 96 << 20;
const MAGIC = 0x47494d42; // "BMIG" little-endian

/** Why a stream is refused or broken; the message is meant for people. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export interface Frame {
  type: number;
  seq: number;
  payload: Uint8Array;
}

export function encodeFrame(type: number, seq: number, payload: Uint8Array): Uint8Array[] {
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h.writeUInt32LE(MAGIC, 0);
  h.writeUInt32LE(type, 4);
  h.writeUInt32LE(seq, 8);
  h.writeUInt32LE(payload.length, 12);
  h.writeUInt32LE(crc32(payload), 16);
  h.writeUInt32LE(crc32(h.subarray(0, 20)), 20);
  return [h, payload];
}

export function jsonPayload(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function parseJsonPayload(f: Frame, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(Buffer.from(f.payload).toString('utf8'));
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new MigrationError(`the ${what} message is not a JSON object`);
}

/**
 * Frames read off a socket, each checked; next() rejects on a damaged frame, on a stream
 * that ends (or breaks) in the middle, or when the peer closes before the next frame.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private failure: Error | null = null;
  private ended = false;
  private waiter: (() => void) | null = null;

  constructor(
    private readonly sock: Socket,
    private readonly peer: string,
  ) {
    sock.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.have += d.length;
      this.wake();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('error', (e) => {
      this.failure ??= new MigrationError(`the connection to ${peer} broke: ${e.message}`);
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.have -= n;
    return all.subarray(0, n);
  }

  private async want(n: number, inside: boolean): Promise<void> {
    while (this.have < n) {
      if (this.failure) throw this.failure;
      if (this.ended) {
        throw new MigrationError(
          inside || this.have > 0
            ? `the stream from ${this.peer} was cut short inside a message`
            : `${this.peer} closed the stream`,
        );
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  /** The next frame; one whose payload is over `maxBytes` is refused before it is read. */
  async next(maxBytes = MAX_FRAME_BYTES): Promise<Frame> {
    await this.want(FRAME_HEADER_BYTES, false);
    const h = this.take(FRAME_HEADER_BYTES);
    if (h.readUInt32LE(0) !== MAGIC) {
      throw new MigrationError(`${this.peer} does not speak Berth's migration protocol`);
    }
    if (crc32(h.subarray(0, 20)) !== h.readUInt32LE(20)) {
      throw new MigrationError(`a message header from ${this.peer} is damaged (checksum)`);
    }
    const type = h.readUInt32LE(4);
    const length = h.readUInt32LE(12);
    if (!TYPES.includes(type) || length > Math.min(maxBytes, MAX_FRAME_BYTES)) {
      throw new MigrationError(`a message from ${this.peer} has type ${type}, ${length} bytes`);
    }
    await this.want(length, true);
    // A copy: the payload outlives the socket's buffers.
    const payload = new Uint8Array(this.take(length));
    if (crc32(payload) !== h.readUInt32LE(16)) {
      throw new MigrationError(`a message from ${this.peer} is damaged (payload checksum)`);
    }
    return { type, seq: h.readUInt32LE(8), payload };
  }
}

/**
 * Writes a frame; resolves once the socket has taken it (waits while its buffer is full: a
 * TLSSocket says so as a plain one does), or at once on a socket already closed.
 */
export function writeFrame(sock: Socket, type: number, seq: number, payload: Uint8Array) {
  if (sock.destroyed || !sock.writable) return Promise.resolve();
  const [h, p] = encodeFrame(type, seq, payload);
  sock.write(h);
  const flushed = sock.write(p);
  if (flushed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });
}

/**
 * Answers a peer with an ERROR saying why and closes its stream (TCP or TLS: end() sends what
 * is buffered, TLS's close_notify, then FIN); a peer that does not read it is cut off after 1 s.
 * Never waits on the peer.
 */
export function refuse(sock: Socket, message: string): void {
  if (sock.destroyed) return;
  void writeFrame(sock, MSG_ERROR, 0, jsonPayload({ message }));
  sock.end();
  setTimeout(() => sock.destroy(), 1000).unref();
}
