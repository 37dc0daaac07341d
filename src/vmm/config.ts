// The one validated configuration a VMM runs from: memory, harts, boot files, disks, network,
// console, engine, control socket and console log. The CLI turns flags into it; a supervisor writes it as
// JSON. parseVmmConfig checks everything before anything is opened or started, and a bad
// value gets one message naming the field.
//
//   const config = parseVmmConfig({ memory: '256M', firmware: fw, kernel: k, initrd: i });
//   const vmm = await Vmm.start(config, { console: { input: process.stdin, output: process.stdout } });

import { z } from 'zod';
import { checkVirtioSlots } from './virtioPlacement.js';
import {
  IfName,
  MAX_MEMORY,
  MIB,
  MIN_MEMORY,
  NetNone,
  NetTap,
  NetUser,
  Path,
  Size,
} from './configSchemas.js';

export class VmmConfigError extends Error {
  override readonly name = 'VmmConfigError';
}

/** A virtio slot, 0..7: QEMU's virtio-mmio-bus.N (range checked with the placement). */
const Slot = z.number().int();
/** Where a virtio device sits: a virtio-mmio slot (the default) or the PCIe bus. */
const Bus = z.enum(['mmio', 'pci']);
export const DEFAULT_MEMORY = 256 * MIB;

const MAX_CONSOLE_LOG = 1024 * MIB;

/** The guest's console output kept in a file, rotated by size (consoleLog.ts). */
const ConsoleLog = z
  .object({
    path: Path,
    /** Size at which the file is rotated (default 1 MiB). */
    maxBytes: Size.default(MIB).pipe(
      z.number().int().min(1024, 'at least 1 KiB').max(MAX_CONSOLE_LOG, 'at most 1 GiB'),
    ),
    /** Rotated files kept (PATH.1 … PATH.keep; default 2). */
    keep: z.number().int().min(0).max(100).default(2),
  })
  .strict();

const Net = z.discriminatedUnion('kind', [
  NetNone,
  NetUser,
  NetTap.extend({
    /**
     * A TAP device made and put on the bridge by whoever started the VMM (the daemon), handed
     * over as the open descriptor `fd`; without it the VMM makes its own (root).
     */
    device: z
      .object({ fd: z.number().int().min(3).max(1023), name: IfName })
      .strict()
      .optional(),
  }).strict(),
]);

const Schema = z
  .object({
    /** A name for logs and status (default "guest"). */
    name: z.string().min(1).max(64).default('guest'),
    memory: Size.default(DEFAULT_MEMORY).pipe(
      z
        .number()
        .refine(
          (n) => Number.isInteger(n) && n >= MIN_MEMORY && n <= MAX_MEMORY && n % 4096 === 0,
          'must be a multiple of 4 KiB between 16 MiB and 4 GiB',
        ),
    ),
    harts: z.number().int().min(1).max(8, 'at most 8 harts').default(1),
    /**
     * Firmware, kernel and initrd; when firmware or kernel is absent, the VMM's defaultAssets
     * supply them. Firmware "none" (QEMU's -bios none): the kernel is entered in M-mode at
     * its entry, a0 = hart id, a1 = device tree address (a file named none: ./none).
     */
    firmware: Path.optional(),
    kernel: Path.optional(),
    initrd: Path.optional(),
    append: z.string().max(4096).optional(),
    disks: z
      .array(
        z
          .object({
            path: Path,
            readOnly: z.boolean().default(false),
            slot: Slot.optional(),
            /** 'pci': on virtio-pci, a PCI device of its own, instead of a virtio slot. */
            bus: Bus.optional(),
          })
          .strict(),
      )
      .default([]),
    /**
     * Images in the flash banks (QEMU's -drive if=pflash,unit=N): raw or qcow2, 32 MiB each,
     * written through when the guest programs the flash. Bank 0 at 0x20000000 (with an image
     * there the reset vector enters it, as QEMU 7.2's), bank 1 at 0x22000000; without `bank`,
     * the next free one.
     */
    flash: z
      .array(
        z
          .object({
            path: Path,
            readOnly: z.boolean().default(false),
            bank: z.number().int().min(0).max(1).optional(),
          })
          .strict(),
      )
      .max(2, 'at most 2 flash images: the board has two banks')
      .default([]),
    net: Net.default({ kind: 'none' }),
    console: z.enum(['serial', 'virtio']).default('serial'),
    /** Interpretations of an instruction before it is translated; 0 interprets only. */
    jitThreshold: z.number().int().min(0).max(999_999_999).default(1000),
    /** Time from the instruction count: same input, same output. */
    deterministic: z.boolean().default(false),
    /** A power button (virtio-input) so that a shutdown request reaches the guest. */
    powerButton: z.boolean().default(true),
    /** A virtio-rng device (the guest's hwrng) on the host's entropy. */
    rng: z.boolean().default(true),
    /**
     * A virtio-balloon through which the guest reports its free pages, which go back to the
     * host. On virtio-pci unless given a slot or bus 'mmio' (so it takes no slot a disk could
     * have). A restore or an incoming migration has it as the saved board did.
     */
    balloon: z.boolean().default(true),
    /**
     * Virtio slots of the devices other than disks (disks name theirs): QEMU's
     * virtio-mmio-bus.N. Devices without one take the highest free slot each, in the order
     * disks, network card, console, rng, power button, balloon (virtioPlacement.ts).
     */
    slots: z
      .object({
        net: Slot.optional(),
        console: Slot.optional(),
        rng: Slot.optional(),
        powerButton: Slot.optional(),
        balloon: Slot.optional(),
      })
      .strict()
      .default({}),
    /**
     * The bus of each device other than disks (disks name theirs): 'pci' puts it on
     * virtio-pci, a PCI device of its own, instead of a virtio slot.
     */
    buses: z
      .object({
        net: Bus.optional(),
        console: Bus.optional(),
        rng: Bus.optional(),
        powerButton: Bus.optional(),
        balloon: Bus.optional(),
      })
      .strict()
      .default({}),
    /** UNIX socket path for the control socket; none when absent. */
    controlSocket: Path.optional(),
    /** A file that keeps the guest's console output, rotated by size; none when absent. */
    consoleLog: ConsoleLog.optional(),
    /**
     * A snapshot file to restore the machine from before it first runs; the rest of the
     * configuration must describe the machine that took it.
     */
    restore: Path.optional(),
    /**
     * Wait for one live-migration stream on HOST:PORT instead of booting (migration/); the
     * rest of the configuration must describe the source's machine. With `tls` the stream is
     * TLS 1.3 with this certificate and key (PEM; the source pins its fingerprint); with
     * `token` (hex) only a source whose hello carries it is taken. With `mirror` the writable
     * disks are this VMM's own files (new, reading as zeros, of the source's sizes), opened and
     * locked at start and written by the stream (the source migrates with `mirror`); without
     * it they are the source's files, shared, locked at the switch.
     */
    incoming: z
      .object({
        listen: z.string().regex(/^.+:\d{1,5}$/, 'HOST:PORT'),
        tls: z
          .object({
            cert: z.string().regex(/-----BEGIN CERTIFICATE-----/, 'a PEM certificate'),
            key: z.string().regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a PEM private key'),
          })
          .strict()
          .optional(),
        token: z
          .string()
          .regex(/^[0-9a-fA-F]{32,1024}$/, 'hex, at least 32 digits')
          .optional(),
        mirror: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type VmmConfig = z.output<typeof Schema>;
export type VmmConfigInput = z.input<typeof Schema>;

/** The flash image of each bank (null: empty), from config.flash; refuses two in one bank. */
export function flashBankImages(
  c: Pick<VmmConfig, 'flash'>,
): (VmmConfig['flash'][number] | null)[] {
  const banks: (VmmConfig['flash'][number] | null)[] = [null, null];
  for (const f of c.flash.filter((x) => x.bank !== undefined)) {
    if (banks[f.bank!] !== null) {
      throw new VmmConfigError(
        `flash: ${banks[f.bank!]!.path} and ${f.path} are both in bank ${f.bank}`,
      );
    }
    banks[f.bank!] = f;
  }
  for (const f of c.flash.filter((x) => x.bank === undefined)) {
    const free = banks.indexOf(null);
    if (free < 0) throw new VmmConfigError(`flash: no bank left for ${f.path}`);
    banks[free] = f;
  }
  return banks;
}

/** No firmware, no kernel: the reset vector enters the image in flash bank 0, which runs alone. */
export function bootsFlashAlone(c: VmmConfig): boolean {
  return c.firmware === 'none' && c.kernel === undefined && flashBankImages(c)[0] !== null;
}

/** Validates a whole configuration; throws VmmConfigError naming the first bad field. */
export function parseVmmConfig(input: unknown): VmmConfig {
  const r = Schema.safeParse(input);
  if (r.success) {
    const c = r.data;
    if (c.incoming !== undefined && c.restore !== undefined) {
      throw new VmmConfigError(
        'incoming: a VMM waits for a migration or restores a snapshot, not both',
      );
    }
    const banks = flashBankImages(c);
    if (c.incoming !== undefined && c.flash.length > 0) {
      throw new VmmConfigError(
        'flash: a VMM waiting for a live migration takes no flash images (they do not migrate)',
      );
    }
    if (c.firmware === 'none' && c.kernel === undefined && banks[0] === null) {
      throw new VmmConfigError(
        'firmware: none enters the kernel directly, in M-mode: give a kernel (a bare-metal program or a kernel that runs in M-mode), or an image in flash bank 0',
      );
    }
    checkVirtioSlots(c, (m) => new VmmConfigError(m));
    return c;
  }
  const issue = r.error.issues[0];
  const where = issue.path.length > 0 ? issue.path.join('.') : 'config';
  throw new VmmConfigError(`${where}: ${issue.message}`);
}
