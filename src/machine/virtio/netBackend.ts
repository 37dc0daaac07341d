// The host side of a virtual network card as the machine layer sees it: the
// device hands each Ethernet frame the guest transmits to send(), and the
// backend delivers frames for the guest to the receiver the device attached.
// The VMM implements it over libslirp (user-mode networking) or a TAP device;
// tests use MemoryNetBackend. Frames are plain Ethernet frames without the
// virtio header and without the frame check sequence.
//
// Backpressure: receive() returns false when the device is holding as many
// frames as it is willing to (the guest has posted no receive buffers); the
// backend should then stop reading until the device calls resume(). Frames
// delivered anyway are held up to the device's bound, then dropped and counted.

export class NetBackendError extends Error {}

/** The largest Ethernet frame carried (without FCS): a 64 KiB IP packet plus headers. */
export const NET_MAX_FRAME = 65535 + 14 + 4;
/** The smallest frame worth carrying: an Ethernet header. */
export const NET_MIN_FRAME = 14;

export interface NetReceiver {
  /**
   * A frame for the guest. The device copies what it keeps; the caller may
   * reuse the buffer. Returns false when the backend should pause reading.
   */
  receive(frame: Uint8Array): boolean;
}

export interface NetBackend {
  /** A frame the guest transmitted (the caller may reuse the buffer after the call). */
  send(frame: Uint8Array): void;
  /** Where received frames go (null: nowhere, they are dropped). */
  attach(receiver: NetReceiver | null): void;
  /** The device has room again after receive() returned false. */
  resume(): void;
}

/** A backend in memory: records what the guest sends and injects frames on request. */
export class MemoryNetBackend implements NetBackend {
  readonly sent: Uint8Array[] = [];
  receiver: NetReceiver | null = null;
  paused = false;
  resumes = 0;

  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }

  attach(receiver: NetReceiver | null): void {
    this.receiver = receiver;
  }

  resume(): void {
    this.paused = false;
    this.resumes++;
  }

  /** Delivers a frame to the device as the network would; returns what the device answered. */
  inject(frame: Uint8Array): boolean {
    if (!this.receiver) return false;
    const more = this.receiver.receive(frame);
    if (!more) this.paused = true;
    return more;
  }
}
