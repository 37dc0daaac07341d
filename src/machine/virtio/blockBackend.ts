// The host side of a virtual disk as the machine layer sees it. The VMM
// implements it over raw files or qcow2 images; tests use memory. Calls are
// synchronous: the device model runs inside the guest's slice.

export class BlockBackendError extends Error {}

export interface BlockBackend {
  /** Capacity in bytes (a multiple of 512). */
  readonly size: number;
  readonly readOnly: boolean;
  /** Fills `dest` with the bytes at `offset`; reads past the end are an error. */
  read(offset: number, dest: Uint8Array): void;
  /** Writes `data` at `offset`; throws BlockBackendError on a read-only disk or past the end. */
  write(offset: number, data: Uint8Array): void;
  /** Makes every completed write durable (fsync for files). */
  flush(): void;
  /** Deallocates a range (reads then return zeros); optional. */
  discard?(offset: number, length: number): void;
  /** Writes zeros over a range, deallocating where the format allows; optional. */
  writeZeroes?(offset: number, length: number): void;
}

/** A disk held in memory (tests, scratch disks). */
export class MemoryBlockBackend implements BlockBackend {
  readonly size: number;
  readonly data: Uint8Array;
  constructor(
    size: number,
    readonly readOnly = false,
  ) {
    if (!Number.isInteger(size) || size <= 0 || size % 512 !== 0) {
      throw new BlockBackendError(
        `disk size must be a positive multiple of 512 bytes, got ${size}`,
      );
    }
    this.size = size;
    this.data = new Uint8Array(size);
  }
  private check(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.size) {
      throw new BlockBackendError(
        `access of ${length} bytes at ${offset} is outside the ${this.size}-byte disk`,
      );
    }
  }
  read(offset: number, dest: Uint8Array): void {
    this.check(offset, dest.length);
    dest.set(this.data.subarray(offset, offset + dest.length));
  }
  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockBackendError('the disk is read-only');
    this.check(offset, data.length);
    this.data.set(data, offset);
  }
  flush(): void {}
  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }
  writeZeroes(offset: number, length: number): void {
    if (this.readOnly) throw new BlockBackendError('the disk is read-only');
    this.check(offset, length);
    this.data.fill(0, offset, offset + length);
  }
}
