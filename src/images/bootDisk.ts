// The pieces of a disk that boots as real machines' disks do, through a boot loader (U-Boot's
// distro boot, uboot.ts) instead of a kernel handed to the board: a DOS partition table (MBR)
// with one bootable Linux partition from 1 MiB to the end, whose ext4 holds /boot with the
// kernel, the initramfs and /boot/extlinux/extlinux.conf naming them. U-Boot scans the
// partition, reads extlinux.conf and boots what it names, so a kernel installed in the guest (or
// an edited `append`) takes effect at the next boot.
//
// API
//   stageBoot(rootDir, { kernel, kernelVersion, initrd, append })  writes ROOT/boot/...
//   writeMbr(path, diskBytes)   writes the partition table into sector 0 of the image file
//   mbr(diskBytes, signature)   the 512-byte sector itself (for tests)

import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from './errors.js';

const SECTOR = 512;

/** Where the root partition starts: 1 MiB, as partitioning tools align it. */
export const PARTITION_OFFSET = 1024 * 1024;

/** The root partition as the guest's kernel names it (the first disk's first partition). */
export const BOOT_DISK_ROOT = '/dev/vda1';

/** MBR partition type of a Linux file system. */
const LINUX_PARTITION = 0x83;

/**
 * A DOS partition table (MBR) for a disk of `diskBytes`: one bootable Linux partition from
 * PARTITION_OFFSET to the end, addressed by LBA (the CHS fields hold the "beyond CHS" marker
 * 0xFE 0xFF 0xFF, as tools write for disks of any size); the disk signature is `signature`.
 */
export function mbr(diskBytes: number, signature: number): Buffer {
  const sectors = Math.floor(diskBytes / SECTOR);
  const start = PARTITION_OFFSET / SECTOR;
  if (sectors <= start || sectors > 0xffffffff) {
    throw new ImageError(
      'UNSUPPORTED',
      `a partitioned disk must be larger than 1 MiB and smaller than 2 TiB (got ${diskBytes} bytes)`,
    );
  }
  const b = Buffer.alloc(SECTOR);
  b.writeUInt32LE(signature >>> 0, 440);
  const e = 446; // the first of four 16-byte entries
  b[e] = 0x80; // bootable
  b.fill(0xff, e + 1, e + 4);
  b[e + 1] = 0xfe;
  b[e + 4] = LINUX_PARTITION;
  b.fill(0xff, e + 5, e + 8);
  b[e + 5] = 0xfe;
  b.writeUInt32LE(start, e + 8);
  b.writeUInt32LE(sectors - start, e + 12);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

/** Writes mbr(diskBytes) with a random disk signature into the first sector of `path`. */
export function writeMbr(path: string, diskBytes: number): void {
  const sector = mbr(diskBytes, randomBytes(4).readUInt32LE(0));
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, sector, 0, SECTOR, 0);
  } finally {
    closeSync(fd);
  }
}

export interface BootFilesSpec {
  /** Path of the kernel Image to install as /boot/vmlinux-<version> (Debian's name). */
  kernel: string;
  kernelVersion: string;
  /** The initramfs, installed as /boot/initrd.img-<version>. */
  initrd: Buffer;
  /** The kernel command line. */
  append: string;
}

/** The extlinux.conf that boots one kernel at once (no menu, no wait). */
export function extlinuxConf(spec: Omit<BootFilesSpec, 'kernel' | 'initrd'>): string {
  const v = spec.kernelVersion;
  return [
    '# Read by the boot loader (U-Boot) at every boot: edit it, or install a kernel and point',
    '# it here, and the next boot takes it.',
    'default berth',
    'timeout 0',
    '',
    'label berth',
    `\tmenu label Debian GNU/Linux, kernel ${v}`,
    `\tlinux /boot/vmlinux-${v}`,
    `\tinitrd /boot/initrd.img-${v}`,
    `\tappend ${spec.append}`,
    '',
  ].join('\n');
}

/** Writes the kernel, the initramfs and boot/extlinux/extlinux.conf under the staging `root`. */
export async function stageBoot(root: string, spec: BootFilesSpec): Promise<void> {
  const boot = join(root, 'boot');
  await mkdir(join(boot, 'extlinux'), { recursive: true });
  await copyFile(spec.kernel, join(boot, `vmlinux-${spec.kernelVersion}`));
  await writeFile(join(boot, `initrd.img-${spec.kernelVersion}`), spec.initrd);
  await writeFile(join(boot, 'extlinux', 'extlinux.conf'), extlinuxConf(spec));
}
