// The root file system of `berth image build`: a staging folder laid out like a merged-/usr
// Debian system (busybox with applet links, Debian packages such as dropbear unpacked from their
// .debs, an init with inittab and boot scripts, accounts, an SSH key, a web page, busybox acpid
// turning the power key into a clean poweroff and the restore keys into guestEvents.ts's
// handler), turned into a raw ext4 image with Debian's
// mke2fs -d. Also the initramfs /init that mounts that disk as the root and switches to it.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, link, lstat, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PackageIndex, PackageInfo } from './archive.js';
import type { DebEntry } from './deb.js';
import { ImageError } from './errors.js';
import { PLAIN_CONSOLE_ARG } from './initramfs.js';
import {
  GENERATION_ACPI_MAP,
  GENERATION_ACPID_CONF,
  GENERATION_HANDLER_PATH,
  generationActions,
  generationHandlerScript,
  START_ACPID,
} from './guestEvents.js';

/** The line the guest prints on its console once its services are up. */
export const GUEST_READY_BANNER = 'Berth guest ready';

/** The text of /srv/www/index.html. */
export const INDEX_HTML_TEXT = 'Berth guest: busybox httpd is serving /srv/www';

/** Debian packages unpacked into the root file system (with their Depends closure). */
export const ROOTFS_PACKAGES = ['dropbear-bin'];

/** Paths of package files left out of the image (documentation, manuals, translations). */
const SKIP_PATH = /^\/usr\/share\/(doc|man|info|lintian|locale|bug)(\/|$)/;

/** Applets that also get a link in /usr/sbin (where scripts and habits look for them). */
const SBIN_APPLETS = new Set([
  'init',
  'getty',
  'halt',
  'poweroff',
  'reboot',
  'ifconfig',
  'route',
  'udhcpc',
  'httpd',
  'switch_root',
  'syslogd',
  'klogd',
  'insmod',
  'rmmod',
  'modprobe',
  'lsmod',
  'mdev',
  'swapon',
  'swapoff',
  'sysctl',
  'fsck',
  'hwclock',
  'losetup',
  'pivot_root',
  'blkid',
  'findfs',
  'acpid',
]);

/**
 * The packages to install for `roots`: each root and, recursively, the first alternative of each
 * Pre-Depends and Depends group that the index can resolve, each package once.
 */
export function dependencyClosure(index: PackageIndex, roots: string[]): PackageInfo[] {
  const chosen = new Map<string, PackageInfo>();
  const provided = new Set<string>();
  const visit = (pkg: PackageInfo) => {
    if (chosen.has(pkg.package)) return;
    chosen.set(pkg.package, pkg);
    for (const p of pkg.provides.flat()) provided.add(p.name);
    for (const group of [...pkg.preDepends, ...pkg.depends]) {
      if (group.some((r) => chosen.has(r.name) || provided.has(r.name))) continue;
      let picked: PackageInfo | undefined;
      let lastErr: unknown;
      for (const rel of group) {
        try {
          picked = index.resolve(rel);
          break;
        } catch (e) {
          lastErr = e;
        }
      }
      if (!picked) {
        throw new ImageError(
          'NOT_FOUND',
          `${pkg.package} ${pkg.version} needs ${group.map((r) => r.name).join(' | ')}, which the package index cannot provide (${lastErr instanceof Error ? lastErr.message : String(lastErr)})`,
        );
      }
      visit(picked);
    }
  };
  for (const r of roots) visit(index.resolve(r));
  return [...chosen.values()];
}

/**
 * The applet names compiled into a busybox binary: its applet-name table is a sorted run of
 * NUL-terminated names that starts with "[" and "[[".
 */
export function busyboxApplets(busybox: Uint8Array): string[] {
  const b = Buffer.from(busybox.buffer, busybox.byteOffset, busybox.byteLength);
  const start = b.indexOf(Buffer.from('[\0[[\0', 'latin1'));
  if (start < 0) {
    throw new ImageError('UNSUPPORTED', 'cannot find the applet table in the busybox binary');
  }
  const names: string[] = [];
  let at = start;
  for (;;) {
    const end = b.indexOf(0, at);
    if (end < 0) break;
    const name = b.toString('latin1', at, end);
    if (name === '' || (names.length > 0 && name <= names[names.length - 1])) break;
    if (!/^[a-z0-9_.[\]-]+$/.test(name)) break;
    names.push(name);
    at = end + 1;
  }
  return names;
}

/** Maps a package path into the merged-/usr layout (/bin, /sbin, /lib* live under /usr). */
export function usrMerged(path: string): string {
  return path.replace(/^\/(bin|sbin|lib|lib32|lib64|libx32)(\/|$)/, '/usr/$1$2');
}

export interface RootfsOptions {
  /** The static busybox binary. */
  busybox: Uint8Array;
  /** Unpacked packages (from extractDeb), installed in this order. */
  packages: { name: string; entries: DebEntry[] }[];
  /** An OpenSSH public key line for /root/.ssh/authorized_keys (none: no key). */
  sshPublicKey?: string;
  hostname?: string;
}

/** /etc/inittab for busybox init. */
export function inittab(): string {
  return `# /etc/inittab of a Berth guest (busybox init)
::sysinit:/etc/init.d/rcS
::respawn:/etc/berth/console
::ctrlaltdel:/usr/sbin/reboot
::shutdown:/etc/init.d/rcK
`;
}

/** /etc/init.d/rcS: mounts, network, services. */
export function rcS(): string {
  return `#!/bin/sh
# Boot script of a Berth guest (run once by busybox init).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mountpoint() { grep -q " $1 " /proc/mounts 2>/dev/null; }
mountpoint /proc || mount -t proc proc /proc
mountpoint /sys || mount -t sysfs sysfs /sys
mountpoint /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mountpoint /dev/pts || mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mountpoint /run || mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mountpoint /tmp || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -o remount,rw / 2>/dev/null
mkdir -p /run/dropbear /var/log
hostname -F /etc/hostname
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  udhcpc -f -S -i eth0 -s /usr/share/udhcpc/default.script >/dev/null 2>&1 &
fi
# Host keys are made on the first boot, by the guest itself.
mkdir -p /etc/dropbear
key=/etc/dropbear/dropbear_ed25519_host_key
[ -s $key ] || dropbearkey -t ed25519 -f $key >/dev/null 2>&1
dropbear -r $key -p 22
httpd -p 80 -h /srv/www
# The keys of Berth's virtio-input device, via evdev: the power key runs a clean poweroff; a
# restore key (a new VM generation: restored snapshot, clone) runs /etc/berth/generation (clock
# from the RTC, a new MAC taken up). acpid opens /dev/input/event0, event1, ... as they are now.
${START_ACPID}
`;
}

/**
 * busybox acpid's event map (/etc/acpi.map: type name, type in hex, code name, code, value,
 * description) and action table (/etc/acpid.conf: a word of the description, then the handler
 * under /etc/acpi): KEY_POWER pressed runs /etc/acpi/PWRF/00000080 (acpid's built-in default,
 * written out so that the image does not depend on it); then the restore keys.
 */
export const ACPI_MAP =
  'EV_KEY 01 KEY_POWER 116 1 button/power PWRF 00000080\n' + GENERATION_ACPI_MAP;
export const ACPID_CONF = 'PWRF PWRF/00000080\n' + GENERATION_ACPID_CONF;

/** /etc/acpi/PWRF/00000080: what the power key does. */
export function powerKeyScript(): string {
  return `#!/bin/sh
# Run by acpid when the power key is pressed: asks init for a clean poweroff (rcK, then every
# process ended, the disk read-only, power off).
echo "berth: power key pressed, powering off" > /dev/console
exec /usr/sbin/poweroff
`;
}

/**
 * /etc/init.d/rcK: run by busybox init before reboot or power-off (poweroff, reboot, the power
 * key): services stop, every other process is asked to end and then killed, and the root file
 * system is synced and made read-only, so that the disk is clean when the machine goes off.
 */
export function rcK(): string {
  return `#!/bin/sh
# Shutdown script of a Berth guest (run by busybox init before it reboots or powers off).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "berth: stopping services"
killall acpid dropbear httpd udhcpc 2>/dev/null
# Everything else (the console shell, whatever it started) ends; this shell is spared.
kill -TERM -1 2>/dev/null
sleep 1
kill -KILL -1 2>/dev/null
sync
if mount -o remount,ro / 2>/dev/null; then
  echo "berth: root file system synced and read-only"
else
  echo "berth: could not make the root file system read-only; it was synced"
fi
`;
}

/** /etc/berth/console: the console shell, respawned by init; prints the ready line first. */
export function consoleScript(): string {
  return `#!/bin/sh
# The console of a Berth guest: prints the ready line, then a root shell on the console.
# busybox init has made this a session leader already: cttyhack makes the console its tty.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=\${TERM:-vt100}
cd /root
echo
echo "${GUEST_READY_BANNER}: $(hostname) Linux $(uname -r), root on $(awk '$2 == "/" {print $1}' /proc/mounts | tail -n 1)"
if grep -q '${PLAIN_CONSOLE_ARG}' /proc/cmdline; then
  # Host side is a pipe: no line editor, the shell echoes the lines it reads.
  stty -echo 2>/dev/null
  export PS1='\\w # '
  exec cttyhack sh -v
fi
exec cttyhack sh -l
`;
}

/** The DHCP hook of busybox udhcpc: address, default route, resolv.conf. */
export function udhcpcScript(): string {
  return `#!/bin/sh
# udhcpc hook of a Berth guest: applies the lease to $interface.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" \${broadcast:+broadcast $broadcast} dev "$interface"
    if [ -n "$router" ]; then
      while ip route del default dev "$interface" 2>/dev/null; do :; done
      for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    fi
    : > /etc/resolv.conf.tmp
    [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf.tmp
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf.tmp; done
    mv /etc/resolv.conf.tmp /etc/resolv.conf
    ;;
esac
exit 0
`;
}

const PROFILE = `# /etc/profile of a Berth guest
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PS1='\\w # '
`;

/**
 * Lays out the root file system in `dir` (which must be empty or absent). Modes come from the
 * packages and this file; owners are whoever runs this (see makeExt4 for the image's owners).
 */
export async function stageRootfs(dir: string, opts: RootfsOptions): Promise<void> {
  await mkdir(dir, { recursive: true });
  const at = (p: string) => join(dir, p);
  const mkdirMode = async (p: string, mode: number) => {
    await mkdir(at(p), { recursive: true });
    await chmod(at(p), mode);
  };
  const write = async (p: string, data: string | Uint8Array, mode = 0o644) => {
    await mkdir(dirname(at(p)), { recursive: true });
    await writeFile(at(p), data);
    await chmod(at(p), mode);
  };
  for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'etc', 'var/log', 'var/tmp', 'home']) {
    await mkdirMode(d, 0o755);
  }
  for (const d of ['bin', 'sbin', 'lib']) await symlink(`usr/${d}`, at(d));
  for (const d of ['proc', 'sys']) await mkdirMode(d, 0o555);
  for (const d of ['dev', 'run', 'mnt', 'srv/www']) await mkdirMode(d, 0o755);
  await mkdirMode('tmp', 0o1777);
  await chmod(at('var/tmp'), 0o1777);
  await symlink('../run', at('var/run'));

  for (const pkg of opts.packages) await installPackage(dir, pkg.entries);

  // busybox and its applets (package files win over applet links)
  await write('usr/bin/busybox', opts.busybox, 0o755);
  for (const a of busyboxApplets(opts.busybox)) {
    if (a.includes('/')) continue;
    const links: [string, string][] = [[`usr/bin/${a}`, 'busybox']];
    if (SBIN_APPLETS.has(a)) links.push([`usr/sbin/${a}`, '../bin/busybox']);
    for (const [path, target] of links) {
      if (!(await exists(at(path)))) await symlink(target, at(path));
    }
  }

  const host = opts.hostname ?? 'berth';
  await write('etc/hostname', `${host}\n`);
  await write('etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${host}\n::1\tlocalhost\n`);
  await write(
    'etc/passwd',
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  await write('etc/group', 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  // '*': no password can log in (root comes in with its SSH key or on the console).
  await write('etc/shadow', 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', 0o600);
  await write('etc/shells', '/bin/sh\n/bin/ash\n/usr/bin/sh\n/usr/bin/ash\n');
  await write(
    'etc/nsswitch.conf',
    'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n',
  );
  await write('etc/profile', PROFILE);
  await write('etc/fstab', '/dev/root\t/\text4\tdefaults\t0 1\n');
  await write('etc/resolv.conf', '');
  await write('etc/inittab', inittab());
  await write('etc/init.d/rcS', rcS(), 0o755);
  await write('etc/init.d/rcK', rcK(), 0o755);
  await write('etc/acpi.map', ACPI_MAP);
  await write('etc/acpid.conf', ACPID_CONF);
  await write('etc/acpi/PWRF/00000080', powerKeyScript(), 0o755);
  await write('etc/berth/console', consoleScript(), 0o755);
  await write(GENERATION_HANDLER_PATH, generationHandlerScript(), 0o755);
  for (const a of generationActions()) await write(a.path, a.script, 0o755);
  await write('usr/share/udhcpc/default.script', udhcpcScript(), 0o755);
  await mkdirMode('etc/dropbear', 0o755);
  await write(
    'srv/www/index.html',
    `<!DOCTYPE html>\n<html><head><title>Berth</title></head><body><p>${INDEX_HTML_TEXT}</p></body></html>\n`,
  );
  await mkdirMode('root', 0o700);
  await mkdirMode('root/.ssh', 0o700);
  const key = opts.sshPublicKey?.trim();
  await write('root/.ssh/authorized_keys', key ? `${key}\n` : '', 0o600);
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes one package's entries into the staging tree (merged /usr, docs left out). */
async function installPackage(root: string, entries: DebEntry[]): Promise<void> {
  const hardlinks: DebEntry[] = [];
  for (const e of entries) {
    const path = usrMerged(e.path);
    if (path === '/' || SKIP_PATH.test(path)) continue;
    if (path.split('/').includes('..')) {
      throw new ImageError('FORMAT', `unsafe path in a package: ${e.path}`);
    }
    const dest = join(root, path);
    switch (e.type) {
      case 'directory':
        if (['/bin', '/sbin', '/lib'].includes(e.path)) break; // merged into /usr
        await mkdir(dest, { recursive: true });
        await chmod(dest, e.mode & 0o7777);
        break;
      case 'file':
        await mkdir(dirname(dest), { recursive: true });
        await rm(dest, { force: true });
        await writeFile(dest, e.data ?? Buffer.alloc(0));
        await chmod(dest, e.mode & 0o7777);
        break;
      case 'symlink':
        await mkdir(dirname(dest), { recursive: true });
        await rm(dest, { force: true });
        await symlink(e.linkTarget ?? '', dest);
        break;
      case 'hardlink':
        hardlinks.push(e);
        break;
      default:
        // device nodes and fifos: none in the packages Berth installs; devtmpfs makes /dev
        break;
    }
  }
  for (const e of hardlinks) {
    const dest = join(root, usrMerged(e.path));
    await rm(dest, { force: true });
    await link(join(root, usrMerged(e.linkTarget ?? '')), dest);
  }
}

/** Lists every path in a staging tree, relative, with "/" first ("/", "/bin", ...). */
export async function listTree(root: string): Promise<string[]> {
  const out: string[] = ['/'];
  const walk = async (rel: string) => {
    const names = (await readdir(join(root, rel))).sort();
    for (const n of names) {
      const p = `${rel}/${n}`;
      out.push(p);
      const st = await lstat(join(root, p));
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk('');
  return out;
}

/** Finds a program of e2fsprogs, or explains how to install it. */
export function e2fsTool(name: 'mke2fs' | 'debugfs' | 'e2fsck'): string {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  throw new ImageError(
    'NOT_FOUND',
    `${name} is not installed; berth image build makes the ext4 disk with e2fsprogs (1.43 or later): install it with 'sudo apt-get install e2fsprogs'`,
  );
}

export interface Ext4Options {
  /** Size of the image in bytes (a multiple of 1 MiB is best). */
  sizeBytes: number;
  label?: string;
  /** Where the file system starts in `out` (a partition's offset; default 0, the whole file). */
  offsetBytes?: number;
}

/**
 * Makes a sparse raw ext4 image at `out` from the staging folder with `mke2fs -d`. mke2fs copies
 * owners from the staging files; when this process is not root they are the build user's, so
 * every inode is then set to root:root with debugfs afterwards.
 */
export function makeExt4(staging: string, out: string, opts: Ext4Options): void {
  const mke2fs = e2fsTool('mke2fs');
  const kib = Math.floor(opts.sizeBytes / 1024);
  const offset = opts.offsetBytes ? `,offset=${opts.offsetBytes}` : '';
  const r = spawnSync(
    mke2fs,
    [
      ...['-q', '-F', '-t', 'ext4', '-b', '4096', '-L', opts.label ?? 'berth-root'],
      ...['-E', `root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0${offset}`],
      ...['-d', staging, out, `${kib}k`],
    ],
    { encoding: 'utf8' },
  );
  if (r.error || r.status !== 0) {
    throw new ImageError(
      'FORMAT',
      `mke2fs failed to make ${out}: ${r.error?.message ?? (r.stderr || r.stdout).trim()}`,
    );
  }
}

/**
 * Sets every listed path in the image to root:root (for builds by a user who is not root); the
 * file system starts `offsetBytes` into the image (a partition), by e2fsprogs' "?offset=".
 */
export function chownImageToRoot(image: string, paths: string[], offsetBytes = 0): void {
  const debugfs = e2fsTool('debugfs');
  const script = paths
    .map((p) => `sif "${p.replace(/"/g, '\\"')}" uid 0\nsif "${p}" gid 0\n`)
    .join('');
  const fs = offsetBytes ? `${image}?offset=${offsetBytes}` : image;
  const r = spawnSync(debugfs, ['-w', '-f', '-', fs], { input: script, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new ImageError(
      'FORMAT',
      `debugfs could not set owners in ${image}: ${r.error?.message ?? r.stderr.trim()}`,
    );
  }
}

/**
 * The /init of the initramfs that goes with the disk: loads the modules listed in
 * /etc/berth/modules, mounts root= from the kernel command line (default /dev/vda; also
 * UUID=/LABEL=, rootfstype=, rootflags=, ro, init=) on /newroot and switch_roots into it, or
 * says why not and opens a rescue shell.
 */
export function rootInitScript(): string {
  return `#!/bin/sh
# /init of a Berth disk initramfs (generated by Berth): mount the root disk, switch to it.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=\${TERM:-vt100}
/bin/busybox --install -s /bin 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
if [ -f /etc/berth/modules ]; then
  while read -r m; do insmod "/lib/modules/$(uname -r)/$m" 2>/dev/null; done < /etc/berth/modules
fi
root=/dev/vda rootfstype=ext4 rootflags= mode=rw init=/sbin/init
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="\${arg#root=}" ;;
    rootfstype=*) rootfstype="\${arg#rootfstype=}" ;;
    rootflags=*) rootflags="\${arg#rootflags=}" ;;
    init=*) init="\${arg#init=}" ;;
    ro) mode=ro ;;
    rw) mode=rw ;;
  esac
done
rescue() {
  echo
  echo "berth: cannot boot from the root disk: $1"
  echo "berth: this is a rescue shell in the initramfs; 'exit' powers off"
  if grep -q '${PLAIN_CONSOLE_ARG}' /proc/cmdline; then
    stty -echo 2>/dev/null
    export PS1='(rescue) \\w # '
    setsid cttyhack sh -v || sh -v
  else
    export PS1='(rescue) \\w # '
    setsid cttyhack sh -l || sh -l
  fi
  sync
  poweroff -f
}
dev="$root"
case "$root" in
  UUID=*|LABEL=*) dev=$(findfs "$root" 2>/dev/null) ;;
esac
# The disk shows up when its driver has probed it; give it up to 10 s.
i=0
while [ -z "$dev" ] || [ ! -b "$dev" ]; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then rescue "no block device $root (is a disk attached, e.g. berth run --disk rootfs.img?)"; fi
  sleep 0.1
  case "$root" in UUID=*|LABEL=*) dev=$(findfs "$root" 2>/dev/null) ;; esac
done
mkdir -p /newroot
if ! mount -t "$rootfstype" -o "$mode\${rootflags:+,$rootflags}" "$dev" /newroot; then
  rescue "mount -t $rootfstype $dev failed (see the kernel messages above)"
fi
if [ ! -x "/newroot$init" ] && [ ! -L "/newroot$init" ]; then
  umount /newroot
  rescue "$root has no $init"
fi
mount --move /dev /newroot/dev 2>/dev/null || mount -t devtmpfs devtmpfs /newroot/dev
mount --move /sys /newroot/sys 2>/dev/null
mount --move /proc /newroot/proc 2>/dev/null
exec switch_root /newroot "$init"
`;
}
