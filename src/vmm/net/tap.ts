// Bridged networking through a TAP device (Linux): the guest's card is one more port on an
// existing Linux bridge, so the guest takes part in the bridge's network as any machine on it
// would (its DHCP server, its addresses, its routing).
//
// The device is made by tapDevice.ts: by this process (root), or by the process that started
// the VMM, which hands over its descriptor (the daemon, for VMMs that run as a user of their
// own with no capabilities). Frames are exchanged with it on a worker thread (pollLoop.ts).
// Only the VMM (and the wrapper that started it) holds the device: it disappears, and leaves
// the bridge, when the last descriptor closes, on close() or when the process ends in any way.
//
//   const net = await TapBackend.start({ bridge: 'br0' });
//   const card = new VirtioNet(net, { seed: net.name });
//   ...
//   await net.close();

import { closeSync } from 'node:fs';
import { startWorker, WorkerLink, type LinkOptions, type StartedWorker } from './workerLink.js';
import type { TapOptions } from './tapDriver.js';
import { createTap, inheritTap, TapError, type TapDeviceConfig } from './tapDevice.js';

export interface TapConfig extends LinkOptions, TapDeviceConfig {
  /** A device another process made and put on the bridge: its descriptor here, and its name. */
  device?: { fd: number; name: string };
}

export class TapBackend extends WorkerLink {
  /** The TAP device's name. */
  readonly name: string;
  readonly bridge: string;
  private fd: number;

  private constructor(w: StartedWorker, fd: number, name: string, cfg: TapConfig) {
    super(w, cfg);
    this.fd = fd;
    this.name = name;
    this.bridge = cfg.bridge;
  }

  /**
   * Makes the TAP device and puts it on the bridge (or takes over `cfg.device`), then starts
   * its worker; throws TapError when not root, the bridge or ip is missing, the device cannot
   * be made, or the descriptor handed over is not the device named.
   */
  static async start(cfg: TapConfig): Promise<TapBackend> {
    const { fd, name } = cfg.device ? inheritTap(cfg.device.fd, cfg.device.name) : createTap(cfg);
    try {
      const opts: TapOptions = { fd, name };
      const w = await startWorker('tap', opts, cfg, (m) => new TapError(m));
      return new TapBackend(w, fd, name, cfg);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** The TAP device's descriptor in this process (-1 once closed). */
  get descriptor(): number {
    return this.fd;
  }

  protected override released(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
