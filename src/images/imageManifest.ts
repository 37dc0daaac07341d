// Reads DIR/image.json, the manifest `berth image build` writes beside the root disk and
// initramfs, and turns it into the files a VMM boots: `berth run --image DIR`. An image whose
// disk boots itself (boot "uboot") names U-Boot as its kernel and has no initramfs beside it.

import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ImageError } from './errors.js';

const ManifestSchema = z.object({
  format: z.literal(1),
  boot: z.enum(['direct', 'uboot']).default('direct'),
  rootfs: z.string().min(1),
  initrd: z.string().min(1).optional(),
  kernelPath: z.string().min(1),
  firmwarePath: z.string().min(1),
  cmdline: z.string(),
  /** The memory `berth run --image` gives the guest when --memory is not given, e.g. "1G". */
  memory: z
    .string()
    .regex(/^\d+[MG]$/)
    .optional(),
});

/** What a built image boots with: absolute paths and the kernel command line. */
export interface ImageBootFiles {
  /** 'uboot': kernelPath is U-Boot, which boots the kernel in the disk's /boot. */
  boot: 'direct' | 'uboot';
  rootfsPath: string;
  /** Absent when boot is 'uboot'. */
  initrdPath?: string;
  kernelPath: string;
  firmwarePath: string;
  cmdline: string;
  /** The image's default memory (e.g. "1G"), when it names one. */
  memory?: string;
}

/**
 * Reads DIR/image.json; throws ImageError naming the file and what is wrong
 * (missing, not JSON, a field missing, a file it names gone).
 */
export function readImageManifest(dir: string): ImageBootFiles {
  const path = join(dir, 'image.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ImageError(
      'NOT_AN_IMAGE',
      `${dir} is not a built image: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ` +
        `make one with: berth image build --out ${dir}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ImageError('NOT_AN_IMAGE', `${path} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ImageError(
      'NOT_AN_IMAGE',
      `${path} is not an image manifest of this Berth: ${issue.path.join('.') || 'top level'}: ${issue.message}`,
    );
  }
  const m = parsed.data;
  if (m.boot === 'direct' && m.initrd === undefined) {
    throw new ImageError(
      'NOT_AN_IMAGE',
      `${path} is not an image manifest of this Berth: initrd: Required (an image booted directly has one)`,
    );
  }
  const within = (p: string): string => (isAbsolute(p) ? p : resolve(dir, p));
  const files: ImageBootFiles = {
    boot: m.boot,
    rootfsPath: within(m.rootfs),
    initrdPath: m.initrd === undefined ? undefined : within(m.initrd),
    kernelPath: within(m.kernelPath),
    firmwarePath: within(m.firmwarePath),
    cmdline: m.cmdline,
    memory: m.memory,
  };
  for (const [what, p] of [
    ['root disk', files.rootfsPath],
    ['initramfs', files.initrdPath],
    [m.boot === 'uboot' ? 'boot loader (U-Boot)' : 'kernel', files.kernelPath],
    ['firmware', files.firmwarePath],
  ] as const) {
    if (p !== undefined && !existsSync(p)) {
      throw new ImageError(
        'NOT_AN_IMAGE',
        `the ${what} of the image in ${dir} is gone: ${p}; rebuild it with: berth image build --out ${dir}`,
      );
    }
  }
  return files;
}
