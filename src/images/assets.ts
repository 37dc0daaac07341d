// The default guest of `berth run`: Debian's stock riscv64 kernel, OpenSBI and a busybox
// initramfs, fetched from the Debian archive once and then served from the cache.
//
// API
//   const a = await ensureDefaultAssets({ mirror?, suite?, refresh?, ... });
//   a.kernelPath    flat RISC-V Linux "Image" (Debian ships it as /boot/vmlinux-<ver>: a PE/EFI-stub
//                   Image, not an ELF; header magic "RSC\x05" at 0x38, text_offset 2 MiB);
//                   load it at RAM base + 2 MiB and jump to its first byte
//   a.firmwarePath  OpenSBI fw_dynamic.bin (raw, load at RAM base); a.firmwareElfPath is the ELF
//   a.initrdPath    gzip-compressed newc cpio: busybox, virtio modules, /init printing READY_BANNER
//   a.kernelVersion e.g. "6.12.117+deb13-riscv64";  a.cmdline: suggested kernel command line
// The initramfs prints READY_BANNER, then runs busybox sh on the console with the prompt "/ # ".
// Its line editor asks a terminal for the cursor position (ESC [ 6 n) after a prompt; when the
// host side is a pipe, append PLAIN_CONSOLE_ARG to the command line: the shell then echoes
// whole lines itself and sends no terminal queries.
// The first call downloads the package index (13 MB) and three packages (114 MB, nearly all
// of it the kernel package with its modules) with progress on stderr, and unpacks them (about
// 10 s on a fast link); later calls need no network and take about 0.2 s. `refresh: true` checks
// the archive for newer packages. Errors are ImageError with a message saying what to do.
//
// Options come from the caller (e.g. `berth run --mirror URL --suite NAME`), else from the
// environment (BERTH_MIRROR, BERTH_SUITE, BERTH_CACHE_DIR, BERTH_KEYRING, BERTH_VERIFY), else
// the host's apt configuration (mirror) and defaults (suite trixie).

import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { xz } from '@napi-rs/lzma';
import { DEFAULT_ARCH, DEFAULT_SUITE, type PackageInfo, type VerifyMode } from './archive.js';
import { AssetCache, sha256Hex } from './cache.js';
import { type DebEntry, extractDeb } from './deb.js';
import { ImageError } from './errors.js';
import { gzipInitramfs, initramfsCpio, type KernelModule } from './initramfs.js';
import { openSuiteArchive } from './suiteArchive.js';

export { ImageError } from './errors.js';
export { PLAIN_CONSOLE_ARG, READY_BANNER } from './initramfs.js';

/**
 * Kernel modules put in the default initramfs and loaded by /init (with their dependencies).
 * Debian builds these virtio drivers as modules (virtio-mmio too); the console (8250 UART),
 * virtio-console, PLIC, goldfish RTC and syscon power-off are built in. virtio_input and evdev
 * give /init's acpid the board's input device, whose keys tell a restored guest of its new
 * generation (guestEvents.ts). virtio_balloon reports the guest's free pages to the host
 * (virtio/balloon.ts), which takes them back. ext4 is left out by
 * default: its modules (ext4, jbd2, mbcache, crc16, crc32c_generic) add 8.4 MB to the archive
 * and about 4 s of boot even under QEMU; add them with { modules: [...DEFAULT_MODULES, 'ext4',
 * 'crc32c_generic'] } when a disk needs them.
 */
export const DEFAULT_MODULES = [
  'virtio_mmio',
  'virtio_blk',
  'virtio_net',
  'virtio_rng',
  'virtio_input',
  'evdev',
  'virtio_balloon',
];

/** The kernel command line that suits the default assets on the virt board. */
export const DEFAULT_CMDLINE = 'console=ttyS0';

/**
 * The least guest RAM Debian's riscv64 kernel boots in. Measured with kernel 6.12 and the busybox
 * initramfs, on Berth and on qemu-system-riscv64 alike (earlycon=sbi shows why): at 64 and 72 MiB
 * it panics in sparse_init ("Failed to allocate 33554432 bytes"), at 80 MiB "System is
 * deadlocked on memory"; at 88 MiB it reaches /init. Without earlycon the console shows nothing
 * after OpenSBI's banner, so a smaller guest is refused with this figure instead.
 */
export const DEBIAN_KERNEL_MIN_MEMORY = 96 * 1024 * 1024;

export const KERNEL_METAPACKAGE = 'linux-image-riscv64';

export interface AssetOptions {
  /** Debian archive root URL; default BERTH_MIRROR, else the host's apt configuration. */
  mirror?: string;
  /** Debian suite; default BERTH_SUITE, else trixie (the first with official riscv64). */
  suite?: string;
  /** Cache folder; default BERTH_CACHE_DIR, $XDG_CACHE_HOME/berth or ~/.cache/berth. */
  cacheDir?: string;
  /** Ask the archive for newer packages even when the cache has a complete set. */
  refresh?: boolean;
  /** Progress bars on stderr while downloading (default true). */
  progress?: boolean;
  /** Where notes go (default: stderr, "berth: " prefix). */
  log?: (line: string) => void;
  /** Release signature checking (default BERTH_VERIFY, else 'auto'). */
  verify?: VerifyMode;
  keyring?: string;
  /** Kernel modules for the initramfs (default DEFAULT_MODULES; [] for none). */
  modules?: string[];
  /** Commands the guest runs instead of the interactive shell (then it powers off). */
  script?: string;
  /** apt configuration folder (default /etc/apt); for tests. */
  aptDir?: string;
}

export interface PackageRef {
  name: string;
  version: string;
  filename: string;
  sha256: string;
  size: number;
}

/** What a record keeps of a package it took files from. */
export function packageRef(p: PackageInfo): PackageRef {
  return {
    name: p.package,
    version: p.version,
    filename: p.filename,
    sha256: p.sha256,
    size: p.size,
  };
}

export interface GuestAssets {
  kernelPath: string;
  /** What kernelPath holds: a flat Image (Debian's) or an ELF vmlinux. */
  kernelFormat: 'image' | 'elf';
  kernelVersion: string;
  firmwarePath: string;
  firmwareElfPath: string;
  initrdPath: string;
  cmdline: string;
  /** Modules in the initramfs, in load order. */
  modules: string[];
  suite: string;
  /** The archive the packages came from (when they were fetched). */
  mirror: string;
  packages: {
    kernel: PackageRef;
    kernelMeta: PackageRef;
    opensbi: PackageRef;
    busybox: PackageRef;
  };
}

interface StoredModule {
  name: string;
  path: string;
  sha256: string;
  depends: string[];
}

/** What the cache remembers about one suite (record "assets-<suite>-<arch>"). */
interface AssetsRecord {
  format: 1;
  suite: string;
  arch: string;
  mirror: string;
  fetched: string;
  packages: GuestAssets['packages'];
  kernel: {
    sha256: string;
    format: 'image' | 'elf';
    version: string;
    /** Modules extracted so far, by name; `absent` lists names the package lacks or builds in. */
    modules: Record<string, StoredModule>;
    absent: string[];
  };
  firmware: { bin: string; elf: string };
  busybox: string;
}

const RECORD_FORMAT = 1;

/**
 * Makes sure the default kernel, firmware and initramfs are in the cache and returns their
 * paths. See the top of this file.
 */
export async function ensureDefaultAssets(opts: AssetOptions = {}): Promise<GuestAssets> {
  const { cache, record, wanted } = await ensureRecord(opts);
  return materialize(cache, record, wanted, opts);
}

/** What a guest-image builder needs: the assets' paths, busybox and the module files. */
export interface GuestParts {
  kernelPath: string;
  kernelVersion: string;
  firmwarePath: string;
  suite: string;
  mirror: string;
  packages: GuestAssets['packages'];
  busybox: Buffer;
  /** The wanted modules with their dependencies, dependencies first. */
  modules: KernelModule[];
}

/** Like ensureDefaultAssets, but returns busybox and the modules instead of an initramfs. */
export async function ensureGuestParts(opts: AssetOptions = {}): Promise<GuestParts> {
  const { cache, record: r, wanted } = await ensureRecord(opts);
  const { busybox, mods } = await readParts(cache, r, wanted);
  return {
    kernelPath: cache.blobPath(r.kernel.sha256),
    kernelVersion: r.kernel.version,
    firmwarePath: cache.blobPath(r.firmware.bin),
    suite: r.suite,
    mirror: r.mirror,
    packages: r.packages,
    busybox,
    modules: mods,
  };
}

async function ensureRecord(
  opts: AssetOptions,
): Promise<{ cache: AssetCache; record: AssetsRecord; wanted: string[] }> {
  const suite = opts.suite ?? process.env.BERTH_SUITE ?? DEFAULT_SUITE;
  const arch = DEFAULT_ARCH;
  const cache = new AssetCache(opts.cacheDir);
  const log = opts.log ?? ((line: string) => process.stderr.write(`berth: ${line}\n`));
  const wanted = opts.modules ?? DEFAULT_MODULES;
  const key = `assets-${suite}-${arch}`;

  let record = opts.refresh ? undefined : await cache.readRecord<AssetsRecord>(key);
  if (record && record.format !== RECORD_FORMAT) record = undefined;
  if (record) {
    const done = await complete(cache, record, wanted);
    if (done) return { cache, record, wanted };
  }

  const { archive, index, mirror } = await openSuiteArchive({
    ...opts,
    suite,
    cache,
    log,
    what: 'the riscv64 guest assets',
  });
  const { meta, target: kernelPkg } = index.followMeta(KERNEL_METAPACKAGE, /^linux-image-\d/);
  const opensbiPkg = index.resolve('opensbi');
  const busyboxPkg = index.resolve('busybox-static');

  // Reuse what an earlier record derived from the same packages.
  const old = await cache.readRecord<AssetsRecord>(key);
  const same = (a: PackageRef | undefined, b: PackageInfo) => a?.sha256 === b.sha256;

  let firmware = old && same(old.packages.opensbi, opensbiPkg) ? old.firmware : undefined;
  if (!firmware || !(await cache.get(firmware.bin)) || !(await cache.get(firmware.elf))) {
    const deb = await readFile(await archive.download(opensbiPkg));
    firmware = await extractFirmware(cache, deb, opensbiPkg);
  }
  let busybox = old && same(old.packages.busybox, busyboxPkg) ? old.busybox : undefined;
  if (!busybox || !(await cache.get(busybox))) {
    const deb = await readFile(await archive.download(busyboxPkg));
    busybox = await extractBusybox(cache, deb, busyboxPkg);
  }
  let kernel = old && same(old.packages.kernel, kernelPkg) ? old.kernel : undefined;
  if (!kernel || !(await kernelComplete(cache, kernel, wanted))) {
    const deb = await readFile(await archive.download(kernelPkg));
    log(`unpacking the kernel and its modules from ${kernelPkg.package}`);
    kernel = await extractKernel(cache, deb, kernelPkg, wanted, kernel);
  }
  record = {
    format: RECORD_FORMAT,
    suite,
    arch,
    mirror,
    fetched: new Date().toISOString(),
    packages: {
      kernel: packageRef(kernelPkg),
      kernelMeta: packageRef(meta),
      opensbi: packageRef(opensbiPkg),
      busybox: packageRef(busyboxPkg),
    },
    kernel,
    firmware,
    busybox,
  };
  await cache.writeRecord(key, record);
  return { cache, record, wanted };
}

async function complete(cache: AssetCache, r: AssetsRecord, wanted: string[]): Promise<boolean> {
  for (const sha of [r.firmware.bin, r.firmware.elf, r.busybox]) {
    if (!(await cache.get(sha))) return false;
  }
  return kernelComplete(cache, r.kernel, wanted);
}

async function kernelComplete(
  cache: AssetCache,
  k: AssetsRecord['kernel'],
  wanted: string[],
): Promise<boolean> {
  if (!(await cache.get(k.sha256))) return false;
  for (const m of closure(k, wanted)) {
    if (!(await cache.get(m.sha256))) return false;
  }
  return wanted.every((w) => k.modules[w] || k.absent.includes(w));
}

/** The stored modules needed for `wanted`, dependencies first. */
function closure(k: AssetsRecord['kernel'], wanted: string[]): StoredModule[] {
  const out: StoredModule[] = [];
  const seen = new Set<string>();
  const visit = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    const m = k.modules[n];
    if (!m) return;
    m.depends.forEach(visit);
    out.push(m);
  };
  wanted.forEach(visit);
  return out;
}

async function readParts(
  cache: AssetCache,
  r: AssetsRecord,
  wanted: string[],
): Promise<{ busybox: Buffer; mods: KernelModule[] }> {
  const busybox = await cache.read(r.busybox);
  if (!busybox) throw new ImageError('CHECKSUM', 'the cached busybox vanished; run again');
  const mods: KernelModule[] = [];
  for (const m of closure(r.kernel, wanted)) {
    const data = await cache.read(m.sha256);
    if (!data) throw new ImageError('CHECKSUM', `the cached module ${m.name} vanished; run again`);
    mods.push({ name: m.name, path: m.path, data, depends: m.depends });
  }
  return { busybox, mods };
}

async function materialize(
  cache: AssetCache,
  r: AssetsRecord,
  wanted: string[],
  opts: AssetOptions,
): Promise<GuestAssets> {
  const { busybox, mods } = await readParts(cache, r, wanted);
  // The gzip step is the slow part, so the compressed archive is remembered per cpio content.
  const cpio = initramfsCpio({
    busybox,
    modules: mods,
    kernelVersion: r.kernel.version,
    script: opts.script,
  });
  const cpioSha = sha256Hex(cpio);
  const known = await cache.readRecord<{ gz: string }>(`initrd-${cpioSha}`);
  let initrdPath = known ? await cache.get(known.gz) : undefined;
  if (!initrdPath) {
    const put = await cache.put(gzipInitramfs(cpio));
    await cache.writeRecord(`initrd-${cpioSha}`, { gz: put.sha256 });
    initrdPath = put.path;
  }
  return {
    kernelPath: cache.blobPath(r.kernel.sha256),
    kernelFormat: r.kernel.format,
    kernelVersion: r.kernel.version,
    firmwarePath: cache.blobPath(r.firmware.bin),
    firmwareElfPath: cache.blobPath(r.firmware.elf),
    initrdPath,
    cmdline: DEFAULT_CMDLINE,
    modules: mods.map((m) => m.name),
    suite: r.suite,
    mirror: r.mirror,
    packages: r.packages,
  };
}

async function extractFirmware(
  cache: AssetCache,
  deb: Buffer,
  pkg: PackageInfo,
): Promise<{ bin: string; elf: string }> {
  const re = /\/riscv64-linux-gnu\/opensbi\/generic\/fw_dynamic\.(bin|elf)$/;
  const entries = await extractDeb(deb, { include: (p, t) => t === 'file' && re.test(p) });
  const bin = entries.find((e) => e.path.endsWith('.bin'));
  const elf = entries.find((e) => e.path.endsWith('.elf'));
  if (!bin?.data || !elf?.data) {
    throw new ImageError(
      'NOT_FOUND',
      `${pkg.package} ${pkg.version} has no riscv64 generic fw_dynamic.bin/.elf; this OpenSBI package is not what Berth expects — try another suite (--suite)`,
    );
  }
  return { bin: (await cache.put(bin.data)).sha256, elf: (await cache.put(elf.data)).sha256 };
}

async function extractBusybox(cache: AssetCache, deb: Buffer, pkg: PackageInfo): Promise<string> {
  const entries = await extractDeb(deb, {
    include: (p, t) => t === 'file' && /^\/(usr\/)?bin\/busybox$/.test(p),
  });
  const bb = entries[0];
  if (!bb?.data || !isElf(bb.data)) {
    throw new ImageError(
      'NOT_FOUND',
      `${pkg.package} ${pkg.version} has no /usr/bin/busybox ELF binary`,
    );
  }
  return (await cache.put(bb.data)).sha256;
}

/** Reads the kernel image and the wanted modules (with their dependencies) out of the package. */
async function extractKernel(
  cache: AssetCache,
  deb: Buffer,
  pkg: PackageInfo,
  wanted: string[],
  previous: AssetsRecord['kernel'] | undefined,
): Promise<AssetsRecord['kernel']> {
  const entries = await extractDeb(deb, {
    include: (p, t) =>
      (t === 'file' && /^\/boot\/(vmlinux|vmlinuz|Image)-/.test(p)) ||
      (t === 'file' &&
        /^\/(usr\/)?lib\/modules\/[^/]+\/(kernel\/.*\.ko(\.xz|\.gz)?|modules\.builtin)$/.test(p)),
  });
  const img = entries.find((e) => e.path.startsWith('/boot/'));
  if (!img?.data) {
    throw new ImageError(
      'NOT_FOUND',
      `${pkg.package} ${pkg.version} has no kernel image under /boot; this kernel package is not what Berth expects`,
    );
  }
  const version = img.path.replace(/^\/boot\/[^-]+-/, '');
  let kernelData: Buffer = img.data;
  if (kernelData[0] === 0x1f && kernelData[1] === 0x8b) kernelData = gunzipSync(kernelData);
  const format = isElf(kernelData) ? 'elf' : isRiscvImage(kernelData) ? 'image' : undefined;
  if (!format) {
    throw new ImageError(
      'UNSUPPORTED',
      `${img.path} in ${pkg.package} is neither a RISC-V Image nor an ELF vmlinux (starts with ${kernelData.subarray(0, 8).toString('hex')})`,
    );
  }
  const kernelSha = (await cache.put(kernelData)).sha256;

  const modules: Record<string, StoredModule> = { ...(previous?.modules ?? {}) };
  const absent = new Set<string>();
  const files = new Map<string, DebEntry>();
  let builtin = new Set<string>();
  for (const e of entries) {
    const mb = /\/modules\/[^/]+\/modules\.builtin$/.test(e.path);
    if (mb && e.data) {
      builtin = new Set(
        e.data
          .toString('utf8')
          .split('\n')
          .map((l) => moduleName(l))
          .filter((n) => n !== ''),
      );
    } else if (e.path.includes('/kernel/')) files.set(moduleName(e.path), e);
  }
  const todo = [...wanted];
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (modules[name] || absent.has(name)) continue;
    const e = files.get(name);
    if (!e?.data) {
      absent.add(name); // built in, or not in this kernel
      continue;
    }
    let data: Buffer = e.data;
    if (e.path.endsWith('.xz')) data = await xz.decompress(data);
    else if (e.path.endsWith('.gz')) data = gunzipSync(data);
    const depends = modinfo(data, 'depends')
      .split(',')
      .filter((d) => d !== '' && !builtin.has(d));
    const path = e.path.replace(/^.*\/modules\/[^/]+\//, '').replace(/\.(xz|gz)$/, '');
    modules[name] = { name, path, sha256: (await cache.put(data)).sha256, depends };
    todo.push(...depends);
  }
  return { sha256: kernelSha, format, version, modules, absent: [...absent] };
}

/** Module name from a path: basename without .ko[.xz], dashes as underscores. */
function moduleName(path: string): string {
  const base = path.trim().split('/').pop() ?? '';
  return base.replace(/\.ko(\.xz|\.gz|\.zst)?$/, '').replace(/-/g, '_');
}

/** A field of a module's .modinfo section ("depends=a,b"). */
function modinfo(ko: Buffer, field: string): string {
  const needle = Buffer.from(`\0${field}=`);
  const at = ko.indexOf(needle);
  if (at < 0) return '';
  const start = at + needle.length;
  const end = ko.indexOf(0, start);
  return ko.toString('utf8', start, end < 0 ? ko.length : end);
}

function isElf(b: Uint8Array): boolean {
  return b.length > 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** The RISC-V Linux Image header: magic2 "RSC\x05" at 0x38 (and "RISCV\0\0\0" at 0x30). */
export function isRiscvImage(b: Uint8Array): boolean {
  return (
    b.length > 0x40 &&
    Buffer.from(b.buffer, b.byteOffset + 0x38, 4).equals(Buffer.from('RSC\x05', 'latin1'))
  );
}
