// The network worker's driver for user-mode networking: one libslirp
// instance (QEMU's user network stack) in the worker thread. Its sockets join
// the worker's poll(), its timers are kept here, the guest's frames go to
// slirp_input and what slirp sends the guest goes to the loop. The DHCP
// address slirp hands the guest is read from its DHCPACK and reported.

import koffi from 'koffi';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLPRI, type PollSet } from './libc.js';
import {
  AddPollCb,
  ClockGetNsCb,
  FdCb,
  GetREventsCb,
  GuestErrorCb,
  NotifyCb,
  SLIRP_POLL_ERR,
  SLIRP_POLL_HUP,
  SLIRP_POLL_IN,
  SLIRP_POLL_OUT,
  SLIRP_POLL_PRI,
  SendPacketCb,
  SlirpCb,
  SlirpError,
  TimerFreeCb,
  TimerModCb,
  TimerNewOpaqueCb,
  in6Addr,
  inAddr,
  loadSlirp,
  type SlirpLib,
} from './slirpLib.js';
import { dhcpAckAddress } from './dhcpSnoop.js';
import type { Driver, LoopContext } from './pollLoop.js';
import type { PortForward } from './portForward.js';
import { NET_MAX_FRAME, NET_MIN_FRAME } from '../../machine/virtio/netBackend.js';

export interface SlirpNetwork {
  network: string;
  netmask: string;
  host: string;
  dns: string;
  dhcpStart: string;
  ipv6: boolean;
  prefix6: string;
  prefix6Len: number;
  host6: string;
  dns6: string;
  /** 0: libslirp's default (1500). */
  mtu: number;
}

export interface SlirpOptions {
  net: SlirpNetwork;
  forwards: PortForward[];
  /** Bind the forwards only when ordered (an incoming migration binds them at its switch). */
  forwardsDeferred?: boolean;
  /** The library to load (default libslirp.so.0). */
  library?: string;
}

interface Timer {
  id: number;
  cbOpaque: unknown;
  expireMs: number | null;
}

const MAX_GUEST_ERRORS = 20;

export class SlirpDriver implements Driver {
  readonly info: Record<string, unknown>;
  private readonly lib: SlirpLib;
  private readonly slirp: unknown;
  private readonly callbacks: koffi.IKoffiRegisteredCallback[] = [];
  private readonly cbMemory: unknown;
  private readonly timers = new Map<number, Timer>();
  private nextTimer = 1;
  private readonly t0 = process.hrtime.bigint();
  private readonly timeout = new Uint32Array(1);
  private readonly addPoll: koffi.IKoffiRegisteredCallback;
  private readonly getRevents: koffi.IKoffiRegisteredCallback;
  private set: PollSet | null = null;
  private reading = true;
  private guestErrors = 0;
  private lease = '';
  /** The guest's address, where forwarded connections go. */
  private readonly guest: string;
  private forwardsBound = false;

  constructor(
    private readonly ctx: LoopContext,
    private readonly opts: SlirpOptions,
  ) {
    this.lib = loadSlirp(opts.library);
    const reg = (fn: (...a: never[]) => unknown, proto: koffi.IKoffiCType) => {
      const r = koffi.register(fn, koffi.pointer(proto));
      this.callbacks.push(r);
      return r;
    };
    const n = opts.net;
    const cfg = {
      version: 4,
      restricted: 0,
      in_enabled: true,
      vnetwork: inAddr(n.network),
      vnetmask: inAddr(n.netmask),
      vhost: inAddr(n.host),
      in6_enabled: n.ipv6,
      vprefix_addr6: in6Addr(n.prefix6),
      vprefix_len: n.prefix6Len,
      vhost6: in6Addr(n.host6),
      vhostname: null,
      tftp_server_name: null,
      tftp_path: null,
      bootfile: null,
      vdhcp_start: inAddr(n.dhcpStart),
      vnameserver: inAddr(n.dns),
      vnameserver6: in6Addr(n.dns6),
      vdnssearch: null,
      vdomainname: null,
      if_mtu: n.mtu,
      if_mru: n.mtu,
      disable_host_loopback: false,
      enable_emu: false,
      outbound_addr: null,
      outbound_addr6: null,
      disable_dns: false,
      disable_dhcp: false,
    };
    const cb = {
      send_packet: reg(
        ((buf: unknown, len: number | bigint) => this.sendPacket(buf, Number(len))) as never,
        SendPacketCb,
      ),
      guest_error: reg(((msg: string) => this.guestError(msg)) as never, GuestErrorCb),
      clock_get_ns: reg((() => Number(process.hrtime.bigint() - this.t0)) as never, ClockGetNsCb),
      timer_new: null,
      timer_free: reg(
        ((t: number | bigint) => this.timers.delete(Number(t))) as never,
        TimerFreeCb,
      ),
      timer_mod: reg(
        ((t: number | bigint, ms: number | bigint) =>
          this.timerMod(Number(t), Number(ms))) as never,
        TimerModCb,
      ),
      register_poll_fd: reg((() => {}) as never, FdCb),
      unregister_poll_fd: reg((() => {}) as never, FdCb),
      notify: reg((() => {}) as never, NotifyCb),
      init_completed: null,
      timer_new_opaque: reg(
        ((id: number, cbOpaque: unknown) => this.timerNew(id, cbOpaque)) as never,
        TimerNewOpaqueCb,
      ),
    };
    this.addPoll = reg(
      ((fd: number, events: number) => this.onAddPoll(fd, events)) as never,
      AddPollCb,
    );
    this.getRevents = reg(((idx: number) => this.onGetRevents(idx)) as never, GetREventsCb);
    // slirp keeps the pointer to its callbacks: they live in memory of their own until close().
    this.cbMemory = koffi.alloc(SlirpCb, 1);
    koffi.encode(this.cbMemory, SlirpCb, cb);
    this.slirp = this.lib.slirp_new(cfg, this.cbMemory, null);
    if (!this.slirp) {
      this.release();
      throw new SlirpError('libslirp refused its configuration (slirp_new returned NULL)');
    }
    this.guest = n.dhcpStart;
    try {
      if (!opts.forwardsDeferred) this.setForwards(true);
    } catch (e) {
      this.close();
      throw e;
    }
    this.info = { version: this.lib.slirp_version_string() };
  }

  /** Orders from the main thread: { forwards: boolean } binds or unbinds every port forward. */
  order(o: unknown): void {
    const on = (o as { forwards?: unknown } | null)?.forwards;
    if (typeof on !== 'boolean') throw new SlirpError('unknown order for the user network');
    this.setForwards(on);
  }

  /** Binds every forward (all or none: one that fails unbinds the others), or unbinds them. */
  private setForwards(on: boolean): void {
    if (on === this.forwardsBound) return;
    if (!on) {
      for (const f of this.opts.forwards) this.removeForward(f);
      this.forwardsBound = false;
      return;
    }
    const done: PortForward[] = [];
    try {
      for (const f of this.opts.forwards) {
        this.addForward(f, this.guest);
        done.push(f);
      }
    } catch (e) {
      for (const f of done) this.removeForward(f);
      throw e;
    }
    this.forwardsBound = true;
  }

  /** Closes a forward's listening socket (connections made through it go on). */
  private removeForward(f: PortForward): void {
    const udp = f.proto === 'udp' ? 1 : 0;
    this.lib.slirp_remove_hostfwd(this.slirp, udp, inAddr(f.hostAddress ?? '0.0.0.0'), f.hostPort);
  }

  private addForward(f: PortForward, guest: string): void {
    const udp = f.proto === 'udp' ? 1 : 0;
    const host = f.hostAddress ?? '0.0.0.0';
    if (host.includes(':')) {
      throw new SlirpError(
        `port forward ${host}/${f.hostPort}: --net user forwards IPv4 host addresses only`,
      );
    }
    const r = this.lib.slirp_add_hostfwd(
      this.slirp,
      udp,
      inAddr(host),
      f.hostPort,
      inAddr(guest),
      f.guestPort,
    );
    if (r < 0) {
      throw new SlirpError(
        `cannot forward host ${f.proto.toUpperCase()} port ${f.hostPort}` +
          `${f.hostAddress !== undefined ? ' on ' + f.hostAddress : ''} to the guest: ` +
          'the port is in use, or the address is not one of this host',
      );
    }
  }

  private sendPacket(buf: unknown, len: number): number {
    if (len < NET_MIN_FRAME || len > NET_MAX_FRAME) return len;
    const frame = new Uint8Array(koffi.view(buf as never, len).slice(0));
    const lease = dhcpAckAddress(frame);
    if (lease !== null && lease !== this.lease) {
      this.lease = lease;
      this.ctx.post({ t: 'lease', address: lease });
    }
    this.ctx.emit(frame);
    return len;
  }

  private guestError(msg: string): void {
    if (this.guestErrors++ < MAX_GUEST_ERRORS) {
      this.ctx.post({ t: 'log', line: `berth: the guest network (slirp): ${msg}` });
    }
  }

  private timerNew(id: number, cbOpaque: unknown): number {
    const key = this.nextTimer++;
    this.timers.set(key, { id, cbOpaque, expireMs: null });
    return key;
  }

  private timerMod(key: number, expireMs: number): void {
    const t = this.timers.get(key);
    if (t) t.expireMs = expireMs;
  }

  private nowMs(): number {
    return Number((process.hrtime.bigint() - this.t0) / 1_000_000n);
  }

  private onAddPoll(fd: number, events: number): number {
    const set = this.set!;
    let ev = 0;
    if (events & SLIRP_POLL_IN && this.reading) ev |= POLLIN;
    if (events & SLIRP_POLL_PRI && this.reading) ev |= POLLPRI;
    if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
    // Not polled at all while the guest is behind: a hung-up socket would end poll() at once.
    if (ev === 0) return -1;
    return set.add(fd, ev);
  }

  private onGetRevents(idx: number): number {
    const r = this.set!.revents(idx);
    let out = 0;
    if (r & POLLIN) out |= SLIRP_POLL_IN;
    if (r & POLLPRI) out |= SLIRP_POLL_PRI;
    if (r & POLLOUT) out |= SLIRP_POLL_OUT;
    if (r & POLLERR) out |= SLIRP_POLL_ERR;
    if (r & POLLHUP) out |= SLIRP_POLL_HUP;
    return out;
  }

  fill(set: PollSet, reading: boolean): number {
    this.set = set;
    this.reading = reading;
    let t = 0xffffffff;
    const now = this.nowMs();
    for (const tm of this.timers.values()) {
      if (tm.expireMs !== null) t = Math.min(t, Math.max(0, tm.expireMs - now));
    }
    this.timeout[0] = t;
    this.lib.slirp_pollfds_fill(this.slirp, this.timeout, this.addPoll, null);
    return Math.min(this.timeout[0], 0x7fffffff);
  }

  dispatch(set: PollSet, failed: boolean): void {
    this.set = set;
    this.lib.slirp_pollfds_poll(this.slirp, failed ? 1 : 0, this.getRevents, null);
    const now = this.nowMs();
    for (const tm of [...this.timers.values()]) {
      if (tm.expireMs !== null && tm.expireMs <= now) {
        tm.expireMs = null;
        this.lib.slirp_handle_timer(this.slirp, tm.id, tm.cbOpaque);
      }
    }
  }

  input(frame: Uint8Array): void {
    if (frame.length < NET_MIN_FRAME || frame.length > NET_MAX_FRAME) {
      this.ctx.dropTx();
      return;
    }
    this.lib.slirp_input(this.slirp, frame, frame.length);
  }

  close(): void {
    if (this.slirp) this.lib.slirp_cleanup(this.slirp);
    this.release();
  }

  private release(): void {
    for (const r of this.callbacks.splice(0)) koffi.unregister(r);
    if (this.cbMemory) koffi.free(this.cbMemory as never);
  }
}
