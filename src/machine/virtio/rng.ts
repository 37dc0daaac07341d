// virtio-rng (virtio 1.2 section 5.4, device ID 4): one request queue whose
// writable buffers the device fills with bytes from an entropy source the
// VMM hands in (the host's cryptographic random source, or a seeded
// generator in deterministic runs). No features, no configuration space.
//
//   const rng = new VirtioRng({ fill: (b) => crypto.getRandomValues(b) });

import type { VirtioDevice, VirtioQueueHost } from './device.js';
import { Virtqueue } from './virtqueue.js';
import { checkEmpty, StateReader } from '../state/stateReader.js';
import type { Persistent } from '../state/persistent.js';
import { u64FromBigInt, u64ToBigInt, type U64 } from '../state/u64.js';

export const VIRTIO_ID_RNG = 4;

/** Largest number of bytes given for one request (a driver asks for at most a page or so). */
export const RNG_MAX_REQUEST = 64 * 1024;

export interface EntropySource {
  /** Fills `dest` with random bytes. */
  fill(dest: Uint8Array): void;
}

/** virtio-rng keeps no state beyond its transport (its counters are not state). */
export type VirtioRngState = Record<string, never>;

export class VirtioRng implements VirtioDevice<VirtioRngState> {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly name = 'virtio-rng';
  readonly stateId = 'virtio-rng';
  readonly stateVersion = 1;
  readonly features = 0n;
  readonly numQueues = 1;
  readonly queueMax = 64;
  /** Counters: requests served and bytes given. */
  readonly counters = { requests: 0, bytes: 0 };

  constructor(private readonly source: EntropySource) {}

  configRead(): number {
    return 0;
  }

  configWrite(): void {}

  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void {
    for (;;) {
      const chain = queue.pop();
      if (chain === null) break;
      const n = Math.min(chain.writableBytes, RNG_MAX_REQUEST);
      const bytes = new Uint8Array(n);
      this.source.fill(bytes);
      Virtqueue.scatter(host.ram, chain.writable, 0, bytes);
      queue.push(chain.head, n);
      this.counters.requests++;
      this.counters.bytes += n;
    }
    host.usedBuffers(index);
  }

  reset(): void {}

  saveState(): VirtioRngState {
    return {};
  }

  checkState(data: unknown): VirtioRngState {
    return checkEmpty(data);
  }

  loadState(): void {}
}

export interface SeededEntropyState {
  s0: U64;
  s1: U64;
}

/**
 * A deterministic entropy source (xorshift128+ from a seed), for runs that must
 * repeat exactly. Not for anything that needs secrecy. Its state (where the
 * sequence is) saves and restores, so a restored deterministic run goes on alike.
 */
export class SeededEntropy implements EntropySource, Persistent<SeededEntropyState> {
  readonly stateId = 'seeded-entropy';
  readonly stateVersion = 1;
  private s0: bigint;
  private s1: bigint;
  constructor(seed: bigint) {
    this.s0 = BigInt.asUintN(64, seed ^ 0x9e3779b97f4a7c15n) || 1n;
    this.s1 = BigInt.asUintN(64, seed * 0xbf58476d1ce4e5b9n) || 2n;
  }

  saveState(): SeededEntropyState {
    return { s0: u64FromBigInt(this.s0), s1: u64FromBigInt(this.s1) };
  }

  checkState(data: unknown): SeededEntropyState {
    return StateReader.read(data, (r) => ({ s0: r.u64('s0'), s1: r.u64('s1') }));
  }

  loadState(s: SeededEntropyState): void {
    this.s0 = u64ToBigInt(s.s0);
    this.s1 = u64ToBigInt(s.s1);
  }
  fill(dest: Uint8Array): void {
    for (let i = 0; i < dest.length; i += 8) {
      let x = this.s0;
      const y = this.s1;
      this.s0 = y;
      x = BigInt.asUintN(64, x ^ (x << 23n));
      this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
      let v = BigInt.asUintN(64, this.s1 + y);
      for (let k = 0; k < 8 && i + k < dest.length; k++) {
        dest[i + k] = Number(v & 0xffn);
        v >>= 8n;
      }
    }
  }
}
