// `berth run`: turns flags into a VmmConfig and runs one VMM in this process, with the
// console on this terminal (or on stdin/stdout when they are not a terminal).

import { parseArgs } from 'node:util';
import { bootsFlashAlone, parseVmmConfig, type VmmConfigInput } from '../vmm/config.js';
import { Vmm } from '../vmm/vmm.js';
import type { SnapshotReadAhead } from '../vmm/snapshot/snapshotFile.js';
import { runDemo } from '../vmm/demo.js';
import { parseDiskSpec } from '../vmm/disk/fileBlockBackend.js';
import { openDisk } from '../vmm/disk/openDisk.js';
import { parseDeviceFlags, parseFlashSpec } from './runDevices.js';

export const RUN_HELP = `Usage: berth run [options]

Boots a virtual server. Without --kernel/--initrd/--firmware it uses Debian's
riscv64 kernel, OpenSBI and a busybox initramfs, fetched on first use from the
Debian archive in this host's apt configuration (or --mirror).

Options:
  --image DIR         boot a guest made by 'berth image build --out DIR': its kernel,
                      firmware, initramfs, command line and root disk (DIR/rootfs.img)
  --memory SIZE       guest RAM, e.g. 256M or 1G (default 256M, or what --image names:
                      1G for --distro debian; Debian's kernel needs 96M)
  --cpus N            harts (vCPUs), 1 to 8 (default 1)
  --kernel PATH       kernel: vmlinux or another ELF, Image (optionally gzip-compressed), or
                      any flat binary (at the firmware's end rounded up to 2 MiB)
  --initrd PATH       initramfs
  --append ARGS       kernel command line (default: console=ttyS0)
  --boot direct|uboot direct (default): the board starts --kernel; uboot: OpenSBI starts
                      U-Boot (Debian's u-boot-qemu, S-mode, fetched on first use), which
                      boots the kernel, initramfs and command line named in
                      /boot/extlinux/extlinux.conf on the first disk, as on a real machine
                      and on QEMU: a kernel installed in the guest runs from the next boot
                      on. Needs a disk (--disk, or an image built with --boot uboot, which
                      boots this way by itself) and 256M of memory (the default); no
                      --kernel, --initrd or --append
  --firmware PATH|none|default  M-mode firmware, as QEMU's -bios: a file (OpenSBI
                      fw_dynamic.bin or .elf, or a bare-metal program), default (Debian's
                      OpenSBI), or none: --kernel is entered in M-mode at its entry address
                      (a0 = hart id, a1 = device tree address)
  --disk PATH[,ro][,slot=N|,bus=pci]  attach a disk image (raw, or qcow2 by its header)
                      as a virtio disk (repeatable; the first is /dev/vda); ,ro: read-only;
                      ,bus=pci: on virtio-pci (PCI device 1, 2, ... of the PCIe host bridge)
                      instead of a virtio slot. Locked while in use: one writer or any
                      number of readers
  --flash PATH[,ro][,bank=N]  a 32 MiB image (raw or qcow2) in a CFI flash bank, as
                      QEMU's -drive if=pflash,unit=N: bank 0 at 0x20000000 (the reset vector
                      then enters it, as QEMU 7.2's), bank 1 at 0x22000000 (default: the
                      next free); what the guest programs is written to it. Locked as disks
  --mirror URL        Debian archive to fetch guest assets from
  --console KIND[,slot=N|,bus=pci]  serial: the 16550 UART, ttyS0 (default); virtio: hvc0
                      (Debian loads virtio_mmio from the initramfs, so hvc0 shows only from the
                      shell on); ,bus=pci: on virtio-pci (built into Debian's kernel: hvc0
                      shows the kernel's log too)
  --net KIND[,slot=N|,bus=pci] user: user-mode networking through libslirp (DHCP, no
                      root needed); tap: a TAP device on the Linux bridge --bridge names
                      (root); none (default); ,bus=pci: the card on virtio-pci
  --rng none|slot=N|bus=pci  the virtio-rng device (on by default): none, its slot, or
                      on virtio-pci
  --power-button none|slot=N|bus=pci  the virtio-input power button (on by default): none,
                      its slot, or on virtio-pci
  --balloon none|slot=N|bus=mmio  the virtio-balloon (on by default, on virtio-pci): the
                      guest reports its free pages, which go back to the host; none, or
                      in a virtio slot (the guest loads virtio_balloon)
                      Virtio slots are QEMU's virtio-mmio-bus.N (0..7, at 0x10001000 + N*0x1000,
                      IRQ N+1); devices without one take the highest free slot each, in the
                      order disks, network card, console, rng, power button, balloon; devices with
                      bus=pci are PCI devices 1, 2, ... in the same order
  --bridge NAME       with --net tap: the existing Linux bridge the guest's card joins
  --mac ADDR          the guest card's MAC address, e.g. 52:54:00:12:34:56 (default: fixed;
                      with --net tap, derived from the first disk's path)
  -p, --publish H:G   with --net user: forward host TCP port H to guest port G (repeatable;
                      H:G/udp, ADDR/H:G)
  --deterministic     time from the instruction count: same input, same output
  --jit-threshold N   translate guest code to WebAssembly after N runs of an
                      instruction (default 1000); 0 interprets only
  --control PATH      serve the VMM's control socket (mode 0600) at PATH: status, pause,
                      resume, shutdown (the guest's power button), quit, snapshot, console
  --restore FILE      start from a snapshot (written by the control socket's snapshot
                      request) instead of booting: give the same options as the run
                      that took it (memory, disks, network, console, boot files); the
                      disks must be as they were then (a snapshot holds no disk contents)
  --incoming HOST:PORT  wait for a live migration on HOST:PORT instead of booting (the
                      control socket's migrate request at the source): give the same
                      options as the source's run; disks are locked at the switch
  --name NAME         the guest's name in status and logs (default guest)
  --demo              run the built-in bare-metal demo program instead

The console is this terminal: Ctrl-A then X quits. When stdin is not a
terminal, it is piped to the guest's serial console. SIGTERM, SIGINT and
SIGHUP stop the guest at once (disks flushed and unlocked, nothing left
behind); exit status: 0 when the guest powers off or you quit, 1 when it
reports failure, 3 on an internal error, 128+N on signal N.
`;

/** Runs `berth run ARGS`; `early` is the restore file as main.ts began reading it, if it did. */
export async function runCommand(args: string[], early?: SnapshotReadAhead): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      image: { type: 'string' },
      memory: { type: 'string' },
      cpus: { type: 'string' },
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      append: { type: 'string' },
      boot: { type: 'string' },
      firmware: { type: 'string' },
      disk: { type: 'string', multiple: true },
      flash: { type: 'string', multiple: true },
      rng: { type: 'string' },
      'power-button': { type: 'string' },
      balloon: { type: 'string' },
      mirror: { type: 'string' },
      deterministic: { type: 'boolean' },
      'jit-threshold': { type: 'string' },
      net: { type: 'string' },
      bridge: { type: 'string' },
      mac: { type: 'string' },
      console: { type: 'string' },
      publish: { type: 'string', short: 'p', multiple: true },
      control: { type: 'string' },
      restore: { type: 'string' },
      incoming: { type: 'string' },
      name: { type: 'string' },
      demo: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (values.demo) {
    const r = runDemo((b) => process.stdout.write(String.fromCharCode(b)));
    return r.event?.kind === 'poweroff' ? 0 : 1;
  }
  const jitText = values['jit-threshold'];
  if (jitText !== undefined && !/^\d{1,9}$/.test(jitText)) {
    throw new Error(`--jit-threshold must be a whole number >= 0, not '${jitText}'`);
  }
  const devices = parseDeviceFlags(values);
  const netKind = devices.netKind;
  if ((values.publish ?? []).length > 0 && netKind !== 'user') {
    throw new Error('-p/--publish forwards ports into the guest network: it needs --net user');
  }
  if (netKind === 'tap' && values.bridge === undefined) {
    throw new Error(
      '--net tap needs --bridge NAME: the Linux bridge the guest joins ' +
        '(e.g. ip link add br0 type bridge && ip link set br0 up)',
    );
  }
  if (values.bridge !== undefined && netKind !== 'tap') {
    throw new Error('--bridge names the bridge for --net tap');
  }
  if (values.mac !== undefined && netKind === 'none') {
    throw new Error("--mac sets the network card's address: it needs --net");
  }
  const spec: VmmConfigInput = {
    memory: values.memory,
    harts: parseCpus(values.cpus),
    kernel: values.kernel,
    initrd: values.initrd,
    append: values.append,
    firmware: values.firmware === 'default' ? undefined : values.firmware,
    disks: (values.disk ?? []).map((d) => parseDiskSpec(d)),
    flash: (values.flash ?? []).map((f) => parseFlashSpec(f)),
    console: devices.console,
    rng: devices.rng,
    powerButton: devices.powerButton,
    balloon: devices.balloon,
    slots: devices.slots,
    buses: devices.buses,
    jitThreshold: jitText === undefined ? undefined : Number(jitText),
    deterministic: values.deterministic ?? false,
    controlSocket: values.control,
    restore: values.restore,
    incoming: values.incoming === undefined ? undefined : { listen: values.incoming },
    name: values.name,
    net:
      netKind === 'user'
        ? { kind: 'user', forwards: values.publish ?? [], mac: values.mac }
        : netKind === 'tap'
          ? { kind: 'tap', bridge: values.bridge!, mac: values.mac }
          : { kind: 'none' },
  };
  let boot = parseBoot(values.boot);
  if (values.image !== undefined) {
    const { readImageManifest } = await import('../images/imageManifest.js');
    const img = readImageManifest(values.image);
    if (img.boot === 'uboot' && values.kernel === undefined) {
      if (boot === 'direct') {
        throw new Error(
          `--boot direct: the image in ${values.image} boots through U-Boot from its own /boot; give --kernel (and --initrd) to boot another kernel directly`,
        );
      }
      boot = 'uboot';
    } else if (img.boot === 'direct' && boot === 'uboot') {
      throw new Error(
        `--boot uboot: the image in ${values.image} boots directly (built without --boot uboot): its disk has no /boot for U-Boot; build one with berth image build --boot uboot`,
      );
    }
    spec.memory ??= img.memory;
    spec.kernel ??= img.kernelPath;
    spec.firmware ??= img.firmwarePath;
    if (values.kernel === undefined) spec.initrd ??= img.initrdPath;
    if (img.boot === 'direct' || values.kernel !== undefined) spec.append ??= img.cmdline;
    spec.disks = [{ path: img.rootfsPath, readOnly: false }, ...(spec.disks ?? [])];
  }
  if (boot === 'uboot') checkUBootFlags(values, spec);
  const config = parseVmmConfig(spec);
  // Debian's kernel is booted unless one is given, or the program in flash bank 0 runs alone.
  const debianKernel = config.kernel === undefined && !bootsFlashAlone(config);
  // Imported when needed: the images layer and koffi take a while to load.
  const { DEBIAN_KERNEL_MIN_MEMORY } = debianKernel
    ? await import('../images/assets.js')
    : { DEBIAN_KERNEL_MIN_MEMORY: 0 };
  if (debianKernel && config.memory < DEBIAN_KERNEL_MIN_MEMORY) {
    throw new Error(
      `--memory: Debian's kernel needs at least ${DEBIAN_KERNEL_MIN_MEMORY >> 20}M to boot ` +
        `(it panics in early boot with less); give --memory ${DEBIAN_KERNEL_MIN_MEMORY >> 20}M or more`,
    );
  }
  const uboot = boot === 'uboot' ? await import('../images/uboot.js') : undefined;
  const problem = uboot?.ubootMemoryProblem(config.memory);
  if (problem) throw new Error(`--memory: ${problem}; give --memory 256M or more`);
  // Privileges, bridge, tools and disks before any download (the VMM checks again).
  if (config.net.kind === 'tap') {
    const { tapPreflight } = await import('../vmm/net/tapDevice.js');
    tapPreflight({ bridge: config.net.bridge });
  }
  for (const d of [...config.disks, ...config.flash]) openDisk(d.path, d.readOnly).close(); // the VMM opens them again
  if (uboot) config.kernel ??= (await uboot.ensureUBoot({ mirror: values.mirror })).path;
  const vmm = await Vmm.start(config, {
    snapshot: early,
    console: { input: process.stdin, output: process.stdout },
    defaultAssets: async () => {
      const { ensureDefaultAssets } = await import('../images/assets.js');
      return ensureDefaultAssets({ mirror: values.mirror });
    },
  });
  vmm.exitOnSignals();
  const exit = await vmm.run();
  if (exit.kind === 'fail') {
    process.stderr.write(`\nberth: the guest reported failure (code ${exit.guestCode})\n`);
  } else if (exit.kind === 'incoming-failed') {
    process.stderr.write(`\nberth: the incoming migration failed: ${exit.message}\n`);
  } else if (exit.kind === 'fault') {
    process.stderr.write(
      `\nberth: the virtual machine stopped on an internal error: ${exit.message}\n`,
    );
  }
  return exit.code;
}

/** The --boot value; undefined when not given. */
function parseBoot(text: string | undefined): 'direct' | 'uboot' | undefined {
  if (text === undefined || text === 'direct' || text === 'uboot') return text;
  throw new Error(`--boot must be direct or uboot, not '${text}'`);
}

/** U-Boot takes the kernel, initramfs and command line from the disk: refuses flags that give them. */
function checkUBootFlags(
  values: { kernel?: string; initrd?: string; append?: string; image?: string },
  spec: VmmConfigInput,
): void {
  for (const flag of ['kernel', 'initrd', 'append'] as const) {
    if (values[flag] !== undefined) {
      throw new Error(
        `--${flag} with --boot uboot: U-Boot boots the kernel, initramfs and command line that the disk's /boot/extlinux/extlinux.conf names; edit that file in the guest (or leave out --boot uboot)`,
      );
    }
  }
  if ((spec.disks ?? []).length === 0) {
    throw new Error(
      "--boot uboot boots from the first disk's /boot/extlinux/extlinux.conf: give --disk PATH (e.g. an image made by berth image build --boot uboot)",
    );
  }
}

/** The --cpus value as a hart count, or undefined for the default; the config checks the range. */
function parseCpus(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,3}$/.test(text))
    throw new Error(`--cpus must be a whole number from 1 to 8, not '${text}'`);
  return Number(text);
}
