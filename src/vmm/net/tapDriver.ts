// The network worker's driver for a TAP device: the VMM's main thread opened
// it (non-blocking) and hands over its descriptor; the worker reads the
// frames the kernel queues for the guest and writes the guest's frames to it.
// A device that goes away (or errs) is reported once and no longer polled.

import { EAGAIN, EINTR, POLLERR, POLLHUP, POLLIN, POLLNVAL, type PollSet } from './libc.js';
import type { Driver, LoopContext } from './pollLoop.js';
import { NET_MAX_FRAME, NET_MIN_FRAME } from '../../machine/virtio/netBackend.js';

export interface TapOptions {
  fd: number;
  name: string;
}

/** Frames read per round at most, so that the guest's frames are not kept waiting. */
const READS_PER_ROUND = 64;

export class TapDriver implements Driver {
  readonly info: Record<string, unknown> = {};
  private readonly buf = new Uint8Array(NET_MAX_FRAME + 1);
  private index = -1;
  private dead = false;

  constructor(
    private readonly ctx: LoopContext,
    private readonly opts: TapOptions,
  ) {}

  fill(set: PollSet, reading: boolean): number {
    this.index = this.dead ? -1 : set.add(this.opts.fd, reading ? POLLIN : 0);
    return -1;
  }

  private down(why: string): void {
    if (this.dead) return;
    this.dead = true;
    this.ctx.post({
      t: 'down',
      reason: `berth: the TAP device ${this.opts.name} failed (${why}); the guest network is down`,
    });
  }

  dispatch(set: PollSet): void {
    if (this.index < 0) return;
    const r = set.revents(this.index);
    if (r & (POLLERR | POLLHUP | POLLNVAL)) {
      this.down(`poll events 0x${r.toString(16)}`);
      return;
    }
    if (!(r & POLLIN)) return;
    const c = this.ctx.c;
    for (let i = 0; i < READS_PER_ROUND; i++) {
      const n = c.read(this.opts.fd, this.buf, this.buf.length);
      if (n < 0) {
        const e = c.errno();
        if (e === EAGAIN || e === EINTR) break;
        this.down(`read: errno ${e}`);
        break;
      }
      if (n === 0) break;
      if (n < NET_MIN_FRAME || n > NET_MAX_FRAME) continue;
      this.ctx.emit(this.buf.slice(0, n));
    }
  }

  input(frame: Uint8Array): void {
    if (this.dead || frame.length < NET_MIN_FRAME || frame.length > NET_MAX_FRAME) {
      this.ctx.dropTx();
      return;
    }
    if (this.ctx.c.write(this.opts.fd, frame, frame.length) !== frame.length) this.ctx.dropTx();
  }

  close(): void {
    // The main thread closes the descriptor once the worker is gone.
  }
}
