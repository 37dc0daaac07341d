// The C library's memory calls that Node does not offer, through koffi, loaded on first use:
// malloc_trim and mallopt (idleTrim.ts), madvise(MADV_DONTNEED), which gives guest pages
// back to the system when the guest reports them free (virtio-balloon, Ram.discard), and
// madvise(MADV_HUGEPAGE) on guest RAM (VirtBoardConfig.adviseRam). Null where there are none
// (another C library than glibc).

/** What the VMM asks of the host's C library about memory. */
export interface HostMemory {
  /** malloc_trim(3): gives the free memory of malloc's heaps back to the system. */
  trim(pad: number): number;
  /** mallopt(3). */
  option(param: number, value: number): number;
  /**
   * Gives the pages under `view` back to the system (it must start and end on page
   * boundaries of private anonymous memory, as a wasm memory's pages are): they read as zero
   * after and take no memory until written. False when the kernel refused.
   */
  dontNeed(view: Uint8Array): boolean;
  /**
   * Asks for transparent huge pages under `view` (page-aligned private anonymous memory), as
   * QEMU does for guest RAM; they come where the host's
   * /sys/kernel/mm/transparent_hugepage/enabled is madvise or always. False when the kernel
   * refused. See VirtBoardConfig.adviseRam for what it changed.
   */
  hugePages(view: Uint8Array): boolean;
}

/** mallopt's M_ARENA_MAX. */
export const M_ARENA_MAX = -8;
const MADV_DONTNEED = 4;
const MADV_HUGEPAGE = 14;

let loaded: Promise<HostMemory | null> | null = null;

/** The host's memory calls, or null where the C library is not glibc. */
export function hostMemory(): Promise<HostMemory | null> {
  loaded ??= import('koffi').then(
    ({ default: koffi }) => {
      try {
        const lib = koffi.load('libc.so.6');
        const madvise = lib.func('int madvise(void *addr, size_t len, int advice)') as (
          addr: Uint8Array,
          len: number,
          advice: number,
        ) => number;
        return {
          trim: lib.func('int malloc_trim(size_t pad)') as (pad: number) => number,
          option: lib.func('int mallopt(int param, int value)') as (p: number, v: number) => number,
          dontNeed: (view: Uint8Array) => madvise(view, view.length, MADV_DONTNEED) === 0,
          hugePages: (view: Uint8Array) => madvise(view, view.length, MADV_HUGEPAGE) === 0,
        };
      } catch {
        return null;
      }
    },
    () => null,
  );
  return loaded;
}
