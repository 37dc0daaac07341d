// The one validated configuration a VMM runs from: memory, harts, boot files, disks, network,
// console, engine and control socket. The CLI turns flags into it; a supervisor writes it as
// JSON. parseVmmConfig checks everything before anything is opened or started, and a bad
// value gets one message naming the field.
//
//   const config = parseVmmConfig({ memory: '256M', firmware: fw, kernel: k, initrd: i });
//   const vmm = await Vmm.start(config, { console: { input: process.stdin, output: process.stdout } });

import { z } from 'zod';
import { parsePortForward, type PortForward } from './net/portForward.js';
import { parseSize } from './size.js';

export class VmmConfigError extends Error {
  override readonly name = 'VmmConfigError';
}

const MIB = 1024 * 1024;
const VIRTIO_SLOTS = 8;
export const DEFAULT_MEMORY = 256 * MIB;
const MIN_MEMORY = 16 * MIB;
const MAX_MEMORY = 4096 * MIB;

const Size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    return typeof v === 'number' ? v : parseSize(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const Path = z
  .string()
  .min(1, 'a path is needed')
  .refine((p) => !p.includes('\0'), 'no NUL');

/** A port forward as parsePortForward writes it ("8080:80", "ADDR/H:G/udp") or as its object. */
const Forward = z
  .union([
    z.string(),
    z
      .object({
        proto: z.enum(['tcp', 'udp']).default('tcp'),
        hostPort: z.number().int(),
        guestPort: z.number().int(),
        hostAddress: z.string().optional(),
      })
      .strict(),
  ])
  .transform((v, ctx): PortForward => {
    const spec =
      typeof v === 'string'
        ? v
        : `${v.hostAddress !== undefined ? `${v.hostAddress}/` : ''}${v.hostPort}:${v.guestPort}/${v.proto}`;
    try {
      return parsePortForward(spec);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

const Mac = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'a MAC address is written like 52:54:00:12:34:56');

const Net = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z
    .object({
      kind: z.literal('user'),
      forwards: z.array(Forward).default([]),
      mac: Mac.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('tap'),
      bridge: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'a Linux interface name (1-15 characters)'),
      mac: Mac.optional(),
    })
    .strict(),
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
    harts: z.number().int().min(1).max(1, 'one hart for now').default(1),
    /** Firmware, kernel and initrd; when firmware or kernel is absent, the VMM's defaultAssets supply them. */
    firmware: Path.optional(),
    kernel: Path.optional(),
    initrd: Path.optional(),
    append: z.string().max(4096).optional(),
    disks: z
      .array(z.object({ path: Path, readOnly: z.boolean().default(false) }).strict())
      .default([]),
    net: Net.default({ kind: 'none' }),
    console: z.enum(['serial', 'virtio']).default('serial'),
    /** Interpretations of an instruction before it is translated; 0 interprets only. */
    jitThreshold: z.number().int().min(0).max(999_999_999).default(1000),
    /** Time from the instruction count: same input, same output. */
    deterministic: z.boolean().default(false),
    /** A power button (virtio-input) so that a shutdown request reaches the guest. */
    powerButton: z.boolean().default(true),
    /** UNIX socket path for the control socket; none when absent. */
    controlSocket: Path.optional(),
    /**
     * A snapshot file to restore the machine from before it first runs; the rest of the
     * configuration must describe the machine that took it.
     */
    restore: Path.optional(),
  })
  .strict();

export type VmmConfig = z.output<typeof Schema>;
export type VmmConfigInput = z.input<typeof Schema>;

/** Validates a whole configuration; throws VmmConfigError naming the first bad field. */
export function parseVmmConfig(input: unknown): VmmConfig {
  const r = Schema.safeParse(input);
  if (r.success) {
    const c = r.data;
    const others =
      1 +
      (c.console === 'virtio' ? 1 : 0) +
      (c.net.kind !== 'none' ? 1 : 0) +
      (c.powerButton ? 1 : 0);
    if (c.disks.length + others > VIRTIO_SLOTS) {
      throw new VmmConfigError(
        `disks: the board has ${VIRTIO_SLOTS} virtio slots and ${others} other devices; at most ${VIRTIO_SLOTS - others} disks fit`,
      );
    }
    return c;
  }
  const issue = r.error.issues[0];
  const where = issue.path.length > 0 ? issue.path.join('.') : 'config';
  throw new VmmConfigError(`${where}: ${issue.message}`);
}
