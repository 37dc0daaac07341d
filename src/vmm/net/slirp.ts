// User-mode networking on libslirp (QEMU's user network stack, Debian package
// libslirp0), run inside the VMM's own process on a worker thread: the guest
// sees QEMU's usual network (10.0.2.0/24, the host as 10.0.2.2, DNS at
// 10.0.2.3, DHCP from 10.0.2.15), its TCP and UDP become sockets of this
// process, and port forwards (-p) are listening sockets of this process too,
// so nothing outlives the VMM, even a SIGKILL. No privileges are needed.
//
//   const net = await SlirpBackend.start({ forwards: [parsePortForward('8080:80')] });
//   const card = new VirtioNet(net, { seed: guestName });
//   ...
//   await net.close();

import { startWorker, WorkerLink, type LinkOptions, type StartedWorker } from './workerLink.js';
import { SlirpError } from './slirpLib.js';
import type { SlirpNetwork, SlirpOptions } from './slirpDriver.js';
import type { PortForward } from './portForward.js';
import type { FromWorker } from './linkControl.js';

export { SlirpError } from './slirpLib.js';

/** QEMU's defaults for -netdev user. */
export const DEFAULT_SLIRP_NETWORK: SlirpNetwork = {
  network: '10.0.2.0',
  netmask: '255.255.255.0',
  host: '10.0.2.2',
  dns: '10.0.2.3',
  dhcpStart: '10.0.2.15',
  ipv6: true,
  prefix6: 'fec0::',
  prefix6Len: 64,
  host6: 'fec0::2',
  dns6: 'fec0::3',
  mtu: 0,
};

export interface SlirpConfig extends LinkOptions {
  forwards?: PortForward[];
  /** Bind the forwards only at setForwards(true) (an incoming migration's switch). */
  forwardsDeferred?: boolean;
  /** Changes to QEMU's addresses (e.g. { ipv6: false }). */
  network?: Partial<SlirpNetwork>;
  /** The libslirp shared object (default libslirp.so.0, from Debian's libslirp0). */
  library?: string;
}

export class SlirpBackend extends WorkerLink {
  /** libslirp's version. */
  readonly version: string;
  private lease: string | null = null;
  private readonly leaseWaiters: ((a: string) => void)[] = [];

  private constructor(w: StartedWorker, cfg: SlirpConfig) {
    super(w, cfg);
    this.version = String(w.info.version ?? '');
  }

  /**
   * Starts libslirp on a worker thread and binds the forwarded ports; throws
   * SlirpError when libslirp0 is missing or a port cannot be bound.
   */
  static async start(cfg: SlirpConfig = {}): Promise<SlirpBackend> {
    const options: SlirpOptions = {
      net: { ...DEFAULT_SLIRP_NETWORK, ...cfg.network },
      forwards: cfg.forwards ?? [],
      forwardsDeferred: cfg.forwardsDeferred,
      library: cfg.library,
    };
    const w = await startWorker('slirp', options, cfg, (m) => new SlirpError(m));
    return new SlirpBackend(w, cfg);
  }

  /**
   * Binds the port forwards (throws SlirpError when one cannot be bound: none is then), or
   * closes their listening sockets; a migration moves them at its switch.
   */
  setForwards(on: boolean): Promise<void> {
    return this.orderWorker({ forwards: on }, (m) => new SlirpError(m));
  }

  /** The address the guest was last given by DHCP (null before its first lease). */
  get guestAddress(): string | null {
    return this.lease;
  }

  /** Resolves with the guest's address once it has taken a DHCP lease. */
  whenLeased(): Promise<string> {
    if (this.lease !== null) return Promise.resolve(this.lease);
    return new Promise((r) => this.leaseWaiters.push(r));
  }

  protected override onOther(m: FromWorker): void {
    if (m.t !== 'lease') return;
    this.lease = m.address;
    for (const r of this.leaseWaiters.splice(0)) r(m.address);
  }
}
