// What every virtio transport (virtio-mmio, virtio-pci) and every device model behind one
// share: the device model's interface (VirtioDevice), what a model sees of its transport while
// it serves a notification (VirtioQueueHost), the device status bits, the transport feature
// bits and the interrupt status bits (virtio 1.2 sections 2.1, 2.2, 6).

import type { Ram } from '../ram.js';
import type { Persistent } from '../state/persistent.js';
import type { Virtqueue } from './virtqueue.js';

export class VirtioError extends Error {}

export const VIRTIO_F_INDIRECT_DESC = 28n;
export const VIRTIO_F_EVENT_IDX = 29n;
export const VIRTIO_F_VERSION_1 = 32n;
/** Transport features every Berth device offers. */
export const TRANSPORT_FEATURES =
  (1n << VIRTIO_F_VERSION_1) | (1n << VIRTIO_F_INDIRECT_DESC) | (1n << VIRTIO_F_EVENT_IDX);

export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;

/** Interrupt status bits (virtio-mmio InterruptStatus, virtio-pci ISR). */
export const INT_USED_BUFFER = 1;
export const INT_CONFIG_CHANGE = 2;

/** What a device model sees of its transport while it handles a notification. */
export interface VirtioQueueHost {
  readonly ram: Ram;
  /** The features the driver accepted. */
  readonly features: bigint;
  /** Raises the used-buffer interrupt for queue `index` when the driver wants one. */
  usedBuffers(index: number): void;
}

/**
 * A virtio device model behind a transport. Its saved state (Persistent)
 * is what the device keeps beyond its transport and queues: held frames or
 * events, selector registers; its counters are not state.
 */
export interface VirtioDevice<S = unknown> extends Persistent<S> {
  /** Virtio device ID (2 = block, 1 = network, ...). */
  readonly deviceId: number;
  /** Short name for log lines, e.g. "virtio-blk". */
  readonly name: string;
  /** Device-specific feature bits (the transport adds VERSION_1, INDIRECT_DESC, EVENT_IDX). */
  readonly features: bigint;
  readonly numQueues: number;
  /** Largest size of each queue (a power of 2). */
  readonly queueMax: number;
  /** Reads the device configuration space (offset from its start). */
  configRead(offset: number, size: number): number;
  configWrite(offset: number, size: number, value: number): void;
  /**
   * The driver notified queue `index`: pop chains from `queue`, push used
   * elements, then call host.usedBuffers(index). Throws VirtqueueError or
   * VirtioError on malformed guest input (the transport contains it).
   */
  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void;
  /** Back to the power-on state (the driver wrote 0 to Status). */
  reset(): void;
}
