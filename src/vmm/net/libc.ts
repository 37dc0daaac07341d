// The few C library calls the network backends need that Node does not offer,
// through koffi: poll() on raw descriptors, pipes, read/write/close, and
// open/ioctl for the TUN device. Loaded once per thread (the VMM's main thread
// and its network worker each load their own).

import koffi from 'koffi';

export const POLLIN = 0x001;
export const POLLPRI = 0x002;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;

export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

const PR_SET_NAME = 15;

export const EINTR = 4;
export const EAGAIN = 11;

export interface Libc {
  /** poll(2) over a buffer of struct pollfd (8 bytes each); changed in place. */
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  pipe2(fds: Int32Array, flags: number): number;
  read(fd: number, buf: Uint8Array, len: number): number;
  write(fd: number, buf: Uint8Array, len: number): number;
  close(fd: number): number;
  open(path: string, flags: number): number;
  /** ioctl(2) with a pointer argument. */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  /** errno of the last call that failed. */
  errno(): number;
  /** Names the calling thread (as top -H and /proc/PID/task/TID/comm show it). */
  setThreadName(name: string): void;
}

/** Byte order of this machine: struct pollfd is read and written in it. */
const LE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

let loaded: Libc | null = null;

export function libc(): Libc {
  if (loaded) return loaded;
  const lib = koffi.load('libc.so.6');
  const prctl = lib.func(
    'int prctl(int option, const char *name, unsigned long a3, unsigned long a4, unsigned long a5)',
  );
  loaded = {
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    pipe2: lib.func('int pipe2(_Out_ int *fds, int flags)'),
    read: lib.func('long read(int fd, void *buf, unsigned long len)'),
    write: lib.func('long write(int fd, const void *buf, unsigned long len)'),
    close: lib.func('int close(int fd)'),
    open: lib.func('int open(const char *path, int flags)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, void *arg)'),
    errno: () => koffi.errno(),
    setThreadName: (name) => prctl(PR_SET_NAME, name.slice(0, 15), 0, 0, 0),
  };
  return loaded;
}

/** The text of an errno value, e.g. "EPERM (Operation not permitted)". */
export function errnoText(e: number): string {
  const names: Record<number, string> = {
    1: 'EPERM (Operation not permitted)',
    2: 'ENOENT (No such file or directory)',
    9: 'EBADF (Bad file descriptor)',
    11: 'EAGAIN (Resource temporarily unavailable)',
    13: 'EACCES (Permission denied)',
    16: 'EBUSY (Device or resource busy)',
    19: 'ENODEV (No such device)',
    22: 'EINVAL (Invalid argument)',
    98: 'EADDRINUSE (Address already in use)',
  };
  return names[e] ?? `errno ${e}`;
}

/** A set of struct pollfd entries, rebuilt before every poll(). */
export class PollSet {
  private buf = new Uint8Array(8 * 16);
  private view = new DataView(this.buf.buffer);
  count = 0;

  reset(): void {
    this.count = 0;
  }

  /** Adds fd with poll(2) events; returns its index. */
  add(fd: number, events: number): number {
    if ((this.count + 1) * 8 > this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    const o = this.count * 8;
    this.view.setInt32(o, fd, LE);
    this.view.setInt16(o + 4, events, LE);
    this.view.setInt16(o + 6, 0, LE);
    return this.count++;
  }

  /** poll(2) events returned for entry `i` (0 for an index out of range). */
  revents(i: number): number {
    if (i < 0 || i >= this.count) return 0;
    return this.view.getUint16(i * 8 + 6, LE);
  }

  /** Blocks in poll(2); returns its result (-1 with errno on error). */
  wait(c: Libc, timeoutMs: number): number {
    return c.poll(this.buf, this.count, timeoutMs);
  }
}
