// virtio-balloon (virtio 1.2 section 5.5, device ID 5) for free page reporting: the guest
// tells the host which of its pages are free (VIRTIO_BALLOON_F_REPORTING, section 5.5.6.7),
// and the host gives them back to the system (Ram.discard: they read as zero after), so that
// memory a guest touched once and freed (its initramfs archive, a deleted file's page cache,
// a finished build) stops costing the host. Linux reports free blocks of 2 or 4 MiB a couple
// of seconds after they gather, and all its free memory when the driver starts.
//
// Queues, as the driver numbers those of the features it took: inflateq (0), deflateq (1),
// then reporting_vq (2), Berth offering neither statistics nor free page hints. Reporting
// buffers name free ranges (the driver offers them writable); each is given back and the
// buffer returned with nothing written. The classic balloon stays at a target of 0 pages:
// num_pages is 0, so a driver inflates nothing; pages it inflates anyway are given back as
// reported ones, and deflating needs nothing. `actual` is the driver's to write.
//
//   const balloon = new VirtioBalloon();
//   ram.discarder = (view) => madvise(view, view.length, MADV_DONTNEED) === 0;

import type { VirtioDevice, VirtioQueueHost } from './device.js';
import type { Segment, Virtqueue } from './virtqueue.js';
import { StateReader } from '../state/stateReader.js';

export const VIRTIO_ID_BALLOON = 5;
/** Feature bit: the driver reports free pages on reporting_vq. */
export const VIRTIO_BALLOON_F_REPORTING = 5n;
export const BALLOON_INFLATEQ = 0;
export const BALLOON_DEFLATEQ = 1;
export const BALLOON_REPORTQ = 2;
/** The balloon's page size: inflate and deflate buffers hold 32-bit page numbers of 4 KiB. */
const BALLOON_PAGE = 4096;
/** Bytes of the configuration space: le32 num_pages, le32 actual. */
const CONFIG_BYTES = 8;

export interface VirtioBalloonState {
  /** The driver's `actual` (pages it says it holds in the balloon). */
  actual: number;
}

export class VirtioBalloon implements VirtioDevice<VirtioBalloonState> {
  readonly deviceId = VIRTIO_ID_BALLOON;
  readonly name = 'virtio-balloon';
  readonly stateId = 'virtio-balloon';
  readonly stateVersion = 1;
  readonly features = 1n << VIRTIO_BALLOON_F_REPORTING;
  readonly numQueues = 3;
  readonly queueMax = 128;
  /** Counters: ranges reported (and pages inflated), and the bytes given back for them. */
  readonly counters = { reports: 0, reportedBytes: 0, discardedBytes: 0 };
  private actual = 0;

  configRead(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const o = offset + i;
      // num_pages (bytes 0..3) is always 0; actual is bytes 4..7.
      const b = o >= 4 && o < CONFIG_BYTES ? (this.actual >>> (8 * (o - 4))) & 0xff : 0;
      v = v * 256 + b;
    }
    return v >>> 0;
  }

  configWrite(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      if (o < 4 || o >= CONFIG_BYTES) continue; // num_pages is the device's
      const shift = 8 * (o - 4);
      const b = Math.floor(value / 256 ** i) & 0xff;
      this.actual = ((this.actual & ~(0xff << shift)) | (b << shift)) >>> 0;
    }
  }

  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void {
    for (;;) {
      const chain = queue.pop();
      if (chain === null) break;
      if (index === BALLOON_REPORTQ) {
        for (const s of chain.writable) this.discard(host, s.addr, s.len);
        for (const s of chain.readable) this.discard(host, s.addr, s.len);
      } else if (index === BALLOON_INFLATEQ) {
        this.inflate(host, chain.readable);
      }
      queue.push(chain.head, 0);
    }
    host.usedBuffers(index);
  }

  /** Gives back the pages whose numbers (le32 each) the inflate buffers hold. */
  private inflate(host: VirtioQueueHost, segs: Segment[]): void {
    for (const s of segs) {
      const bytes = host.ram.read(s.addr, s.len - (s.len % 4));
      const pfns = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      for (let i = 0; i < bytes.length; i += 4) {
        this.discard(host, pfns.getUint32(i, true) * BALLOON_PAGE, BALLOON_PAGE);
      }
    }
  }

  private discard(host: VirtioQueueHost, pa: number, len: number): void {
    this.counters.reports++;
    this.counters.reportedBytes += len;
    this.counters.discardedBytes += host.ram.discard(pa, len);
  }

  reset(): void {
    this.actual = 0;
  }

  saveState(): VirtioBalloonState {
    return { actual: this.actual };
  }

  checkState(data: unknown): VirtioBalloonState {
    return StateReader.read(data, (r) => ({ actual: r.int('actual', 0, 0xffffffff) }));
  }

  loadState(s: VirtioBalloonState): void {
    this.actual = s.actual;
  }
}
