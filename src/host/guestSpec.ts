// A guest as the user declares it (POST /v1/guests): name, memory, vCPUs, disks and network
// (each on a virtio slot, or with `bus: 'pci'` on virtio-pci), how it boots, restart policy, autostart, CPU weight and the VMM's memory limit. parseGuestSpec
// checks all of it — shape, limits and that the files it names exist — before anything is
// stored or started, and a bad spec gets one message naming the field.
//
//   const spec = parseGuestSpec({ name: 'web1', memory: '256M', boot: { image: '/srv/img' } });

import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import {
  MAX_MEMORY,
  MIB,
  MIN_MEMORY,
  NetNone,
  NetTap,
  NetUser,
  Path,
  Size,
} from '../vmm/configSchemas.js';
import { readImageManifest } from '../images/imageManifest.js';
import { DEBIAN_KERNEL_MIN_MEMORY } from '../images/assets.js';
import { ubootMemoryProblem } from '../images/uboot.js';
import { VIRT } from '../machine/board/memoryMap.js';
import { badRequest } from './errors.js';

/** Virtio slots left for disks: 8, less rng, network and the power button (and the image's root disk). */
export const MAX_DISKS = 5;

/** Lower-case DNS label: letters, digits and inner hyphens, 1-63 characters. */
export const GuestName = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    'a name is 1-63 lower-case letters, digits and inner hyphens (like a DNS label)',
  );

const AbsPath = Path.refine((p) => isAbsolute(p), 'give an absolute path');

const Memory = Size.pipe(
  z
    .number()
    .refine(
      (n) => Number.isInteger(n) && n >= MIN_MEMORY && n <= MAX_MEMORY && n % MIB === 0,
      'memory is a whole number of MiB between 16M and 4G',
    ),
);

/**
 * Where a disk or the network card sits: a virtio-mmio slot ('mmio', also when absent, as in
 * specs stored before PCI) or a PCI device of its own on the PCIe host bridge ('pci').
 */
const Bus = z.enum(
  ['mmio', 'pci'],
  "bus is 'mmio' (a virtio slot, the default) or 'pci' (a PCI device of its own)",
);

const Disk = z.object({ path: AbsPath, readOnly: z.boolean().default(false), bus: Bus.optional() });

/**
 * No card, user-mode networking (forwards, mac), or a TAP device on a Linux bridge (bridge,
 * mac; the daemon must be root), with its bus. Without a mac, the daemon gives the card one
 * derived from the guest's name when it is created (guestNetwork.ts).
 */
const Network = z.discriminatedUnion('kind', [
  NetNone.extend({
    bus: z.never('there is no network card (kind: none) to put on a bus').optional(),
  }),
  NetUser.extend({ bus: Bus.optional() }),
  NetTap.extend({ bus: Bus.optional() }),
]);

const ImageBoot = z.object({ image: AbsPath }).strict();
const FilesBoot = z
  .object({
    firmware: AbsPath,
    kernel: AbsPath.optional(),
    initrd: AbsPath.optional(),
    append: z.string().max(4096).optional(),
  })
  .strict();
const DefaultBoot = z.object({ append: z.string().max(4096).optional() }).strict();

export const GuestSpecSchema = z
  .object({
    name: GuestName,
    memory: Memory.default(256 * MIB),
    /** Harts (vCPUs) the guest gets, 1 to 8. */
    cpus: z
      .number()
      .int('cpus is a whole number')
      .min(1, 'cpus is between 1 and 8')
      .max(8, 'cpus is between 1 and 8')
      .default(1),
    disks: z.array(Disk.strict()).max(MAX_DISKS, `at most ${MAX_DISKS} disks`).default([]),
    network: Network.default({ kind: 'none' }),
    /** {image: DIR} from `berth image build`, {firmware, kernel, initrd, append}, or {} for Debian's default assets. */
    boot: z.union([ImageBoot, FilesBoot, DefaultBoot]).default({}),
    /** The guest's console: the serial port (ttyS0), or virtio (hvc0), which carries a window size. */
    console: z.enum(['serial', 'virtio']).default('serial'),
    restart: z.enum(['no', 'on-failure', 'always']).default('no'),
    autostart: z.boolean().default(false),
    /** Seconds a graceful stop waits for the guest to power off before it is quit. */
    stopTimeout: z.number().int().min(0).max(3600).default(30),
    /** CPU weight of the VMM's cgroup, as cgroup v2's cpu.weight (v1: cpu.shares = weight*1024/100). */
    cpuWeight: z
      .number()
      .int('cpuWeight is a whole number')
      .min(1, 'cpuWeight is between 1 and 10000')
      .max(10000, 'cpuWeight is between 1 and 10000')
      .default(100),
    /** The VMM's cgroup memory limit (default: memory + the VMM's overhead, guestLaunch.ts). */
    vmmMemoryLimit: Size.pipe(
      z
        .number()
        .refine(
          (n) => Number.isInteger(n) && n >= MIN_MEMORY && n <= 2 * MAX_MEMORY && n % MIB === 0,
          'vmmMemoryLimit is a whole number of MiB between 16M and 8G',
        ),
    ).optional(),
  })
  .strict();

export type GuestSpec = z.output<typeof GuestSpecSchema>;
export type GuestSpecInput = z.input<typeof GuestSpecSchema>;

export function bootKind(spec: GuestSpec): 'image' | 'files' | 'default' {
  return 'image' in spec.boot ? 'image' : 'firmware' in spec.boot ? 'files' : 'default';
}

function firstIssue(error: z.ZodError, input: unknown): string {
  const issue = error.issues[0];
  const where = issue.path.length > 0 ? issue.path.join('.') : 'spec';
  if (issue.path[0] === 'boot' && issue.path.length <= 2) {
    // Report the branch the user meant, by the keys given.
    const boot = (input as { boot?: unknown }).boot;
    const o = typeof boot === 'object' && boot !== null ? boot : {};
    const branch =
      'image' in o
        ? ImageBoot
        : 'firmware' in o || 'kernel' in o || 'initrd' in o
          ? FilesBoot
          : DefaultBoot;
    const r = branch.safeParse(boot);
    if (!r.success) {
      const i = r.error.issues[0];
      const at = ['boot', ...i.path.map(String)].join('.');
      const hint =
        branch === DefaultBoot
          ? ' (boot is {image: DIR}, {firmware, kernel?, initrd?, append?}, or {} for the default Debian guest)'
          : '';
      return `${at}: ${i.message}${hint}`;
    }
  }
  return `${where}: ${issue.message}`;
}

function mustExist(field: string, path: string, kind: 'file' | 'dir'): void {
  let ok = false;
  try {
    const st = statSync(path);
    ok = kind === 'file' ? st.isFile() : st.isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw badRequest(`${field}: no such ${kind === 'file' ? 'file' : 'directory'}: ${path}`);
}

/** Checks the files a spec names (they must exist now; they are checked again at start). */
export function checkSpecFiles(spec: GuestSpec): void {
  if (bootKind(spec) !== 'files' && spec.memory < DEBIAN_KERNEL_MIN_MEMORY) {
    throw badRequest(
      `memory: Debian's kernel needs at least ${DEBIAN_KERNEL_MIN_MEMORY / MIB}M to boot ` +
        `(it panics in early boot with less); this guest has ${spec.memory / MIB}M`,
    );
  }
  spec.disks.forEach((d, i) => mustExist(`disks.${i}.path`, d.path, 'file'));
  if ('image' in spec.boot) {
    mustExist('boot.image', spec.boot.image, 'dir');
    let image: ReturnType<typeof readImageManifest>;
    try {
      image = readImageManifest(spec.boot.image);
    } catch (e) {
      throw badRequest(`boot.image: ${(e as Error).message}`);
    }
    const problem = image.boot === 'uboot' ? ubootMemoryProblem(spec.memory) : undefined;
    if (problem) throw badRequest(`memory: ${problem}`);
    if (spec.disks.length >= MAX_DISKS) {
      throw badRequest(`disks: an image brings its root disk, so at most ${MAX_DISKS - 1} more`);
    }
  } else if ('firmware' in spec.boot) {
    const b = spec.boot;
    mustExist('boot.firmware', b.firmware, 'file');
    if (b.kernel !== undefined) mustExist('boot.kernel', b.kernel, 'file');
    if (b.initrd !== undefined) mustExist('boot.initrd', b.initrd, 'file');
  }
  const seen = new Set<string>();
  for (const d of spec.disks) {
    if (seen.has(d.path)) throw badRequest(`disks: ${d.path} is named twice`);
    seen.add(d.path);
  }
  checkSlotCount(spec);
}

/**
 * Refuses a guest whose virtio-mmio devices do not fit the board's slots: its disks not on PCI
 * (and an image's root disk), the network card unless on PCI, a virtio console, and the rng and
 * power button every daemon guest has.
 */
function checkSlotCount(spec: GuestSpec): void {
  const disks = spec.disks.filter((d) => d.bus !== 'pci').length + ('image' in spec.boot ? 1 : 0);
  const others = [
    ...(spec.network.kind !== 'none' && spec.network.bus !== 'pci' ? ['the network card'] : []),
    ...(spec.console === 'virtio' ? ['the virtio console'] : []),
    'the rng',
    'the power button',
  ];
  if (disks + others.length <= VIRT.virtio.count) return;
  throw badRequest(
    `disks: ${disks} disks, ${others.join(', ')} take ${disks + others.length} virtio slots ` +
      `and the board has ${VIRT.virtio.count}; put disks or the network card on PCI (bus: 'pci')`,
  );
}

/** Validates a whole spec (shape, then files); throws HostError 400 with one message. */
export function parseGuestSpec(input: unknown): GuestSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest('spec: a guest spec is a JSON object, such as {"name": "web1"}');
  }
  const r = GuestSpecSchema.safeParse(input);
  if (!r.success) throw badRequest(firstIssue(r.error, input));
  checkSpecFiles(r.data);
  return r.data;
}
