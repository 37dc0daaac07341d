// A device for transport tests (virtio-mmio, virtio-pci): it echoes each chain's readable
// bytes into its writable buffers.

import { StateReader } from '../state/stateReader.js';
import type { VirtioDevice, VirtioQueueHost } from './device.js';
import { Virtqueue } from './virtqueue.js';

/**
 * A device for transport tests (ID 0x7e): each chain's readable bytes are
 * copied into its writable buffers; `features` adds device bits.
 */
export class EchoDevice implements VirtioDevice<{ config: number[] }> {
  readonly deviceId = 0x7e;
  readonly name = 'virtio-echo';
  readonly stateId = 'virtio-echo';
  readonly stateVersion = 1;
  readonly queueMax = 64;
  chains = 0;
  resets = 0;
  readonly config = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

  constructor(
    readonly numQueues = 2,
    readonly features = 1n,
  ) {}

  configRead(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.config[offset + i] ?? 0);
    return v >>> 0;
  }

  configWrite(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++)
      if (offset + i < 8) this.config[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void {
    for (let c = queue.pop(); c !== null; c = queue.pop()) {
      const n = Math.min(c.readableBytes, c.writableBytes);
      const data = new Uint8Array(n);
      Virtqueue.gather(host.ram, c.readable, 0, data);
      Virtqueue.scatter(host.ram, c.writable, 0, data);
      queue.push(c.head, n);
      this.chains++;
    }
    host.usedBuffers(index);
  }

  reset(): void {
    this.resets++;
  }

  /** Its state: the writable configuration bytes (chains and resets are counters). */
  saveState(): { config: number[] } {
    return { config: Array.from(this.config) };
  }

  checkState(data: unknown): { config: number[] } {
    return StateReader.read(data, (r) => ({ config: r.ints('config', 8, 8, 0, 0xff) }));
  }

  loadState(s: { config: number[] }): void {
    this.config.set(s.config);
  }
}
