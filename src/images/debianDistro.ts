// `berth image build --distro debian`: a full Debian system (trixie riscv64) as real machines run
// it: systemd as init, apt, OpenSSH, DHCP on every wired interface (systemd-networkd), a login
// on the serial console, cloud-init (NoCloud) for first-boot configuration, and Debian's own
// kernel and initramfs in the disk's /boot, booted by U-Boot through extlinux.conf, which
// u-boot-menu rewrites whenever a kernel is installed, so an upgrade takes effect at the next
// boot.
//
// The root file system is made by Debian's own tool, mmdebstrap, from the archive in this host's
// apt configuration (or --mirror), verified against the archive keyring by apt. The maintainer
// scripts run under qemu-user in a namespace of their own (riscvNamespace.ts). That takes minutes,
// so the result is cached as a tarball by a hash of its recipe (suite, mirror, package list and
// the configuration below): later builds only unpack it, add the cloud-init seed and make the disk.
//
// API
//   const r = await buildDebianImage({ outDir, sizeBytes?, sshPublicKey?, userData?, hostname?, ... })

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { findDebianMirror } from './aptSources.js';
import { DEFAULT_ARCH, DEFAULT_SUITE, type VerifyMode } from './archive.js';
import { ensureGuestParts } from './assets.js';
import { PARTITION_OFFSET, writeMbr } from './bootDisk.js';
import { AssetCache, sha256File, sha256Hex } from './cache.js';
import { parseStanzas } from './control.js';
import { ImageError } from './errors.js';
import type { ImageBuildResult, ImageManifest } from './imageBuild.js';
import { runInRiscvNamespace, riscvNamespaceProblem } from './riscvNamespace.js';
import { e2fsTool, makeExt4 } from './rootfs.js';
import { ensureUBoot } from './uboot.js';

/** What the image holds beyond Debian's required packages (mmdebstrap's minbase variant). */
export const DEBIAN_PACKAGES = [
  'systemd-sysv',
  'udev',
  'dbus',
  'libpam-systemd',
  'systemd-resolved',
  'apt',
  'openssh-server',
  'cloud-init',
  'linux-image-riscv64',
  'initramfs-tools',
  'u-boot-menu',
  'iproute2',
  'iputils-ping',
  'netbase',
  'sudo',
  'ca-certificates',
  // fsck.ext4 at boot, and cloud-init's resizefs and growpart on a disk made larger.
  'e2fsprogs',
  'cloud-guest-utils',
];

/** The root file system's label: the kernel command line and /etc/fstab name it. */
export const DEBIAN_ROOT_LABEL = 'berth-root';

/** Kernel arguments after root=, as u-boot-menu writes them into extlinux.conf. */
export const DEBIAN_KERNEL_ARGS = 'ro console=ttyS0';

/** The memory `berth run --image` gives it unless told otherwise: systemd, cloud-init and apt. */
export const DEBIAN_MEMORY = '1G';

/** The default size of the disk (sparse: a fresh image uses about 600 MiB on the host). */
export const DEFAULT_DEBIAN_SIZE = 4 * 1024 * 1024 * 1024;

/** The least disk that holds the system with room to install packages. */
const MIN_DEBIAN_SIZE = 2 * 1024 * 1024 * 1024;

/**
 * The configuration mmdebstrap's customize hook writes into the new system ($1 is its root):
 * u-boot-menu's settings (then u-boot-update rewrites extlinux.conf with them), the root file
 * system by label, DHCP on wired interfaces, cloud-init's NoCloud source only (it would otherwise
 * wait for cloud metadata services that are not there), and a default host name.
 */
export const CUSTOMIZE_HOOK = `set -e
root="$1"
cat > "$root/etc/default/u-boot" <<'EOF'
# Read by u-boot-update, which writes /boot/extlinux/extlinux.conf for U-Boot whenever a kernel
# is installed or removed.
U_BOOT_ROOT="root=LABEL=${DEBIAN_ROOT_LABEL}"
U_BOOT_PARAMETERS="${DEBIAN_KERNEL_ARGS}"
U_BOOT_PROMPT="0"
U_BOOT_TIMEOUT="1"
EOF
chroot "$root" u-boot-update
printf 'LABEL=${DEBIAN_ROOT_LABEL} / ext4 errors=remount-ro 0 1\\n' > "$root/etc/fstab"
mkdir -p "$root/etc/systemd/network"
printf '[Match]\\nName=en* eth*\\n\\n[Network]\\nDHCP=yes\\n' > "$root/etc/systemd/network/90-berth-dhcp.network"
chroot "$root" systemctl enable systemd-networkd.service
printf 'datasource_list: [ NoCloud, None ]\\n' > "$root/etc/cloud/cloud.cfg.d/90_berth.cfg"
echo debian > "$root/etc/hostname"
`;

/** The seed cloud-init's NoCloud source reads at first boot, inside the image. */
const SEED_DIR = 'var/lib/cloud/seed/nocloud';

export interface DebianImageOptions {
  outDir: string;
  sizeBytes?: number;
  /** A public key line for the default user (debian), through cloud-init. */
  sshPublicKey?: string;
  /** cloud-init user data (e.g. a #cloud-config document), given to the guest as it is. */
  userData?: string;
  /** The guest's host name (cloud-init's local-hostname; default "debian"). */
  hostname?: string;
  mirror?: string;
  suite?: string;
  cacheDir?: string;
  keyring?: string;
  aptDir?: string;
  verify?: VerifyMode;
  progress?: boolean;
  log?: (line: string) => void;
}

interface RootfsRecord {
  format: 1;
  sha256: string;
  size: number;
  created: string;
  suite: string;
  mirror: string;
}

/** Why `berth image build --distro debian` cannot run on this host, or undefined. */
export function debianBuildProblem(): string | undefined {
  const ns = riscvNamespaceProblem();
  if (ns) return ns;
  const r = spawnSync('mmdebstrap', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return "mmdebstrap is missing: install it with 'sudo apt-get install mmdebstrap'";
  }
  return undefined;
}

/** A host name as cloud-init and the kernel take it. */
export function checkHostname(name: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(name)) {
    throw new ImageError(
      'UNSUPPORTED',
      `--hostname: "${name}" is not a host name (letters, digits and inner hyphens, at most 63)`,
    );
  }
  return name;
}

/** meta-data of the NoCloud seed: a new instance ID for every build. */
export function seedMetaData(opts: { hostname: string; sshPublicKey?: string }): string {
  const lines = [
    `instance-id: berth-${randomBytes(8).toString('hex')}`,
    `local-hostname: ${opts.hostname}`,
  ];
  if (opts.sshPublicKey !== undefined) {
    lines.push('public-keys:', `  - ${JSON.stringify(opts.sshPublicKey)}`);
  }
  return lines.join('\n') + '\n';
}

export async function buildDebianImage(opts: DebianImageOptions): Promise<ImageBuildResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`berth: ${line}\n`));
  const sizeBytes = opts.sizeBytes ?? DEFAULT_DEBIAN_SIZE;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < MIN_DEBIAN_SIZE) {
    throw new ImageError(
      'UNSUPPORTED',
      `the disk of a full Debian image must be at least ${MIN_DEBIAN_SIZE >> 30}G (got ${sizeBytes} bytes)`,
    );
  }
  const problem = debianBuildProblem();
  if (problem) throw new ImageError('UNSUPPORTED', `berth image build --distro debian: ${problem}`);
  e2fsTool('mke2fs');
  const hostname = checkHostname(opts.hostname ?? 'debian');
  const suite = opts.suite ?? process.env.BERTH_SUITE ?? DEFAULT_SUITE;
  const mirror = findDebianMirror({ mirror: opts.mirror, aptDir: opts.aptDir }).uri;
  const cache = new AssetCache(opts.cacheDir);

  log('step 1/4: OpenSBI and U-Boot');
  const assetOpts = { ...opts, suite, mirror, log };
  const parts = await ensureGuestParts(assetOpts);
  const uboot = await ensureUBoot(assetOpts);

  log(`step 2/4: the Debian ${suite} root file system`);
  const tarball = await ensureRootfsTarball({ cache, suite, mirror, keyring: opts.keyring, log });

  await mkdir(opts.outDir, { recursive: true });
  const rootfsPath = join(opts.outDir, 'rootfs.img');
  const manifestPath = join(opts.outDir, 'image.json');
  await removeStale(cache.dir);
  const staging = await mkdtemp(join(cache.dir, `${STAGING_PREFIX}${process.pid}-`));
  const tmpImg = `${rootfsPath}.tmp`;
  let kernelVersion: string;
  let packages: { name: string; version: string }[];
  try {
    log('step 3/4: unpacking it with the cloud-init seed');
    const root = join(staging, 'root');
    await mkdir(root);
    const tar = spawnSync(
      'tar',
      ['-x', '-p', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-f', tarball, '-C', root],
      { encoding: 'utf8' },
    );
    if (tar.error || tar.status !== 0) {
      throw new ImageError(
        'FORMAT',
        `tar could not unpack ${tarball}: ${tar.error?.message ?? tar.stderr.trim()}`,
      );
    }
    kernelVersion = await newestKernel(root);
    packages = installedPackages(await readFile(join(root, 'var/lib/dpkg/status'), 'utf8'));
    const seed = join(root, SEED_DIR);
    await mkdir(seed, { recursive: true });
    await writeFile(
      join(seed, 'meta-data'),
      seedMetaData({ hostname, sshPublicKey: opts.sshPublicKey }),
    );
    await writeFile(join(seed, 'user-data'), opts.userData ?? '#cloud-config\n{}\n', {
      mode: 0o600,
    });
    await chmod(join(seed, 'user-data'), 0o600);

    log('step 4/4: the disk (partition 1, ext4)');
    await rm(tmpImg, { force: true });
    makeExt4(root, tmpImg, {
      sizeBytes: sizeBytes - PARTITION_OFFSET,
      offsetBytes: PARTITION_OFFSET,
      label: DEBIAN_ROOT_LABEL,
    });
    writeMbr(tmpImg, sizeBytes);
    await rename(tmpImg, rootfsPath);
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(tmpImg, { force: true }); // gone already when the disk was made
  }

  const manifest: ImageManifest = {
    format: 1,
    created: new Date().toISOString(),
    boot: 'uboot',
    rootfs: 'rootfs.img',
    kernelPath: uboot.path,
    kernelVersion,
    firmwarePath: parts.firmwarePath,
    cmdline: `root=LABEL=${DEBIAN_ROOT_LABEL} ${DEBIAN_KERNEL_ARGS}`,
    sizeBytes,
    suite,
    packages: [...packages, { name: uboot.package.name, version: uboot.package.version }],
    modules: [],
    memory: DEBIAN_MEMORY,
  };
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  const used = (await stat(rootfsPath)).blocks * 512;
  log(
    `wrote ${rootfsPath} (${(sizeBytes / 2 ** 30).toFixed(1)} GiB partitioned disk, ${(used / 2 ** 20).toFixed(0)} MiB used on the host), ${manifestPath}`,
  );
  return { manifest, rootfsPath, manifestPath };
}

/** The cached root file system for this recipe, made by mmdebstrap when it is not there yet. */
async function ensureRootfsTarball(o: {
  cache: AssetCache;
  suite: string;
  mirror: string;
  keyring?: string;
  log: (line: string) => void;
}): Promise<string> {
  const recipe = JSON.stringify({
    format: 1,
    suite: o.suite,
    mirror: o.mirror,
    arch: DEFAULT_ARCH,
    variant: 'minbase',
    packages: DEBIAN_PACKAGES,
    hook: CUSTOMIZE_HOOK,
  });
  const key = `debian-rootfs-${sha256Hex(recipe).slice(0, 16)}`;
  const known = await o.cache.readRecord<RootfsRecord>(key);
  if (known?.format === 1) {
    const path = await o.cache.get(known.sha256, known.size);
    if (path) {
      o.log(`cached (${known.created}, recipe ${key})`);
      return path;
    }
  }
  o.log(
    `mmdebstrap installs ${DEBIAN_PACKAGES.length} packages and their dependencies from ${o.mirror} under qemu-user: several minutes, once (cached as ${key})`,
  );
  await mkdir(o.cache.dir, { recursive: true });
  await removeStale(o.cache.dir);
  const tmp = join(o.cache.dir, `${TARBALL_PREFIX}${process.pid}-${key}.tar`);
  // mmdebstrap's own temporary folders (the tree it builds, its GnuPG home) go in the cache
  // folder too, under this process's ID, not in /tmp: a killed build leaves them behind (mmdebstrap
  // gets 10 s to clean up, riscvNamespace.ts, and keeps its GnuPG home even then), and the next
  // build removes them with the rest.
  const scratch = join(o.cache.dir, `${SCRATCH_PREFIX}${process.pid}-${key}`);
  await mkdir(scratch, { recursive: true });
  const args = [
    'mmdebstrap',
    '--mode=root',
    `--arch=${DEFAULT_ARCH}`,
    '--variant=minbase',
    `--include=${DEBIAN_PACKAGES.join(',')}`,
    `--customize-hook=${CUSTOMIZE_HOOK}`,
    ...(o.keyring ? [`--keyring=${o.keyring}`] : []),
    o.suite,
    tmp,
    o.mirror,
  ];
  const started = Date.now();
  const beat = setInterval(() => {
    o.log(`mmdebstrap: ${Math.round((Date.now() - started) / 60_000)} min so far`);
  }, 60_000);
  try {
    const code = await runInRiscvNamespace(args, {
      env: { ...process.env, TMPDIR: scratch },
      onLine: (line) => {
        if (/^(I|W|E): /.test(line) && !line.includes('/sys: permission denied')) o.log(line);
      },
    });
    if (code !== 0) {
      throw new ImageError(
        'FORMAT',
        `mmdebstrap failed (exit status ${code}); its messages are above`,
      );
    }
    const sha256 = await sha256File(tmp);
    const size = (await stat(tmp)).size;
    const path = o.cache.blobPath(sha256);
    await mkdir(join(path, '..'), { recursive: true });
    await rename(tmp, path);
    const record: RootfsRecord = {
      format: 1,
      sha256,
      size,
      created: new Date().toISOString(),
      suite: o.suite,
      mirror: o.mirror,
    };
    await o.cache.writeRecord(key, record);
    return path;
  } finally {
    clearInterval(beat);
    await rm(tmp, { force: true });
    await rm(scratch, { recursive: true, force: true });
  }
}

const STAGING_PREFIX = 'debian-staging-';
const TARBALL_PREFIX = 'debian-tarball-';
const SCRATCH_PREFIX = 'debian-tmp-';

/**
 * Removes what a build killed before it could clean up left in the cache folder: unpacked trees,
 * unfinished tarballs (about a GiB each) and mmdebstrap's temporary folders, whose builder
 * process is gone.
 */
async function removeStale(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^(?:${STAGING_PREFIX}|${TARBALL_PREFIX}|${SCRATCH_PREFIX})(\\d+)-`).exec(
      name,
    );
    if (!m || processAlive(Number(m[1]))) continue;
    await rm(join(dir, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The newest kernel in the unpacked /boot (Debian names them vmlinux-VERSION on riscv64). */
async function newestKernel(root: string): Promise<string> {
  const versions = (await readdir(join(root, 'boot')))
    .filter((f) => f.startsWith('vmlinux-'))
    .map((f) => f.slice('vmlinux-'.length))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const v = versions.at(-1);
  if (v === undefined)
    throw new ImageError('FORMAT', 'the Debian root file system has no kernel in /boot');
  return v;
}

/** Name and version of every installed package in a dpkg status file. */
export function installedPackages(status: string): { name: string; version: string }[] {
  return parseStanzas(status)
    .filter((p) => / installed$/.test(p.Status ?? ''))
    .map((p) => ({ name: p.Package, version: p.Version }));
}
