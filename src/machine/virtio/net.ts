// virtio-net (virtio 1.2 section 5.1, device ID 1) on a NetBackend: receiveq 0
// and transmitq 1, the MAC address and link status in the configuration space,
// and mergeable receive buffers. With VERSION_1 or mergeable buffers every frame is preceded
// by the 12-byte virtio_net_hdr (its last field is num_buffers); a driver that accepts
// neither (one that negotiates as QEMU lets legacy drivers do) gets the 10-byte header
// without num_buffers. No checksum or
// segmentation offloads are offered, so headers from the guest carry nothing
// the device needs and headers to the guest are zero apart from num_buffers.
//
// Frames from the backend arrive between the guest's slices; the device writes
// them into the receive buffers the guest posted, or holds them (bounded in
// frames and bytes) until the guest posts more, and drops and counts the rest.
// A transmit chain with device-writable buffers or shorter than the header, or
// a receive chain with device-readable buffers or shorter than the header, is a
// driver bug: the device goes to NEEDS_RESET and nothing is thrown to the host.
//
//   const net = new VirtioNet(backend, { seed: 'guest-42' });
//   const t = new VirtioMmio(ram, net, irq, log, 'virtio6');
//   net.attach(t); // lets frames that arrive between notifications reach the guest
//   bus.map('virtio6', base, 0x1000, t);

import {
  VIRTIO_F_VERSION_1,
  VirtioError,
  type VirtioDevice,
  type VirtioQueueHost,
} from './device.js';
import { NET_MAX_FRAME, NET_MIN_FRAME, type NetBackend, type NetReceiver } from './netBackend.js';
import { Virtqueue, type Chain } from './virtqueue.js';
import { StateError } from '../state/persistent.js';
import { asHexBytes, StateReader } from '../state/stateReader.js';
import { bytesToHex, hexToBytes } from '../state/hex.js';

export const VIRTIO_ID_NET = 1;

export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;

/** struct virtio_net_hdr with VERSION_1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers. */
export const NET_HDR_SIZE = 12;
/** The header without num_buffers, when the driver accepted neither VERSION_1 nor MRG_RXBUF. */
export const NET_HDR_SIZE_LEGACY = 10;
const NUM_BUFFERS = 10;
export const RX_QUEUE = 0;
export const TX_QUEUE = 1;
const QUEUE_MAX = 256;
/** Configuration space: mac[6], status u16. */
const CONFIG_SIZE = 8;

/** Error in how a network card was configured (not guest input). */
export class VirtioNetError extends Error {}

export interface VirtioNetConfig {
  /** "52:54:00:12:34:56"; default: a locally administered address derived from `seed`. */
  mac?: string;
  /** Seed for the default MAC address (e.g. the guest's name); default "berth". */
  seed?: string;
  /** Offer VIRTIO_NET_F_MRG_RXBUF (frames spread over several receive buffers); default true. */
  mergeableRxBuffers?: boolean;
  /** Frames held while the guest has no receive buffers; default 256. */
  rxHoldFrames?: number;
  /** Bytes held while the guest has no receive buffers; default 1 MiB. */
  rxHoldBytes?: number;
}

export interface VirtioNetCounters {
  /** Frames and bytes (without the virtio header) delivered to the guest. */
  rxFrames: number;
  rxBytes: number;
  /** Frames and bytes the guest transmitted and the backend was handed. */
  txFrames: number;
  txBytes: number;
  /** Frames from the backend dropped because the hold queue was full (or at reset). */
  rxDropped: number;
  /** Frames from the backend dropped because they were too short, too long or larger than the guest's buffers. */
  rxInvalid: number;
  /** Frames from the guest dropped because they were shorter than an Ethernet header or too long. */
  txDropped: number;
}

/** The card's state beyond its transport (its MAC is configuration, its counters statistics). */
export interface VirtioNetState {
  linkUp: boolean;
  /** Frames held for the guest, oldest first, as lowercase hex. */
  held: string[];
}

/**
 * What the device needs from its transport (VirtioMmio) to take frames in
 * between notifications and to announce link changes.
 */
export interface NetTransport {
  /** Processes a queue as if the driver had notified it (no-op until the driver is ready). */
  poll(index: number): void;
  /** A configuration-change interrupt. */
  configChanged(): void;
}

function zeroCounters(): VirtioNetCounters {
  return {
    rxFrames: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    rxDropped: 0,
    rxInvalid: 0,
    txDropped: 0,
  };
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A locally administered unicast MAC address derived from `seed`. */
export function macFromSeed(seed: string): Uint8Array {
  const a = fnv1a(seed);
  const b = fnv1a(seed + '\u0000mac');
  const mac = Uint8Array.of(a >>> 24, a >>> 16, a >>> 8, a, b >>> 24, b >>> 16);
  mac[0] = (mac[0] & 0xfc) | 0x02;
  return mac;
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with dashes); throws VirtioNetError for anything else or a multicast address. */
export function parseMac(s: string): Uint8Array {
  const m =
    /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(
      s.trim(),
    );
  if (!m) {
    throw new VirtioNetError(
      `"${s}" is not a MAC address; write it as six hex bytes, e.g. 52:54:00:12:34:56`,
    );
  }
  const mac = Uint8Array.from(m.slice(1, 7), (x) => parseInt(x, 16));
  if (mac[0] & 1) {
    throw new VirtioNetError(
      `MAC address ${s} is a multicast address; the lowest bit of the first byte must be 0`,
    );
  }
  return mac;
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

type Placed = 'ok' | 'wait' | 'dropped';

export class VirtioNet implements VirtioDevice<VirtioNetState>, NetReceiver {
  readonly deviceId = VIRTIO_ID_NET;
  readonly name = 'virtio-net';
  readonly stateId = 'virtio-net';
  readonly stateVersion = 1;
  readonly numQueues = 2;
  readonly queueMax = QUEUE_MAX;
  readonly features: bigint;
  readonly backend: NetBackend;
  readonly mac: Uint8Array;
  /** Frames and bytes since the card was made (kept across resets; not state). */
  counters: VirtioNetCounters = zeroCounters();
  private readonly holdFrames: number;
  private readonly holdBytes: number;
  private linkUp = true;
  private transport: NetTransport | null = null;
  /** Whether the driver accepted VIRTIO_NET_F_MRG_RXBUF (as of the last notification). */
  private mergeable = false;
  /** The header's size for the features the driver accepted (as of the last notification). */
  private hdrSize = NET_HDR_SIZE;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  /** receive() told the backend to pause. */
  private backendPaused = false;

  constructor(backend: NetBackend, cfg: VirtioNetConfig = {}) {
    this.backend = backend;
    this.mac = cfg.mac !== undefined ? parseMac(cfg.mac) : macFromSeed(cfg.seed ?? 'berth');
    this.holdFrames = cfg.rxHoldFrames ?? 256;
    this.holdBytes = cfg.rxHoldBytes ?? 1 << 20;
    if (!Number.isInteger(this.holdFrames) || this.holdFrames < 1) {
      throw new VirtioNetError(`rxHoldFrames must be a positive integer, got ${cfg.rxHoldFrames}`);
    }
    if (!Number.isInteger(this.holdBytes) || this.holdBytes < NET_MAX_FRAME) {
      throw new VirtioNetError(
        `rxHoldBytes must be at least ${NET_MAX_FRAME}, got ${cfg.rxHoldBytes}`,
      );
    }
    let f = (1n << BigInt(VIRTIO_NET_F_MAC)) | (1n << BigInt(VIRTIO_NET_F_STATUS));
    if (cfg.mergeableRxBuffers ?? true) f |= 1n << BigInt(VIRTIO_NET_F_MRG_RXBUF);
    this.features = f;
    backend.attach(this);
  }

  /** Hands the device its transport, so frames arriving between notifications reach the guest. */
  attach(transport: NetTransport): void {
    this.transport = transport;
  }

  /** Frames currently held for the guest. */
  get heldFrames(): number {
    return this.held.length;
  }

  get link(): boolean {
    return this.linkUp;
  }

  /** Sets the link state the guest sees (with a configuration-change interrupt). */
  setLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.transport?.configChanged();
  }

  configRead(offset: number, size: number): number {
    if (offset < 0 || offset + size > CONFIG_SIZE) return 0;
    const cfg = new Uint8Array(CONFIG_SIZE);
    cfg.set(this.mac);
    cfg[6] = this.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + cfg[offset + i];
    return v >>> 0;
  }

  configWrite(): void {
    // The MAC is set by the host (VIRTIO_NET_F_CTRL_MAC_ADDR is not offered): read-only.
  }

  reset(): void {
    this.counters.rxDropped += this.held.length;
    this.held = [];
    this.heldBytes = 0;
    this.resumeBackend();
  }

  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void {
    this.mergeable = (host.features & (1n << BigInt(VIRTIO_NET_F_MRG_RXBUF))) !== 0n;
    const modern = (host.features & (1n << VIRTIO_F_VERSION_1)) !== 0n;
    this.hdrSize = this.mergeable || modern ? NET_HDR_SIZE : NET_HDR_SIZE_LEGACY;
    if (index === RX_QUEUE) this.flush(queue, host);
    else if (index === TX_QUEUE) this.transmit(queue, host);
  }

  private transmit(queue: Virtqueue, host: VirtioQueueHost): void {
    const c = this.counters;
    const hdr = this.hdrSize;
    for (;;) {
      const chain = queue.pop();
      if (chain === null) break;
      if (chain.writable.length > 0) {
        throw new VirtioError(`transmit chain ${chain.head} has device-writable buffers`);
      }
      if (chain.readableBytes < hdr) {
        throw new VirtioError(
          `transmit chain ${chain.head} has ${chain.readableBytes} bytes, less than the ${hdr}-byte header`,
        );
      }
      const len = chain.readableBytes - hdr;
      if (len < NET_MIN_FRAME || len > NET_MAX_FRAME) {
        c.txDropped++;
      } else {
        const frame = new Uint8Array(len);
        Virtqueue.gather(host.ram, chain.readable, hdr, frame);
        c.txFrames++;
        c.txBytes += len;
        this.backend.send(frame);
      }
      queue.push(chain.head, 0);
    }
    host.usedBuffers(TX_QUEUE);
  }

  /** A frame from the backend for the guest (NetReceiver). Returns false when the backend should pause. */
  receive(frame: Uint8Array): boolean {
    const c = this.counters;
    if (frame.length < NET_MIN_FRAME || frame.length > NET_MAX_FRAME) {
      c.rxInvalid++;
      return !this.backendPaused;
    }
    if (this.held.length >= this.holdFrames || this.heldBytes + frame.length > this.holdBytes) {
      c.rxDropped++;
      this.backendPaused = true;
      return false;
    }
    this.held.push(frame.slice());
    this.heldBytes += frame.length;
    this.transport?.poll(RX_QUEUE);
    if (this.held.length >= this.holdFrames || this.heldBytes + NET_MAX_FRAME > this.holdBytes) {
      this.backendPaused = true;
    }
    return !this.backendPaused;
  }

  /**
   * Delivers held frames into the guest's receive buffers while there are
   * any. Throws VirtqueueError / VirtioError on a malformed receive chain (the
   * transport then puts the device into NEEDS_RESET).
   */
  private flush(ring: Virtqueue, host: VirtioQueueHost): void {
    let delivered = 0;
    try {
      while (this.held.length > 0) {
        const frame = this.held[0];
        const r = this.place(ring, host, frame);
        if (r === 'wait') break;
        this.held.shift();
        this.heldBytes -= frame.length;
        if (r === 'ok') delivered++;
      }
    } finally {
      if (delivered > 0) host.usedBuffers(RX_QUEUE);
    }
    if (
      this.backendPaused &&
      this.held.length <= this.holdFrames >> 1 &&
      this.heldBytes <= this.holdBytes >> 1
    ) {
      this.resumeBackend();
    }
  }

  private resumeBackend(): void {
    if (!this.backendPaused) return;
    this.backendPaused = false;
    this.backend.resume();
  }

  /** Writes one frame into receive buffers; 'wait' leaves the ring as it was. */
  private place(ring: Virtqueue, host: VirtioQueueHost, frame: Uint8Array): Placed {
    const hdr = this.hdrSize;
    const need = hdr + frame.length;
    const mergeable = this.mergeable;
    const start = ring.lastAvail;
    const chains: Chain[] = [];
    let room = 0;
    while (room < need) {
      const chain = ring.pop();
      if (chain === null) {
        ring.lastAvail = start;
        if (chains.length >= ring.size) {
          // Every buffer the ring can hold is too little for this frame.
          this.counters.rxInvalid++;
          return 'dropped';
        }
        return 'wait';
      }
      if (chain.readable.length > 0) {
        throw new VirtioError(`receive chain ${chain.head} has device-readable buffers`);
      }
      if (chain.writableBytes < hdr) {
        throw new VirtioError(
          `receive chain ${chain.head} has ${chain.writableBytes} bytes, less than the ${hdr}-byte header`,
        );
      }
      chains.push(chain);
      room += chain.writableBytes;
      if (!mergeable) break;
    }
    if (room < need) {
      // Without mergeable buffers the frame must fit one chain; keep the chain for the next frame.
      ring.lastAvail = start;
      this.counters.rxInvalid++;
      return 'dropped';
    }
    const data = new Uint8Array(need);
    if (hdr > NUM_BUFFERS) {
      data[NUM_BUFFERS] = chains.length & 0xff;
      data[NUM_BUFFERS + 1] = chains.length >>> 8;
    }
    data.set(frame, hdr);
    let off = 0;
    for (const chain of chains) {
      const n = Math.min(chain.writableBytes, need - off);
      Virtqueue.scatter(host.ram, chain.writable, 0, data.subarray(off, off + n));
      ring.push(chain.head, n);
      off += n;
    }
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.length;
    return 'ok';
  }

  saveState(): VirtioNetState {
    return { linkUp: this.linkUp, held: this.held.map(bytesToHex) };
  }

  /** Validates a state: well-sized frames, no more than this card holds. */
  checkState(data: unknown): VirtioNetState {
    return StateReader.read(data, (r) => {
      const s: VirtioNetState = {
        linkUp: r.bool('linkUp'),
        held: r.list('held', 0, this.holdFrames, (v, p) =>
          asHexBytes(v, p, NET_MIN_FRAME, NET_MAX_FRAME),
        ),
      };
      const bytes = s.held.reduce((n, h) => n + h.length / 2, 0);
      if (bytes > this.holdBytes) {
        throw new StateError(
          `held holds ${bytes} bytes, more than the ${this.holdBytes} this card holds`,
        );
      }
      return s;
    });
  }

  /**
   * Takes a checked state; held frames go to the guest once it posts buffers (or poll()).
   * Frames the backend brought before it (to an incoming migration's card, held while the
   * state was on its way) follow the saved ones, as far as there is room.
   */
  loadState(s: VirtioNetState): void {
    const early = this.held;
    this.linkUp = s.linkUp;
    this.held = s.held.map(hexToBytes);
    this.heldBytes = this.held.reduce((n, f) => n + f.length, 0);
    for (const f of early) {
      if (this.held.length < this.holdFrames && this.heldBytes + f.length <= this.holdBytes) {
        this.held.push(f);
        this.heldBytes += f.length;
      } else this.counters.rxDropped++;
    }
  }

  /** Tries to deliver held frames now (e.g. after a restore, once the transport is restored too). */
  poll(): void {
    this.transport?.poll(RX_QUEUE);
  }
}
