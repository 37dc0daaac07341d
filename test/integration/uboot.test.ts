// A disk that boots itself, as real machines' and QEMU's do: `berth image build --boot uboot`
// makes a partitioned disk whose /boot holds Debian's kernel, the initramfs and
// extlinux/extlinux.conf; OpenSBI starts U-Boot (Debian's u-boot-qemu), whose distro boot reads
// that file. On qemu-system-riscv64 (-bios OpenSBI -kernel u-boot.bin) and on Berth
// (`berth run --image DIR`) U-Boot prints the same boot lines and hands the kernel the same
// command line, and both reach the shell. Then, inside the Berth guest, extlinux.conf gets a new
// `append` with a marker; after `reboot -f` the next boot's U-Boot reads the edited file and the
// kernel's /proc/cmdline has the marker: what the guest installs in /boot takes effect at the
// next boot. One QEMU boot and one Berth boot pair.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/images/imageBuild.js';
import { PLAIN_CONSOLE_ARG } from '../../src/images/initramfs.js';
import { GUEST_READY_BANNER } from '../../src/images/rootfs.js';
import { ConsoleSession } from './session.js';

const BOOT_MS = 600_000;
const PROMPT = /# (?:\x1b\[6n)?$/m;
const CONF = '/boot/extlinux/extlinux.conf';

/**
 * U-Boot's lines from its banner to "Starting kernel", with what differs between the boards by
 * design taken out: the model ("riscv-virtio,qemu" / "riscv-virtio,berth"), the count of
 * devices (QEMU's fw-cfg), the disk's vendor as U-Boot prints it (QEMU's `if=virtio` puts the
 * disk on PCI: "1af4"; Berth's image has it in a virtio-mmio slot, whose vendor ID is QEMU's:
 * "QEMU") and the addresses where the device tree lands (its size differs). The flash lines
 * are compared: both boards' banks answer CFI queries.
 */
function ubootLines(console: string, from = 0): string[] {
  const text = console.slice(console.indexOf('U-Boot 20', from));
  const end = text.indexOf('Starting kernel');
  assert.ok(end > 0, `U-Boot starts a kernel:\n${text.slice(0, 3000)}`);
  return text
    .slice(0, end + 'Starting kernel'.length)
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '').trimEnd())
    .filter((l) => l !== '' && !/^(Model|Core):/.test(l))
    .map((l) =>
      l
        .replace(/\b(0x)?[0-9a-f]{8,16}\b/g, 'ADDR')
        .replace(/^(Device \d+: )\S+ (VirtIO Block Device)$/, '$1VENDOR $2'),
    );
}

test(
  "U-Boot boots the disk's own /boot on Berth as on QEMU; an edited extlinux.conf takes effect at the next boot",
  { timeout: 3 * BOOT_MS },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-uboot-it-'));
    const sessions: ConsoleSession[] = [];
    try {
      const r = await buildImage({
        outDir: dir,
        sizeBytes: 128 << 20,
        boot: 'uboot',
        extraArgs: PLAIN_CONSOLE_ARG,
        progress: false,
        log: () => {},
      });
      const m = r.manifest;
      assert.equal(m.boot, 'uboot');
      assert.equal(r.initrdPath, undefined, 'the initramfs is in the disk, not beside it');

      // QEMU, on a copy of the disk: the same firmware, U-Boot and disk.
      const qemuDisk = join(dir, 'qemu.img');
      copyFileSync(r.rootfsPath, qemuDisk);
      const q = new ConsoleSession('qemu-system-riscv64', [
        ...['-M', 'virt', '-m', '256M', '-nographic', '-bios', m.firmwarePath],
        ...['-kernel', m.kernelPath, '-drive', `file=${qemuDisk},format=raw,if=virtio`],
      ]);
      sessions.push(q);
      await q.expect(GUEST_READY_BANNER, BOOT_MS);
      await q.expect(PROMPT, 60_000);
      const qemuCmdline = (await q.run('cat /proc/cmdline')).trim();
      const qemuRoot = (await q.run('awk \'$2 == "/" {print $1}\' /proc/mounts')).trim();
      q.kill();

      // Berth, with QEMU's default devices (no virtio-rng, no power button).
      const s = ConsoleSession.berth([
        ...['--image', dir, '--memory', '256M', '--rng', 'none', '--power-button', 'none'],
      ]);
      sessions.push(s);
      await s.expect(GUEST_READY_BANNER, BOOT_MS);
      await s.expect(PROMPT, 60_000);
      const berthLines = ubootLines(s.output);
      const qemuLines = ubootLines(q.output);
      assert.deepEqual(berthLines, qemuLines, 'U-Boot says the same on both boards');
      const pkg = m.packages.find((p) => p.name === 'u-boot-qemu');
      assert.ok(pkg, 'image.json lists the U-Boot package');
      assert.ok(berthLines[0].startsWith(`U-Boot ${pkg.version} (`), berthLines[0]);
      assert.ok(
        berthLines.includes(`Found ${CONF}`) &&
          berthLines.some((l) => l.startsWith(`Retrieving file: /boot/vmlinux-${m.kernelVersion}`)),
        berthLines.join('\n'),
      );
      const cmdline = (await s.run('cat /proc/cmdline')).trim();
      assert.equal(cmdline, qemuCmdline, 'U-Boot passes the same command line');
      assert.ok(berthLines.includes(`append: ${cmdline}`), berthLines.join('\n'));
      assert.equal(cmdline, m.cmdline);
      const root = (await s.run('awk \'$2 == "/" {print $1}\' /proc/mounts')).trim();
      assert.equal(root, '/dev/vda1');
      assert.equal(qemuRoot, root);

      // A new kernel command line, written in the guest; the next boot takes it.
      const marker = `berth.upgrade=${Date.now().toString(36)}`;
      await s.run(`sed -i '/append /s|$| ${marker}|' ${CONF} && sync`);
      assert.match(await s.run(`grep append ${CONF}`), new RegExp(`${marker}$`, 'm'));
      const before = s.output.length;
      s.send('reboot -f\n');
      await s.expect(GUEST_READY_BANNER, BOOT_MS);
      await s.expect(PROMPT, 60_000);
      const again = ubootLines(s.output, before);
      assert.ok(again.includes(`append: ${cmdline} ${marker}`), again.join('\n'));
      assert.equal((await s.run('cat /proc/cmdline')).trim(), `${cmdline} ${marker}`);
      s.send('poweroff -f\n');
      assert.equal(await s.exited, 0, 'berth run ends when the guest powers off');
    } finally {
      for (const c of sessions) c.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
