// The zod pieces that a VMM's config (config.ts) and the daemon's guest spec
// (host/guestSpec.ts) share, so that a size, a path, a port forward, a MAC address, an
// interface name and a network card are read the same way in both: memory bounds, a
// size, a path, a port forward ("8080:80" or {hostPort, guestPort}), a MAC address
// (unicast, not all zeros, written back in lower case with colons) and the network cards
// `none`, `user` (forwards, mac) and `tap` (bridge, mac).

import { z } from 'zod';
import { formatMac, parseMac } from '../machine/virtio/net.js';
import { parsePortForward, type PortForward } from './net/portForward.js';
import { parseSize } from './size.js';

export const MIB = 1024 * 1024;
export const MIN_MEMORY = 16 * MIB;
export const MAX_MEMORY = 4096 * MIB;
/** The longest interface name Linux accepts (IFNAMSIZ - 1). */
export const MAX_IFNAME = 15;
/** Port forwards of one card at most. */
export const MAX_FORWARDS = 32;

/** The zod transform of a parser that throws: its message becomes the field's issue. */
function parsedBy<I, O>(parse: (v: I) => O) {
  return (v: I, ctx: z.RefinementCtx): O => {
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  };
}

/** A size in bytes, or a string such as '256M'. */
export const Size = z
  .union([z.number(), z.string()])
  .transform(parsedBy((v: number | string) => (typeof v === 'number' ? v : parseSize(v))));

/** A file's path: not empty, no NUL, at most 4096 bytes. */
export const Path = z
  .string()
  .min(1, 'a path is needed')
  .max(4096, 'a path has at most 4096 characters')
  .refine((p) => !p.includes('\0'), 'no NUL in a path');

/** A port forward as parsePortForward writes it ("8080:80", "ADDR/H:G/udp") or as its object. */
export const Forward = z
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
  .transform(
    parsedBy((v): PortForward => {
      const text =
        typeof v === 'string'
          ? v
          : `${v.hostAddress !== undefined ? `${v.hostAddress}/` : ''}${v.hostPort}:${v.guestPort}/${v.proto}`;
      return parsePortForward(text);
    }),
  );

/** A unicast MAC address other than 00:00:00:00:00:00, given back as aa:bb:cc:dd:ee:ff. */
export const Mac = z.string().transform(
  parsedBy((v: string) => {
    const mac = formatMac(parseMac(v));
    if (mac === '00:00:00:00:00:00') throw new Error('00:00:00:00:00:00 is not a usable address');
    return mac;
  }),
);

/** Whether Linux accepts `name` for a network interface (1-15 characters, no '/', ':' or blanks). */
export function isIfName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= MAX_IFNAME &&
    name !== '.' &&
    name !== '..' &&
    /^[A-Za-z0-9_.@+-]+$/.test(name)
  );
}

export const IfName = z
  .string()
  .refine(
    isIfName,
    `a Linux interface name: 1 to ${MAX_IFNAME} letters, digits and . _ - + @ (e.g. br0)`,
  );

/** No network card. */
export const NetNone = z.object({ kind: z.literal('none') }).strict();

/** User-mode networking (libslirp in the VMM): its port forwards and the card's MAC. */
export const NetUser = z
  .object({
    kind: z.literal('user'),
    forwards: z
      .array(Forward)
      .max(MAX_FORWARDS, `at most ${MAX_FORWARDS} port forwards`)
      .default([]),
    mac: Mac.optional(),
  })
  .strict();

/** A TAP device on the Linux bridge `bridge` (root), and the card's MAC. */
export const NetTap = z
  .object({ kind: z.literal('tap'), bridge: IfName, mac: Mac.optional() })
  .strict();
