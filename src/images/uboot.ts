// U-Boot for the virt board: Debian's u-boot-qemu package (Architecture: all; it holds the
// riscv64 builds beside the other boards'), whose qemu-riscv64_smode/u-boot.bin runs in S-mode as
// OpenSBI's payload, as QEMU boots it (-bios fw_dynamic.bin -kernel u-boot.bin). U-Boot's
// distro boot finds /boot/extlinux/extlinux.conf on a virtio disk and boots the kernel it names,
// so a guest that installs a new kernel boots it next time. Fetched from the same archive as
// the default assets (assets.ts) the first time it is asked for, checked against the archive's
// signed checksums, and cached (record "uboot-<suite>-riscv64").
//
// API
//   const u = await ensureUBoot({ mirror?, suite?, refresh?, ... });   // AssetOptions
//   u.path     u-boot.bin: a flat binary linked at RAM base + 2 MiB (Berth's --kernel puts a flat
//              binary there, after OpenSBI, as QEMU's -kernel does)
//   u.version  e.g. "2025.01-3+deb13u1", from the banner inside the binary

import { readFile } from 'node:fs/promises';
import { DEFAULT_ARCH, DEFAULT_SUITE, type PackageInfo } from './archive.js';
import { type AssetOptions, type PackageRef, packageRef } from './assets.js';
import { AssetCache } from './cache.js';
import { extractDeb } from './deb.js';
import { ImageError } from './errors.js';
import { openSuiteArchive } from './suiteArchive.js';

export const UBOOT_PACKAGE = 'u-boot-qemu';

/** The build in UBOOT_PACKAGE that runs in S-mode under OpenSBI on the virt board. */
export const UBOOT_PATH = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin';

/**
 * The least guest RAM that boots through this U-Boot. Its environment puts the extlinux.conf it
 * reads at 0x8c100000 (scriptaddr) and the initramfs at 0x8c300000 (ramdisk_addr_r), 193 and 195
 * MiB into RAM, and U-Boot keeps itself at the top of RAM. Measured on Berth and on
 * qemu-system-riscv64 alike: at 192M and below the store to scriptaddr faults and U-Boot resets
 * the board, which faults again, over and over; at 200M it boots. 256M leaves room for a larger
 * initramfs or kernel installed later.
 */
export const UBOOT_MIN_MEMORY = 256 * 1024 * 1024;

/** Why a guest of `memoryBytes` cannot boot through U-Boot, or undefined when it can. */
export function ubootMemoryProblem(memoryBytes: number): string | undefined {
  if (memoryBytes >= UBOOT_MIN_MEMORY) return undefined;
  return (
    `booting through U-Boot needs at least ${UBOOT_MIN_MEMORY >> 20}M of memory (it loads ` +
    `extlinux.conf and the initramfs 193 MiB into RAM, and faults and resets over and over ` +
    `with less); this guest has ${Math.floor(memoryBytes / (1 << 20))}M`
  );
}

export interface UBootAsset {
  path: string;
  version: string;
  package: PackageRef;
  suite: string;
  mirror: string;
}

interface UBootRecord {
  format: 1;
  suite: string;
  mirror: string;
  fetched: string;
  package: PackageRef;
  bin: string;
  version: string;
}

/** Makes sure U-Boot is in the cache and returns its path. See the top of this file. */
export async function ensureUBoot(opts: AssetOptions = {}): Promise<UBootAsset> {
  const suite = opts.suite ?? process.env.BERTH_SUITE ?? DEFAULT_SUITE;
  const cache = new AssetCache(opts.cacheDir);
  const log = opts.log ?? ((line: string) => process.stderr.write(`berth: ${line}\n`));
  const key = `uboot-${suite}-${DEFAULT_ARCH}`;
  const old = await cache.readRecord<UBootRecord>(key);
  const usable = old?.format === 1 && (await cache.get(old.bin)) !== undefined;
  if (usable && !opts.refresh) return asset(cache, old);

  const { archive, index, mirror } = await openSuiteArchive({
    ...opts,
    suite,
    cache,
    log,
    what: 'U-Boot',
  });
  const pkg = index.resolve(UBOOT_PACKAGE);
  let record: UBootRecord;
  if (usable && old.package.sha256 === pkg.sha256) {
    record = old;
  } else {
    const { data, version } = await extractUBoot(await readFile(await archive.download(pkg)), pkg);
    record = {
      format: 1,
      suite,
      mirror,
      fetched: new Date().toISOString(),
      package: packageRef(pkg),
      bin: (await cache.put(data)).sha256,
      version,
    };
    await cache.writeRecord(key, record);
  }
  return asset(cache, record);
}

function asset(cache: AssetCache, r: UBootRecord): UBootAsset {
  return {
    path: cache.blobPath(r.bin),
    version: r.version,
    package: r.package,
    suite: r.suite,
    mirror: r.mirror,
  };
}

/** Takes UBOOT_PATH out of the package and reads its version from the banner inside it. */
export async function extractUBoot(
  deb: Buffer,
  pkg: Pick<PackageInfo, 'package' | 'version'>,
): Promise<{ data: Buffer; version: string }> {
  const entries = await extractDeb(deb, { include: (p, t) => t === 'file' && p === UBOOT_PATH });
  const data = entries[0]?.data;
  if (!data) {
    throw new ImageError(
      'NOT_FOUND',
      `${pkg.package} ${pkg.version} has no ${UBOOT_PATH}; this U-Boot package is not what Berth expects — try another suite (--suite)`,
    );
  }
  const version = ubootVersion(data);
  if (version === undefined) {
    throw new ImageError(
      'FORMAT',
      `${UBOOT_PATH} in ${pkg.package} ${pkg.version} has no "U-Boot <version>" banner: it is not a U-Boot binary`,
    );
  }
  return { data, version };
}

/** The version in a U-Boot binary's banner string ("U-Boot 2025.01-3+deb13u1 (date)"). */
export function ubootVersion(bin: Uint8Array): string | undefined {
  const text = Buffer.from(bin.buffer, bin.byteOffset, bin.byteLength).toString('latin1');
  return /U-Boot (\d{4}\.\d{2}[^\s\0()]*) \(/.exec(text)?.[1];
}
