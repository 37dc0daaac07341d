// Live migration with the guest's storage (`berth migrate --copy-storage`, as libvirt's
// --copy-storage-all): the source daemon tells the destination each writable disk's size and
// format; the destination makes a new, sparse disk of each in its state folder (disks/), names
// them in the guest's spec instead of the source's paths, and its VMM takes them as the
// targets of the source VMM's mirror (src/vmm/migration/diskMirror.ts). Read-only disks are
// not copied: they must be at the same path on both hosts. If the migration fails, the
// destination deletes the disks it made (SupervisorBase.forget).

import { closeSync, existsSync, ftruncateSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { diskFormat, openDisk } from '../vmm/disk/openDisk.js';
import { createQcow2 } from '../vmm/disk/qcow2Create.js';
import { badRequest, conflict } from './errors.js';
import { GuestName, MAX_DISKS, type GuestSpec } from './guestSpec.js';

/** A writable disk as the destination makes its copy: null for a read-only (shared) one. */
export const CopiedDisks = z
  .array(
    z
      .object({
        size: z
          .number()
          .int()
          .positive()
          .multipleOf(512)
          .max(2 ** 50),
        format: z.enum(['raw', 'qcow2']),
      })
      .strict()
      .nullable(),
  )
  .max(MAX_DISKS);
export type CopiedDisk = NonNullable<z.output<typeof CopiedDisks>[number]>;

/** The source's side: each disk of `spec`, its size and format when writable (null when not). */
export function describeDisks(spec: GuestSpec): (CopiedDisk | null)[] {
  return spec.disks.map((d) => {
    if (d.readOnly) return null;
    const img = openDisk(d.path, true, false); // the running VMM holds its lock: only the size
    try {
      return { size: img.size, format: diskFormat(d.path) };
    } finally {
      img.close();
    }
  });
}

/**
 * The destination's side: makes a new disk in `dir` for each writable disk of the spec `input`
 * (as the source described them in `disks`) and returns the spec naming them, with the files
 * made. Throws HostError (400, 409), leaving no file behind, when the spec and the
 * description disagree, a read-only disk is missing here, or a file of that name exists.
 */
export function makeDiskCopies(
  dir: string,
  input: unknown,
  disks: (CopiedDisk | null)[],
): { input: Record<string, unknown>; files: string[] } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest('spec: a guest spec is a JSON object');
  }
  const spec = input as Record<string, unknown>;
  const name = GuestName.safeParse(spec.name);
  if (!name.success) throw badRequest(`name: ${name.error.issues[0].message}`);
  const given = Array.isArray(spec.disks) ? (spec.disks as unknown[]) : [];
  if (given.length !== disks.length) {
    throw badRequest(
      `copyStorage: the source describes ${disks.length} disks, the spec names ${given.length}`,
    );
  }
  const files: string[] = [];
  try {
    const out = given.map((raw, i) => {
      const d = raw as { path?: unknown; readOnly?: unknown };
      const want = disks[i];
      if (d.readOnly === true) {
        if (want !== null)
          throw badRequest(`copyStorage: disk ${i} is read-only: it is not copied`);
        if (typeof d.path !== 'string' || !existsSync(d.path)) {
          throw badRequest(
            `disks.${i}: the read-only disk ${String(d.path)} is not on this host: read-only ` +
              'disks are not copied, they must be at the same path on both hosts',
          );
        }
        return d;
      }
      if (want === null) throw badRequest(`copyStorage: writable disk ${i} has no size`);
      const path = join(dir, `${name.data}.${i}.${want.format === 'qcow2' ? 'qcow2' : 'img'}`);
      if (existsSync(path)) {
        throw conflict(
          `the disk ${path} exists already on this host: delete it or rename the guest`,
        );
      }
      if (want.format === 'qcow2') createQcow2(path, want.size);
      else {
        const fd = openSync(path, 'wx', 0o600);
        try {
          ftruncateSync(fd, want.size); // sparse: the stream writes what is not zero
        } finally {
          closeSync(fd);
        }
      }
      files.push(path);
      return { ...d, path };
    });
    return { input: { ...spec, disks: out }, files };
  } catch (e) {
    for (const f of files) rmSync(f, { force: true });
    throw e;
  }
}
