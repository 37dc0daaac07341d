// `berth image build`: a bootable guest made of Debian riscv64 packages: DIR/rootfs.img (raw,
// sparse ext4 root disk), DIR/initrd.gz (busybox initramfs with the virtio and ext4 modules whose
// /init mounts root=/dev/vda and switch_roots into it) and DIR/image.json (the kernel, firmware
// and kernel command line that go with them).
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

/**
 * Modules in the disk initramfs: virtio transport, disk, network, entropy, the virtio input
 * driver with the evdev interface (DEFAULT_MODULES; the root file system's acpid sees the power
 * key, Berth's graceful shutdown, and the restore keys through it), and ext4 (+ crc32c).
 */
export const DISK_MODULES = [...DEFAULT_MODULES, 'crc32c_generic', 'ext4'];

/** Kernel command line for the built image (the initramfs reads root= itself). */
export const IMAGE_CMDLINE = 'console=ttyS0 root=/dev/vda rw';

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
}

export interface ImageManifest {
  format: 1;
  created: string;
  rootfs: string;
  initrd: string;
  kernelPath: string;
  kernelVersion: string;
  firmwarePath: string;
  cmdline: string;
  sizeBytes: number;
  suite: string;
  packages: { name: string; version: string }[];
  modules: string[];
}

export interface ImageBuildResult {
  manifest: ImageManifest;
  rootfsPath: string;
  initrdPath: string;
  manifestPath: string;
}

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
  const parts = await ensureGuestParts({
    mirror: opts.mirror,
    suite,
    cacheDir: opts.cacheDir,
    verify: opts.verify,
    keyring: opts.keyring,
    aptDir: opts.aptDir,
    progress: opts.progress,
    log,
    modules: DISK_MODULES,
  });
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

  await mkdir(opts.outDir, { recursive: true });
  const staging = await mkdtemp(join(tmpdir(), 'berth-rootfs-'));
  const rootfsPath = join(opts.outDir, 'rootfs.img');
  const initrdPath = join(opts.outDir, 'initrd.gz');
  const manifestPath = join(opts.outDir, 'image.json');
  try {
    log('step 3/4: root file system');
    await stageRootfs(join(staging, 'root'), {
      busybox: parts.busybox,
      packages: unpacked,
      sshPublicKey: opts.sshPublicKey,
      hostname: opts.hostname,
    });
    const tmpImg = `${rootfsPath}.tmp`;
    await rm(tmpImg, { force: true });
    makeExt4(join(staging, 'root'), tmpImg, { sizeBytes });
    if (!asRoot) chownImageToRoot(tmpImg, await listTree(join(staging, 'root')));
    await rename(tmpImg, rootfsPath);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }

  log('step 4/4: initramfs');
  const entries = initramfsEntries({
    busybox: parts.busybox,
    modules: parts.modules,
    kernelVersion: parts.kernelVersion,
    loadModules: DISK_MODULES,
    hostname: opts.hostname,
  });
  entries.push({ path: 'init', type: 'file', mode: 0o755, data: Buffer.from(rootInitScript()) });
  entries.push({ path: 'newroot', type: 'directory', mode: 0o755 });
  await writeFile(initrdPath, gzipInitramfs(writeCpio(entries)));

  const manifest: ImageManifest = {
    format: 1,
    created: new Date().toISOString(),
    rootfs: 'rootfs.img',
    initrd: 'initrd.gz',
    kernelPath: parts.kernelPath,
    kernelVersion: parts.kernelVersion,
    firmwarePath: parts.firmwarePath,
    cmdline: IMAGE_CMDLINE,
    sizeBytes,
    suite: parts.suite,
    packages: [
      { name: parts.packages.busybox.name, version: parts.packages.busybox.version },
      ...pkgs.map((p) => ({ name: p.package, version: p.version })),
    ],
    modules: parts.modules.map((m) => m.name),
  };
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  const used = (await stat(rootfsPath)).blocks * 512;
  log(
    `wrote ${rootfsPath} (${mib(sizeBytes)} ext4, ${mib(used)} used on the host), ${initrdPath} (${mib((await stat(initrdPath)).size)}), ${manifestPath}`,
  );
  return { manifest, rootfsPath, initrdPath, manifestPath };
}

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}
