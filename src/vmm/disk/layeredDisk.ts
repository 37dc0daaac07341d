// A VMM's disk as the guest's virtio-blk device holds it, whose image can change under it
// while the guest is paused: a snapshot freezes the image the guest wrote so far and moves the
// guest's writes to a new qcow2 overlay backed by it (an external snapshot, as QEMU's
// blockdev-snapshot-sync and libvirt's --disk-only snapshots make). The frozen image stays
// open read-only through the overlay's backing chain; its write lock becomes a shared one.
//
//   const d = LayeredDisk.open('/x/disk.img', false);
//   d.freezeInto('/state/layer-1.qcow2');   // /x/disk.img is now read-only, the backing file
//   d.path;                                  // '/state/layer-1.qcow2'

import { existsSync, rmSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { BlockBackendError } from '../../machine/virtio/blockBackend.js';
import type { DirtyChunks } from '../migration/dirtyChunks.js';
import { openDisk, type DiskBackend } from './openDisk.js';
import { Qcow2Image } from './qcow2.js';
import { createQcow2 } from './qcow2Create.js';

export class LayeredDisk implements DiskBackend {
  /** While a mirroring migration runs: the chunks written since they were sent (diskMirror.ts). */
  tracker: DirtyChunks | null = null;

  private constructor(
    private image: DiskBackend,
    /** The file the guest's writes go to now (absolute). */
    public path: string,
  ) {}

  /** Opens `path` with its disk lock, as openDisk does. */
  static open(path: string, readOnly: boolean): LayeredDisk {
    return new LayeredDisk(openDisk(path, readOnly), resolve(path));
  }

  /**
   * A disk another VMM holds for now (an incoming migration): its size is read without a lock,
   * and it is opened, locked, only by reacquire() at the switch.
   */
  static deferred(path: string, readOnly: boolean): LayeredDisk {
    const probe = openDisk(path, readOnly, false);
    const { size } = probe;
    probe.close();
    return new LayeredDisk(new ReleasedImage(size, readOnly, resolve(path)), resolve(path));
  }

  /** Flushes and closes the image, giving up its lock, until reacquire() (migration's switch). */
  release(): void {
    if (this.image instanceof ReleasedImage) return;
    this.image.flush();
    const { size, readOnly } = this.image;
    this.image.close();
    this.image = new ReleasedImage(size, readOnly, this.path);
  }

  /** Opens and locks the image again; throws (DiskLockError) while another VMM holds it. */
  reacquire(): void {
    if (!(this.image instanceof ReleasedImage)) return;
    const img = openDisk(this.path, this.image.readOnly);
    if (img.size !== this.image.size) {
      img.close();
      throw new BlockBackendError(
        `disk ${this.path} now holds ${img.size} bytes, not ${this.image.size}`,
      );
    }
    this.image = img;
  }

  get size(): number {
    return this.image.size;
  }
  get readOnly(): boolean {
    return this.image.readOnly;
  }
  read(offset: number, dest: Uint8Array): void {
    this.image.read(offset, dest);
  }
  write(offset: number, data: Uint8Array): void {
    this.image.write(offset, data);
    this.tracker?.mark(offset, data.length);
  }
  flush(): void {
    this.image.flush();
  }
  discard(offset: number, length: number): void {
    this.image.discard?.(offset, length);
    this.tracker?.mark(offset, length);
  }
  writeZeroes(offset: number, length: number): void {
    if (this.image.writeZeroes) this.image.writeZeroes(offset, length);
    else this.image.write(offset, new Uint8Array(length));
    this.tracker?.mark(offset, length);
  }
  close(): void {
    this.image.close();
  }

  /**
   * Freezes the current image: flushes it, and moves the guest's writes to `overlay` (absolute),
   * a qcow2 image backed by it. `overlay` is made here unless it exists already as an empty
   * overlay of the current image (one the daemon made for the VMM's user). Returns the frozen
   * file. On failure the disk goes on as before (the current image reopened read-write).
   */
  freezeInto(overlay: string): string {
    if (this.readOnly)
      throw new BlockBackendError(`disk ${this.path} is read-only: nothing to freeze`);
    const frozen = this.path;
    overlay = resolve(overlay);
    if (overlay === frozen)
      throw new BlockBackendError(`the overlay ${overlay} is the disk itself`);
    this.image.flush();
    const made = !existsSync(overlay);
    if (made) createQcow2(overlay, undefined, { backingFile: frozen });
    else checkOverlay(overlay, frozen, this.size);
    // Our own write lock on the frozen image would refuse the overlay's shared one: let go first.
    this.image.close();
    try {
      this.image = openDisk(overlay, false);
    } catch (e) {
      this.image = openDisk(frozen, false);
      throw e;
    }
    this.path = overlay;
    return frozen;
  }

  /**
   * Undoes freezeInto while nothing was written since (a snapshot that failed on another
   * disk): the guest writes to `frozen` again; the overlay is closed, left for the caller.
   */
  thaw(frozen: string): void {
    this.image.close();
    this.image = openDisk(frozen, false);
    this.path = frozen;
  }
}

/** An existing overlay must be a qcow2 image backed by `frozen`, of its size. */
function checkOverlay(overlay: string, frozen: string, size: number): void {
  const img = Qcow2Image.open(overlay, { readOnly: true });
  try {
    if (img.size !== size) {
      throw new BlockBackendError(
        `the overlay ${overlay} holds ${img.size} bytes, the disk ${size}`,
      );
    }
    const backing =
      img.backingFile === undefined ? undefined : resolve(overlay, '..', img.backingFile);
    if (backing !== frozen) {
      throw new BlockBackendError(
        `the overlay ${overlay} is backed by ${backing ?? 'nothing'}, not by the disk ${frozen}`,
      );
    }
  } finally {
    img.close();
  }
}

/** Checks a snapshot's overlays against the disks: one absolute path per writable disk, null per read-only one. */
export function checkOverlays(disks: LayeredDisk[], overlays: (string | null)[]): void {
  if (overlays.length !== disks.length) {
    throw new Error(
      `snapshot: overlays name ${overlays.length} disks, the guest has ${disks.length}`,
    );
  }
  overlays.forEach((o, i) => {
    const d = disks[i];
    if (o === null ? !d.readOnly : d.readOnly || !isAbsolute(o)) {
      throw new Error(
        `snapshot: overlays[${i}] must be ${d.readOnly ? 'null (the disk is read-only)' : 'the absolute path of a new image'}`,
      );
    }
  });
}

/**
 * Freezes each disk into its overlay (null: left as it is), all or none: when one fails, the
 * ones done are thawed and the overlays made here removed. Returns the frozen files.
 */
export function freezeAll(disks: LayeredDisk[], overlays: (string | null)[]): (string | null)[] {
  const existed = overlays.map((o) => o !== null && existsSync(o));
  const frozen: (string | null)[] = [];
  try {
    for (const [i, o] of overlays.entries())
      frozen.push(o === null ? null : disks[i].freezeInto(o));
    return frozen;
  } catch (e) {
    for (const [i, f] of frozen.entries()) {
      if (f === null) continue;
      disks[i].thaw(f);
      if (!existed[i]) rmSync(overlays[i]!, { force: true });
    }
    const failed = frozen.length;
    if (!existed[failed]) rmSync(overlays[failed]!, { force: true });
    throw new Error(`snapshot: disk ${failed} cannot be frozen: ${(e as Error).message}`);
  }
}

/** The image of a released disk: its geometry only; any I/O is an error. */
class ReleasedImage implements DiskBackend {
  constructor(
    readonly size: number,
    readonly readOnly: boolean,
    private readonly path: string,
  ) {}
  private gone(): never {
    throw new BlockBackendError(`disk ${this.path} is released (migration): no I/O`);
  }
  read(): void {
    this.gone();
  }
  write(): void {
    this.gone();
  }
  flush(): void {}
  close(): void {}
}
