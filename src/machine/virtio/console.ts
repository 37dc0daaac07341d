// virtio-console (virtio 1.2 section 5.3, device ID 3), single port: the
// guest's hvc0. Bytes the guest transmits go to a CharBackend; bytes waiting
// on the host side (a ConsoleInput) fill the guest's receive buffers when the
// driver notifies the receive queue or the VMM polls it (VirtioMmio.poll(0)).
// Input stays with the host until the guest has buffers for it.

import type { CharBackend } from '../devices/uart16550.js';
import type { VirtioDevice, VirtioQueueHost } from './mmio.js';
import { Virtqueue } from './virtqueue.js';
import { checkEmpty } from '../state/stateReader.js';

export const VIRTIO_ID_CONSOLE = 3;
export const CONSOLE_RECEIVEQ = 0;
export const CONSOLE_TRANSMITQ = 1;

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
  readonly features = 0n;
  readonly numQueues = 2;
  readonly queueMax = 64;
  /** Counters: bytes to the guest and from it. */
  readonly counters = { bytesIn: 0, bytesOut: 0 };

  constructor(
    private readonly out: CharBackend,
    private readonly input: ConsoleInput,
  ) {}

  configRead(): number {
    return 0;
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
