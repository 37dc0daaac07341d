// `berth image build`: a bootable guest made of Debian riscv64 packages: DIR/rootfs.img (raw,
// sparse ext4 root disk), DIR/initrd.gz (busybox initramfs with the virtio and ext4 modules whose
// /init mounts root=/dev/vda and switch_roots into it) and DIR/image.json (the kernel, firmware
// and kernel command line that go with them).
// With boot: 'uboot' the disk boots itself, as a real machine's does: rootfs.img is partitioned
// (bootDisk.ts: one ext4 partition, root=/dev/vda1) and its /boot holds the kernel, the
// initramfs and extlinux/extlinux.conf; image.json names OpenSBI and U-Boot (uboot.ts), which
// reads /boot at every boot, and no initrd.gz is written.
//
// API
//   const r = await buildImage({ outDir, sizeBytes?, sshPublicKey?, mirror?, suite?, ... });
//   r.manifest is what DIR/image.json holds. Boot it with
//   berth run --kernel <kernelPath> --firmware <firmwarePath> --initrd DIR/initrd.gz \
//     --append "<cmdline>" --disk DIR/rootfs.img
// Needs e2fsprogs' mke2fs (and debugfs when not run as root) on the host.

import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findDebianMirror } from './aptSources.js';
import { DEFAULT_ARCH, DEFAULT_SUITE, DebianArchive, type VerifyMode } from './archive.js';
import { DEFAULT_MODULES, ensureGuestParts } from './assets.js';
import { BOOT_DISK_ROOT, PARTITION_OFFSET, stageBoot, writeMbr } from './bootDisk.js';
import { AssetCache } from './cache.js';
import { extractDeb } from './deb.js';
import { ImageError } from './errors.js';
import { writeCpio } from './cpio.js';
import { gzipInitramfs, initramfsEntries } from './initramfs.js';
import {
  ROOTFS_PACKAGES,
  chownImageToRoot,
  dependencyClosure,
  e2fsTool,
  listTree,
  makeExt4,
  rootInitScript,
  stageRootfs,
} from './rootfs.js';
import { ensureUBoot } from './uboot.js';

/**
 * Modules in the disk initramfs: virtio transport, disk, network, entropy, the virtio input
 * driver with the evdev interface (DEFAULT_MODULES; the root file system's acpid sees the power
 * key, Berth's graceful shutdown, and the restore keys through it), and ext4 (+ crc32c).
 */
export const DISK_MODULES = [...DEFAULT_MODULES, 'crc32c_generic', 'ext4'];

/** Kernel command line for the built image (the initramfs reads root= itself). */
export const IMAGE_CMDLINE = 'console=ttyS0 root=/dev/vda rw';

/** How a built image boots: its kernel handed to the board, or its own /boot through U-Boot. */
export type ImageBoot = 'direct' | 'uboot';

export const DEFAULT_IMAGE_SIZE = 512 * 1024 * 1024;

export interface ImageBuildOptions {
  outDir: string;
  /** Disk size in bytes (default 512 MiB). */
  sizeBytes?: number;
  /** Public key line for root's authorized_keys. */
  sshPublicKey?: string;
  mirror?: string;
  suite?: string;
  cacheDir?: string;
  verify?: VerifyMode;
  keyring?: string;
  aptDir?: string;
  /** Download progress bars (default true). */
  progress?: boolean;
  /** Where progress lines go (default stderr with "berth: "). */
  log?: (line: string) => void;
  hostname?: string;
  /** 'uboot': a partitioned disk with /boot, booted by U-Boot (default 'direct'). */
  boot?: ImageBoot;
  /** More kernel arguments after IMAGE_CMDLINE's (e.g. PLAIN_CONSOLE_ARG for a piped console). */
  extraArgs?: string;
}

export interface ImageManifest {
  format: 1;
  created: string;
  /** Absent in images made before U-Boot: 'direct'. */
  boot: ImageBoot;
  rootfs: string;
  /** Absent when boot is 'uboot' (the initramfs is in the disk's /boot). */
  initrd?: string;
  kernelPath: string;
  kernelVersion: string;
  firmwarePath: string;
  cmdline: string;
  sizeBytes: number;
  suite: string;
  packages: { name: string; version: string }[];
  modules: string[];
  /** The memory `berth run --image` gives the guest by default (absent: Berth's default). */
  memory?: string;
}

export interface ImageBuildResult {
  manifest: ImageManifest;
  rootfsPath: string;
  /** Absent when boot is 'uboot'. */
  initrdPath?: string;
  manifestPath: string;
}

/** A build that boots directly has its initramfs beside the disk. */
export type DirectImageBuildResult = ImageBuildResult & { initrdPath: string };

export async function buildImage(
  opts: ImageBuildOptions & { boot?: 'direct' },
): Promise<DirectImageBuildResult>;
export async function buildImage(opts: ImageBuildOptions): Promise<ImageBuildResult>;
export async function buildImage(opts: ImageBuildOptions): Promise<ImageBuildResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`berth: ${line}\n`));
  const sizeBytes = opts.sizeBytes ?? DEFAULT_IMAGE_SIZE;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 32 * 1024 * 1024) {
    throw new ImageError('UNSUPPORTED', `the disk size must be at least 32M (got ${sizeBytes})`);
  }
  e2fsTool('mke2fs'); // fail before any download when it is missing
  const asRoot = process.getuid?.() === 0;
  if (!asRoot) e2fsTool('debugfs');
  const suite = opts.suite ?? process.env.BERTH_SUITE ?? DEFAULT_SUITE;

  log('step 1/4: kernel, firmware, busybox and modules');
  const assetOpts = {
    mirror: opts.mirror,
    suite,
    cacheDir: opts.cacheDir,
    verify: opts.verify,
    keyring: opts.keyring,
    aptDir: opts.aptDir,
    progress: opts.progress,
    log,
  };
  const parts = await ensureGuestParts({ ...assetOpts, modules: DISK_MODULES });
  const missing = ['virtio_mmio', 'virtio_blk', 'ext4'].filter(
    (m) => !parts.modules.some((k) => k.name === m),
  );
  if (missing.length > 0) {
    log(`note: the kernel has no module ${missing.join(', ')} (built in, or missing)`);
  }

  log(`step 2/4: packages ${ROOTFS_PACKAGES.join(', ')} and their dependencies`);
  const mirror = findDebianMirror({ mirror: opts.mirror, aptDir: opts.aptDir });
  const archive = new DebianArchive({
    mirror: mirror.uri,
    suite,
    arch: DEFAULT_ARCH,
    cache: new AssetCache(opts.cacheDir),
    keyring: opts.keyring,
    verify: opts.verify,
    progress: opts.progress,
    log,
  });
  const release = await archive.release();
  if (!release.signature.verified) {
    log(`${suite} Release signature NOT verified (${release.signature.reason})`);
  }
  const index = await archive.packages();
  const pkgs = dependencyClosure(index, ROOTFS_PACKAGES);
  log(`installing ${pkgs.map((p) => `${p.package} ${p.version}`).join(', ')}`);
  const unpacked: { name: string; entries: Awaited<ReturnType<typeof extractDeb>> }[] = [];
  for (const p of pkgs) {
    const deb = await readFile(await archive.download(p));
    unpacked.push({ name: p.package, entries: await extractDeb(deb) });
  }

  // The initramfs first: a disk that boots itself carries it in its /boot.
  const boot = opts.boot ?? 'direct';
  const base = boot === 'uboot' ? IMAGE_CMDLINE.replace('/dev/vda', BOOT_DISK_ROOT) : IMAGE_CMDLINE;
  const cmdline = opts.extraArgs ? `${base} ${opts.extraArgs}` : base;
  const entries = initramfsEntries({
    busybox: parts.busybox,
    modules: parts.modules,
    kernelVersion: parts.kernelVersion,
    loadModules: DISK_MODULES,
    hostname: opts.hostname,
  });
  entries.push({ path: 'init', type: 'file', mode: 0o755, data: Buffer.from(rootInitScript()) });
  entries.push({ path: 'newroot', type: 'directory', mode: 0o755 });
  const initrd = gzipInitramfs(writeCpio(entries));

  await mkdir(opts.outDir, { recursive: true });
  const staging = await mkdtemp(join(tmpdir(), 'berth-rootfs-'));
  const rootfsPath = join(opts.outDir, 'rootfs.img');
  const initrdPath = boot === 'direct' ? join(opts.outDir, 'initrd.gz') : undefined;
  const manifestPath = join(opts.outDir, 'image.json');
  try {
    log(`step 3/4: root file system${boot === 'uboot' ? ' with /boot, on partition 1' : ''}`);
    const root = join(staging, 'root');
    await stageRootfs(root, {
      busybox: parts.busybox,
      packages: unpacked,
      sshPublicKey: opts.sshPublicKey,
      hostname: opts.hostname,
    });
    if (boot === 'uboot') {
      const kernelVersion = parts.kernelVersion;
      await stageBoot(root, { kernel: parts.kernelPath, kernelVersion, initrd, append: cmdline });
    }
    const tmpImg = `${rootfsPath}.tmp`;
    await rm(tmpImg, { force: true });
    const offsetBytes = boot === 'uboot' ? PARTITION_OFFSET : 0;
    makeExt4(root, tmpImg, { sizeBytes: sizeBytes - offsetBytes, offsetBytes });
    if (!asRoot) chownImageToRoot(tmpImg, await listTree(root), offsetBytes);
    if (boot === 'uboot') writeMbr(tmpImg, sizeBytes);
    await rename(tmpImg, rootfsPath);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }

  log(boot === 'uboot' ? 'step 4/4: U-Boot' : 'step 4/4: initramfs');
  if (initrdPath !== undefined) await writeFile(initrdPath, initrd);
  const uboot = boot === 'uboot' ? await ensureUBoot(assetOpts) : undefined;

  const manifest: ImageManifest = {
    format: 1,
    created: new Date().toISOString(),
    boot,
    rootfs: 'rootfs.img',
    initrd: initrdPath === undefined ? undefined : 'initrd.gz',
    kernelPath: uboot?.path ?? parts.kernelPath,
    kernelVersion: parts.kernelVersion,
    firmwarePath: parts.firmwarePath,
    cmdline,
    sizeBytes,
    suite: parts.suite,
    packages: [
      { name: parts.packages.busybox.name, version: parts.packages.busybox.version },
      ...pkgs.map((p) => ({ name: p.package, version: p.version })),
      ...(uboot ? [{ name: uboot.package.name, version: uboot.package.version }] : []),
    ],
    modules: parts.modules.map((m) => m.name),
  };
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  const used = (await stat(rootfsPath)).blocks * 512;
  const wrote = initrdPath === undefined ? '' : `, ${initrdPath} (${mib(initrd.length)})`;
  log(
    `wrote ${rootfsPath} (${mib(sizeBytes)} ${boot === 'uboot' ? 'partitioned disk' : 'ext4'}, ${mib(used)} used on the host)${wrote}, ${manifestPath}`,
  );
  return { manifest, rootfsPath, initrdPath, manifestPath };
}

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}
