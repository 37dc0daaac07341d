// The boot files of a VMM's guest (firmware, kernel, initrd). A VMM that boots reads them all
// at start: the firmware at once, the kernel and initrd on libuv's threadpool while the VMM
// starts its engines (Vmm.start: warmUp.ts, about 0.2 s, which the 30 MB read used to come
// before), opened at once so that a file missing or unreadable is still refused at start.
// A VMM that starts from a snapshot makes its first board with the firmware alone,
// since the restore overwrites all of RAM: it only checks at start that the kernel and initrd
// can be read, and reads them when a boot first needs them (a guest reboot), which spares a
// restore decompressing and copying in a kernel of some 30 MB for nothing. Once a boot has
// taken the files they are not kept (the board copied them into guest RAM): a guest reboot
// reads them again, so the VMM does not hold those 30 MB for a reboot that may never come.

import {
  checkGuestFile,
  kernelImage,
  readGuestFile,
  readGuestFileSoon,
  readKernel,
} from './kernelFile.js';

/** The firmware path that means no firmware (QEMU's -bios none): the kernel is entered in M-mode. */
export const NO_FIRMWARE = 'none';

/** What a board is made with. */
export interface BootImages {
  /** null: no firmware. */
  firmware: Uint8Array | null;
  kernel?: Uint8Array;
  initrd?: Uint8Array;
}

export interface BootPaths {
  /** A file, or NO_FIRMWARE. */
  firmware: string;
  kernel?: string;
  initrd?: string;
}

export class BootFiles {
  private images: BootImages | null = null;
  /** The first boot's files, being read, until ready() has them. */
  private reading: Promise<BootImages> | null = null;

  private constructor(
    private readonly paths: BootPaths,
    private readonly firmware: Uint8Array | null,
  ) {}

  /**
   * Reads the firmware, and starts reading the kernel and initrd unless `deferred` (then only
   * checks that they can be read); throws GuestFileError naming a file that cannot be read.
   * ready() has the rest of the reads' outcome.
   */
  static open(paths: BootPaths, deferred: boolean): BootFiles {
    const firmware =
      paths.firmware === NO_FIRMWARE ? null : readGuestFile(paths.firmware, 'firmware');
    const files = new BootFiles(paths, firmware);
    if (deferred) {
      if (paths.kernel !== undefined) checkGuestFile(paths.kernel, 'kernel');
      if (paths.initrd !== undefined) checkGuestFile(paths.initrd, 'initrd');
    } else {
      const kernel = paths.kernel !== undefined ? readGuestFileSoon(paths.kernel, 'kernel') : null;
      let initrd: Promise<Uint8Array> | null = null;
      try {
        if (paths.initrd !== undefined) initrd = readGuestFileSoon(paths.initrd, 'initrd');
      } catch (e) {
        kernel?.catch(() => undefined);
        throw e;
      }
      files.reading = Promise.all([kernel, initrd]).then(([k, i]) => ({
        firmware,
        kernel: k === null ? undefined : kernelImage(k, paths.kernel!),
        initrd: i ?? undefined,
      }));
      // A start that fails before it asks for them does not care how the reads went.
      files.reading.catch(() => undefined);
    }
    return files;
  }

  /**
   * Waits for the reads open() started: the files are then in hand for the first boot.
   * Throws GuestFileError for a file that could not be read or used.
   */
  async ready(): Promise<void> {
    const reading = this.reading;
    if (reading === null) return;
    this.reading = null;
    this.images = await reading;
  }

  /**
   * Every file, for a boot: those read at start for the first boot (after ready()), read anew
   * for later ones.
   */
  forBoot(): BootImages {
    const images = this.images ?? this.read();
    this.images = null;
    this.reading = null;
    return images;
  }

  private read(): BootImages {
    return {
      firmware: this.firmware,
      kernel: this.paths.kernel !== undefined ? readKernel(this.paths.kernel) : undefined,
      initrd:
        this.paths.initrd !== undefined ? readGuestFile(this.paths.initrd, 'initrd') : undefined,
    };
  }

  /** The firmware alone, for a board that a snapshot is restored into. */
  forRestore(): BootImages {
    return { firmware: this.firmware };
  }
}
