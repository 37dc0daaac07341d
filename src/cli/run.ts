// `berth run`: boots a guest on the virt board with the console on this
// terminal (or on stdin/stdout when they are not a terminal).

import { parseArgs } from 'node:util';
import { webcrypto } from 'node:crypto';
import { VirtBoard } from '../machine/board/virt.js';
import { SeededEntropy } from '../machine/virtio/rng.js';
import { SlirpBackend } from '../vmm/net/slirp.js';
import { parsePortForward } from '../vmm/net/portForward.js';
import { TapBackend, tapPreflight } from '../vmm/net/tap.js';
import { ConsoleIO } from '../vmm/console.js';
import { HostClock, InstructionClock, wallClockNs, type TickClock } from '../vmm/clocks.js';
import { readGuestFile, readKernel } from '../vmm/kernelFile.js';
import { runGuest } from '../vmm/runGuest.js';
import { runDemo } from '../vmm/demo.js';
import { parseDiskSpec } from '../vmm/disk/fileBlockBackend.js';
import { openDisk, type DiskBackend } from '../vmm/disk/openDisk.js';
import { parseMac } from '../machine/virtio/net.js';
import type { NetBackend } from '../machine/virtio/netBackend.js';
import { resolve } from 'node:path';
import { parseSize } from './size.js';

export const RUN_HELP = `Usage: berth run [options]

Boots a virtual server. Without --kernel/--initrd/--firmware it uses Debian's
riscv64 kernel, OpenSBI and a busybox initramfs, fetched on first use from the
Debian archive in this host's apt configuration (or --mirror).

Options:
  --memory SIZE       guest RAM, e.g. 256M or 1G (default 256M)
  --kernel PATH       kernel: vmlinux (ELF) or Image (optionally gzip-compressed)
  --initrd PATH       initramfs
  --append ARGS       kernel command line (default: console=ttyS0)
  --firmware PATH     M-mode firmware (OpenSBI fw_dynamic.bin or .elf)
  --disk PATH[,ro]    attach a disk image (raw, or qcow2 by its header) as a virtio
                      disk (repeatable; the first is /dev/vda); ,ro: read-only. Locked
                      while in use: one writer or any number of readers
  --mirror URL        Debian archive to fetch guest assets from
  --console KIND      serial: the 16550 UART, ttyS0 (default); virtio: hvc0 (Debian loads
                      virtio_mmio from the initramfs, so hvc0 shows only from the shell on)
  --net KIND          user: user-mode networking through libslirp (DHCP, no root needed);
                      tap: a TAP device on the Linux bridge --bridge names (root);
                      none (default)
  --bridge NAME       with --net tap: the existing Linux bridge the guest's card joins
  --mac ADDR          the guest card's MAC address, e.g. 52:54:00:12:34:56 (default: fixed;
                      with --net tap, derived from the first disk's path)
  -p, --publish H:G   with --net user: forward host TCP port H to guest port G (repeatable;
                      H:G/udp, ADDR/H:G)
  --deterministic     time from the instruction count: same input, same output
  --jit-threshold N   translate guest code to WebAssembly after N runs of an
                      instruction (default 1000); 0 interprets only
  --demo              run the built-in bare-metal demo program instead

The console is this terminal: Ctrl-A then X quits. When stdin is not a
terminal, it is piped to the guest's serial console.
`;

const DEFAULT_APPEND = 'console=ttyS0';

export async function runCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      memory: { type: 'string' },
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      append: { type: 'string' },
      firmware: { type: 'string' },
      disk: { type: 'string', multiple: true },
      mirror: { type: 'string' },
      deterministic: { type: 'boolean' },
      'jit-threshold': { type: 'string' },
      net: { type: 'string' },
      bridge: { type: 'string' },
      mac: { type: 'string' },
      console: { type: 'string' },
      publish: { type: 'string', short: 'p', multiple: true },
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
  const memoryBytes = parseSize(values.memory ?? '256M');
  const jitText = values['jit-threshold'];
  const jitThreshold = jitText === undefined ? undefined : Number(jitText);
  if (jitText !== undefined && !/^\d{1,9}$/.test(jitText)) {
    throw new Error(`--jit-threshold must be a whole number >= 0, not '${jitText}'`);
  }
  const netKind = values.net ?? 'none';
  if (netKind !== 'user' && netKind !== 'tap' && netKind !== 'none') {
    throw new Error(`--net must be 'user', 'tap' or 'none', not '${netKind}'`);
  }
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
  if (values.mac !== undefined) {
    if (netKind === 'none')
      throw new Error("--mac sets the network card's address: it needs --net");
    parseMac(values.mac);
  }
  const forwards = (values.publish ?? []).map(parsePortForward);
  // Privileges, bridge and tools before any download (TapBackend.start checks again).
  if (netKind === 'tap') tapPreflight({ bridge: values.bridge! });
  // Disks first, so that a bad path is reported before any download.
  const disks: DiskBackend[] = [];
  try {
    for (const spec of values.disk ?? []) {
      const d = parseDiskSpec(spec);
      disks.push(openDisk(d.path, d.readOnly));
    }
  } catch (e) {
    for (const d of disks) d.close();
    throw e;
  }
  let kernelPath = values.kernel;
  let initrdPath = values.initrd;
  let firmwarePath = values.firmware;
  if (
    kernelPath === undefined ||
    firmwarePath === undefined ||
    (initrdPath === undefined && values.kernel === undefined)
  ) {
    const { ensureDefaultAssets } = await import('../images/assets.js');
    const assets = await ensureDefaultAssets({ mirror: values.mirror });
    kernelPath ??= assets.kernelPath;
    firmwarePath ??= assets.firmwarePath;
    if (values.kernel === undefined) initrdPath ??= assets.initrdPath;
  }
  const kernel = readKernel(kernelPath);
  const firmware = readGuestFile(firmwarePath, 'firmware');
  const initrd = initrdPath !== undefined ? readGuestFile(initrdPath, 'initrd') : undefined;
  const consoleKind = values.console ?? 'serial';
  if (consoleKind !== 'serial' && consoleKind !== 'virtio') {
    throw new Error(`--console must be 'serial' or 'virtio', not '${consoleKind}'`);
  }
  const bootargs = values.append ?? (consoleKind === 'virtio' ? 'console=hvc0' : DEFAULT_APPEND);
  const log = (line: string): void => {
    process.stderr.write(`\n${line}\n`);
  };
  let net: (NetBackend & { whenReceived(): Promise<void>; close(): Promise<void> }) | null = null;
  if (netKind === 'user') net = await SlirpBackend.start({ forwards, log });
  if (netKind === 'tap') net = await TapBackend.start({ bridge: values.bridge!, log });
  // On a bridge every card needs its own address: derive it from the disk, which is the guest's.
  const firstDisk = (values.disk ?? [])[0];
  const seed =
    netKind === 'tap' && firstDisk !== undefined
      ? `berth:${resolve(parseDiskSpec(firstDisk).path)}`
      : 'berth';
  const io = new ConsoleIO(process.stdin, process.stdout);
  try {
    if (values.deterministic && !process.stdin.isTTY) await io.drain();
    for (;;) {
      let board: VirtBoard | null = null;
      const clock: TickClock = values.deterministic
        ? new InstructionClock(() => (board ? board.instructions() : 0))
        : new HostClock();
      board = new VirtBoard({
        memoryBytes,
        clock,
        wallClock: wallClockNs(clock),
        console: io,
        firmware,
        kernel,
        initrd,
        bootargs,
        jitThreshold,
        disks: disks.map((backend, i) => ({ backend, serial: `berth-disk${i}` })),
        rng: values.deterministic
          ? new SeededEntropy(1n)
          : { fill: (b) => webcrypto.getRandomValues(b) },
        net: net ? { backend: net, seed, mac: values.mac } : undefined,
        hvc: consoleKind === 'virtio' ? { out: io, input: io } : undefined,
        log,
      });
      const backend = net;
      const exit = await runGuest(
        board,
        io,
        clock,
        backend ? () => backend.whenReceived() : undefined,
      );
      io.flush();
      switch (exit.kind) {
        case 'poweroff':
        case 'quit':
          return 0;
        case 'reboot':
          continue;
        case 'fail':
          process.stderr.write(`\nberth: the guest reported failure (code ${exit.code})\n`);
          return 1;
        case 'fault':
          process.stderr.write(
            `\nberth: the virtual machine stopped on an internal error: ${exit.message}\n`,
          );
          return 3;
      }
    }
  } finally {
    for (const d of disks) {
      try {
        d.flush();
      } finally {
        d.close();
      }
    }
    io.close();
    await net?.close();
  }
}
