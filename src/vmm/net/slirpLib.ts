// libslirp (Debian package libslirp0, QEMU's user-mode network stack) through
// koffi: the SlirpConfig and SlirpCb structures of libslirp 4.x's libslirp.h
// (config version 4) and the functions Berth calls. Laid out as the C compiler
// lays them out on 64-bit Linux; slirpLib.test.ts checks the offsets.

import koffi from 'koffi';

export const LIBSLIRP_PACKAGE = 'libslirp0';
export const LIBSLIRP_SONAME = 'libslirp.so.0';

export const SLIRP_POLL_IN = 1 << 0;
export const SLIRP_POLL_OUT = 1 << 1;
export const SLIRP_POLL_PRI = 1 << 2;
export const SLIRP_POLL_ERR = 1 << 3;
export const SLIRP_POLL_HUP = 1 << 4;

export class SlirpError extends Error {}

const InAddr = koffi.struct('berth_in_addr', { s_addr: 'uint32_t' });
const In6Addr = koffi.struct('berth_in6_addr', { s6_addr32: koffi.array('uint32_t', 4) });

export const SlirpConfig = koffi.struct('berth_SlirpConfig', {
  version: 'uint32_t',
  restricted: 'int',
  in_enabled: 'bool',
  vnetwork: InAddr,
  vnetmask: InAddr,
  vhost: InAddr,
  in6_enabled: 'bool',
  vprefix_addr6: In6Addr,
  vprefix_len: 'uint8_t',
  vhost6: In6Addr,
  vhostname: 'const char *',
  tftp_server_name: 'const char *',
  tftp_path: 'const char *',
  bootfile: 'const char *',
  vdhcp_start: InAddr,
  vnameserver: InAddr,
  vnameserver6: In6Addr,
  vdnssearch: 'void *',
  vdomainname: 'const char *',
  if_mtu: 'size_t',
  if_mru: 'size_t',
  disable_host_loopback: 'bool',
  enable_emu: 'bool',
  outbound_addr: 'void *',
  outbound_addr6: 'void *',
  disable_dns: 'bool',
  disable_dhcp: 'bool',
});

// Timers are numbers to Berth: the callbacks that create and take them use intptr_t for void *.
export const SendPacketCb = koffi.proto(
  'intptr_t berth_slirp_send_packet(const void *buf, size_t len, void *opaque)',
);
export const GuestErrorCb = koffi.proto(
  'void berth_slirp_guest_error(const char *msg, void *opaque)',
);
export const ClockGetNsCb = koffi.proto('int64_t berth_slirp_clock_get_ns(void *opaque)');
export const TimerFreeCb = koffi.proto('void berth_slirp_timer_free(intptr_t timer, void *opaque)');
export const TimerModCb = koffi.proto(
  'void berth_slirp_timer_mod(intptr_t timer, int64_t expire_ms, void *opaque)',
);
export const FdCb = koffi.proto('void berth_slirp_fd_cb(int fd, void *opaque)');
export const NotifyCb = koffi.proto('void berth_slirp_notify(void *opaque)');
export const TimerNewOpaqueCb = koffi.proto(
  'intptr_t berth_slirp_timer_new_opaque(int id, void *cb_opaque, void *opaque)',
);
export const AddPollCb = koffi.proto('int berth_slirp_add_poll(int fd, int events, void *opaque)');
export const GetREventsCb = koffi.proto('int berth_slirp_get_revents(int idx, void *opaque)');

export const SlirpCb = koffi.struct('berth_SlirpCb', {
  send_packet: koffi.pointer(SendPacketCb),
  guest_error: koffi.pointer(GuestErrorCb),
  clock_get_ns: koffi.pointer(ClockGetNsCb),
  timer_new: 'void *', // not used: timer_new_opaque (config version 4) replaces it
  timer_free: koffi.pointer(TimerFreeCb),
  timer_mod: koffi.pointer(TimerModCb),
  register_poll_fd: koffi.pointer(FdCb),
  unregister_poll_fd: koffi.pointer(FdCb),
  notify: koffi.pointer(NotifyCb),
  init_completed: 'void *',
  timer_new_opaque: koffi.pointer(TimerNewOpaqueCb),
});

export interface SlirpLib {
  slirp_new(cfg: unknown, cb: unknown, opaque: null): unknown;
  slirp_cleanup(slirp: unknown): void;
  slirp_pollfds_fill(slirp: unknown, timeout: Uint32Array, addPoll: unknown, opaque: null): void;
  slirp_pollfds_poll(slirp: unknown, error: number, getRevents: unknown, opaque: null): void;
  slirp_input(slirp: unknown, pkt: Uint8Array, len: number): void;
  slirp_handle_timer(slirp: unknown, id: number, cbOpaque: unknown): void;
  slirp_add_hostfwd(
    slirp: unknown,
    isUdp: number,
    host: { s_addr: number },
    hostPort: number,
    guest: { s_addr: number },
    guestPort: number,
  ): number;
  slirp_remove_hostfwd(
    slirp: unknown,
    isUdp: number,
    host: { s_addr: number },
    hostPort: number,
  ): number;
  slirp_version_string(): string;
}

/** Loads libslirp; throws SlirpError naming the Debian package when it is missing. */
export function loadSlirp(library = LIBSLIRP_SONAME): SlirpLib {
  let lib: koffi.IKoffiLib;
  try {
    lib = koffi.load(library);
  } catch (e) {
    throw new SlirpError(
      `--net user needs libslirp (${library}), which was not found: ` +
        `install Debian's ${LIBSLIRP_PACKAGE} package (apt-get install ${LIBSLIRP_PACKAGE})` +
        ` [${(e as Error).message}]`,
    );
  }
  return {
    slirp_new: lib.func(
      'void *slirp_new(const berth_SlirpConfig *cfg, const berth_SlirpCb *cb, void *opaque)',
    ),
    slirp_cleanup: lib.func('void slirp_cleanup(void *slirp)'),
    slirp_pollfds_fill: lib.func(
      'void slirp_pollfds_fill(void *slirp, _Inout_ uint32_t *timeout, berth_slirp_add_poll *add_poll, void *opaque)',
    ),
    slirp_pollfds_poll: lib.func(
      'void slirp_pollfds_poll(void *slirp, int select_error, berth_slirp_get_revents *get_revents, void *opaque)',
    ),
    slirp_input: lib.func('void slirp_input(void *slirp, const uint8_t *pkt, int len)'),
    slirp_handle_timer: lib.func('void slirp_handle_timer(void *slirp, int id, void *cb_opaque)'),
    slirp_add_hostfwd: lib.func(
      'int slirp_add_hostfwd(void *slirp, int is_udp, berth_in_addr host_addr, int host_port, berth_in_addr guest_addr, int guest_port)',
    ),
    slirp_remove_hostfwd: lib.func(
      'int slirp_remove_hostfwd(void *slirp, int is_udp, berth_in_addr host_addr, int host_port)',
    ),
    slirp_version_string: lib.func('const char *slirp_version_string(void)'),
  };
}

/** struct in_addr's s_addr for dotted-quad `a` (network byte order in memory). */
export function inAddr(a: string): { s_addr: number } {
  const parts = a.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new SlirpError(`"${a}" is not an IPv4 address`);
  }
  return { s_addr: new Uint32Array(Uint8Array.from(parts).buffer)[0] };
}

/** struct in6_addr for `a` (a full or :: abbreviated IPv6 address). */
export function in6Addr(a: string): { s6_addr32: Uint32Array } {
  const halves = a.split('::');
  if (halves.length > 2) throw new SlirpError(`"${a}" is not an IPv6 address`);
  const groups = (s: string): number[] =>
    s === '' ? [] : s.split(':').map((g) => parseInt(g, 16));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) {
    throw new SlirpError(`"${a}" is not an IPv6 address`);
  }
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  if (all.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) {
    throw new SlirpError(`"${a}" is not an IPv6 address`);
  }
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return { s6_addr32: new Uint32Array(bytes.buffer) };
}
