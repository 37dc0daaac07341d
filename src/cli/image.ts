// `berth image build`: makes a bootable ext4 root disk, its initramfs and image.json from Debian
// riscv64 packages.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseSize } from '../vmm/size.js';

export const IMAGE_HELP = `Usage: berth image build --out DIR [options]

Builds a guest from Debian riscv64 packages (fetched from the Debian archive in
this host's apt configuration, or --mirror, and cached):
  DIR/rootfs.img  raw ext4 root disk (sparse): busybox, dropbear SSH server on
                  port 22, busybox httpd on port 80 serving /srv/www, DHCP on eth0
  DIR/initrd.gz   initramfs that loads virtio and ext4 modules and mounts root=
                  (with --boot uboot it is in the disk's /boot instead)
  DIR/image.json  the kernel, firmware and kernel command line to boot them with
Needs mke2fs from e2fsprogs on this host (and debugfs when not run as root).

Options:
  --out DIR           where to write the image (required)
  --size SIZE         size of the root disk, e.g. 512M or 2G (default 512M)
  --ssh-key PATH      public key file for root's authorized_keys (e.g. ~/.ssh/id_ed25519.pub)
  --mirror URL        Debian archive to fetch packages from
  --suite NAME        Debian suite (default trixie)
  --boot direct|uboot direct (default): image.json names the kernel and DIR/initrd.gz,
                      which berth run hands to the board; uboot: the disk boots itself as
                      a real machine's does: partitioned (root=/dev/vda1), its /boot holds
                      the kernel, the initramfs and extlinux/extlinux.conf, and image.json
                      names OpenSBI and U-Boot (Debian's u-boot-qemu), which read /boot at
                      every boot: edit extlinux.conf or install a kernel in the guest, and
                      the next boot takes it. Boots on QEMU too:
                      qemu-system-riscv64 -M virt -bios FIRMWARE -kernel U-BOOT
                        -drive file=DIR/rootfs.img,format=raw,if=virtio

A full Debian system instead (--distro debian): systemd, apt, OpenSSH, DHCP on
every wired interface, a login on the serial console, cloud-init (NoCloud) for
the first boot, and Debian's kernel in the disk's /boot, booted by U-Boot (a
kernel installed in the guest boots next time). Made with Debian's mmdebstrap,
its packages set up under qemu-user: several minutes the first time, then
cached. Needs root, mmdebstrap, qemu-user-static and Linux 6.7 or later.
  --distro busybox|debian  busybox (default) or debian
  --hostname NAME     the guest's host name (default debian)
  --user-data FILE    cloud-init user data (e.g. #cloud-config with users, passwords,
                      packages); --ssh-key goes to the default user, debian (with sudo)
  (--size defaults to 4G for debian: a sparse file, about 600 MiB used at first)

Boot it with:
  berth run --image DIR               (add --net user -p 8080:80 to reach its web page)
(image.json holds the kernel, firmware and command line that go with the disk.)
`;

export async function imageCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(IMAGE_HELP);
    return sub === undefined ? 1 : 0;
  }
  if (sub !== 'build') {
    process.stderr.write(`berth image: unknown command '${sub}'. Run 'berth image --help'.\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      out: { type: 'string' },
      size: { type: 'string' },
      'ssh-key': { type: 'string' },
      mirror: { type: 'string' },
      suite: { type: 'string' },
      boot: { type: 'string' },
      distro: { type: 'string' },
      hostname: { type: 'string' },
      'user-data': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(IMAGE_HELP);
    return 0;
  }
  if (!values.out) {
    process.stderr.write('berth image build: --out DIR is required (where to write the image)\n');
    return 2;
  }
  const distro = values.distro ?? 'busybox';
  if (distro !== 'busybox' && distro !== 'debian') {
    process.stderr.write(
      `berth image build: --distro must be busybox or debian, not '${distro}'\n`,
    );
    return 2;
  }
  if (
    distro === 'busybox' &&
    (values['user-data'] !== undefined || values.hostname !== undefined)
  ) {
    process.stderr.write(
      'berth image build: --user-data and --hostname are for --distro debian (cloud-init)\n',
    );
    return 2;
  }
  if (distro === 'debian' && values.boot !== undefined && values.boot !== 'uboot') {
    process.stderr.write(
      'berth image build: --distro debian boots through U-Boot from its own /boot (--boot uboot)\n',
    );
    return 2;
  }
  const sizeBytes = values.size === undefined ? undefined : parseSize(values.size);
  const boot = values.boot ?? 'direct';
  if (boot !== 'direct' && boot !== 'uboot') {
    process.stderr.write(`berth image build: --boot must be direct or uboot, not '${boot}'\n`);
    return 2;
  }
  let sshPublicKey: string | undefined;
  if (values['ssh-key'] !== undefined) {
    const path = values['ssh-key'];
    try {
      sshPublicKey = readFileSync(path, 'utf8').trim();
    } catch (e) {
      throw new Error(
        `cannot read the SSH public key ${path}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (!/^(ssh-|ecdsa-|sk-)\S+ \S+/.test(sshPublicKey) || sshPublicKey.includes('PRIVATE KEY')) {
      throw new Error(
        `${path} is not an OpenSSH public key line (expected e.g. "ssh-ed25519 AAAA... user"); pass the .pub file`,
      );
    }
  }
  if (distro === 'debian') {
    const userData =
      values['user-data'] === undefined ? undefined : readUserData(values['user-data']);
    const { buildDebianImage } = await import('../images/debianDistro.js');
    const r = await buildDebianImage({
      outDir: values.out,
      sizeBytes,
      sshPublicKey,
      userData,
      hostname: values.hostname,
      mirror: values.mirror,
      suite: values.suite,
    });
    process.stdout.write(
      `${r.manifestPath}\nboot with: berth run --image ${values.out} --net user -p 2222:22\n`,
    );
    return 0;
  }
  const { buildImage } = await import('../images/imageBuild.js');
  const r = await buildImage({
    outDir: values.out,
    sizeBytes,
    sshPublicKey,
    mirror: values.mirror,
    suite: values.suite,
    boot,
  });
  process.stdout.write(`${r.manifestPath}\nboot with: berth run --image ${values.out}\n`);
  return 0;
}

/** The user data file, which cloud-init reads as given. */
function readUserData(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(
      `cannot read the user data ${path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (!/^(#cloud-config|#!|#include|#cloud-boothook|Content-Type: multipart)/.test(text)) {
    throw new Error(
      `${path} is not cloud-init user data: it must begin with #cloud-config (or #!, #include, a MIME multipart)`,
    );
  }
  return text;
}
