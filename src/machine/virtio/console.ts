// virtio-console (virtio 1.2 section 5.3, device ID 3), single port: the
// guest's hvc0. Bytes the guest transmits go to a CharBackend; bytes waiting
// on the host side (a ConsoleInput) fill the guest's receive buffers when the
// driver notifies the receive queue or the VMM polls it (VirtioMmio.poll(0)).
// Input stays with the host until the guest has buffers for it. It offers VIRTIO_CONSOLE_F_SIZE:
// its configuration holds the host terminal's columns and rows (u16 each), and resize() changes
// them with a configuration-change interrupt, which Linux turns into hvc0's window size. The
// size is the host terminal's, not the machine's: it is not saved with the machine.

import type { CharBackend } from '../devices/uart16550.js';
import type { VirtioDevice, VirtioQueueHost } from './device.js';
import { Virtqueue } from './virtqueue.js';
import { checkEmpty } from '../state/stateReader.js';

export const VIRTIO_ID_CONSOLE = 3;
export const CONSOLE_RECEIVEQ = 0;
export const CONSOLE_TRANSMITQ = 1;
/** VIRTIO_CONSOLE_F_SIZE: the configuration holds cols and rows. */
export const CONSOLE_F_SIZE = 1n << 0n;

/** What the device needs from its transport (VirtioMmio) to announce a new size. */
export interface ConsoleTransport {
  configChanged(): void;
}

/** Host-side input waiting for the guest. */
export interface ConsoleInput {
  pending(): number;
  take(max: number): number[];
}

/** virtio-console keeps no state beyond its transport: input waits on the host side. */
export type VirtioConsoleState = Record<string, never>;

export class VirtioConsole implements VirtioDevice<VirtioConsoleState> {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly name = 'virtio-console';
  readonly stateId = 'virtio-console';
  readonly stateVersion = 1;
  readonly features = CONSOLE_F_SIZE;
  readonly numQueues = 2;
  readonly queueMax = 64;
  /** Counters: bytes to the guest and from it. */
  readonly counters = { bytesIn: 0, bytesOut: 0 };

  constructor(
    private readonly out: CharBackend,
    private readonly input: ConsoleInput,
  ) {}

  /** The window size the guest reads (virtio_console_config: cols, rows). */
  private cols = 80;
  private rows = 24;
  private transport: ConsoleTransport | null = null;

  /** Hands the device its transport, for the configuration-change interrupt of resize(). */
  attach(transport: ConsoleTransport): void {
    this.transport = transport;
  }

  /** Sets the window size (1..65535 each) and tells the guest. */
  resize(cols: number, rows: number): void {
    for (const [what, n] of [
      ['cols', cols],
      ['rows', rows],
    ] as const) {
      if (!Number.isInteger(n) || n < 1 || n > 0xffff) {
        throw new RangeError(`${what}: a whole number from 1 to 65535, not ${n}`);
      }
    }
    if (cols === this.cols && rows === this.rows) return;
    this.cols = cols;
    this.rows = rows;
    this.transport?.configChanged();
  }

  get size(): { cols: number; rows: number } {
    return { cols: this.cols, rows: this.rows };
  }

  configRead(offset: number, size: number): number {
    const bytes = [this.cols & 0xff, this.cols >>> 8, this.rows & 0xff, this.rows >>> 8];
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (bytes[offset + i] ?? 0);
    return v;
  }

  configWrite(): void {}

  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void {
    if (index === CONSOLE_TRANSMITQ) {
      for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
        const bytes = new Uint8Array(chain.readableBytes);
        Virtqueue.gather(host.ram, chain.readable, 0, bytes);
        for (const b of bytes) this.out.write(b);
        this.counters.bytesOut += bytes.length;
        queue.push(chain.head, 0);
      }
    } else if (index === CONSOLE_RECEIVEQ) {
      while (this.input.pending() > 0) {
        const chain = queue.pop();
        if (chain === null) break;
        const bytes = Uint8Array.from(this.input.take(chain.writableBytes));
        Virtqueue.scatter(host.ram, chain.writable, 0, bytes);
        this.counters.bytesIn += bytes.length;
        queue.push(chain.head, bytes.length);
      }
    }
    host.usedBuffers(index);
  }

  reset(): void {}

  saveState(): VirtioConsoleState {
    return {};
  }

  checkState(data: unknown): VirtioConsoleState {
    return checkEmpty(data);
  }

  loadState(): void {}
}
