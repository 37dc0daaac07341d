// VM generation ID (`microsoft,vmgenid`, the device-tree form Linux binds since 6.10): a
// 128-bit identifier that changes whenever the machine starts again from a saved state (a
// restored snapshot, a clone), and an interrupt that says it changed. Linux's driver copies
// the 16 bytes at probe; on the interrupt it copies them again and, when they differ, reseeds
// its random number generator (add_vmfork_randomness) and may send a uevent with NEW_VMGENID=1
// (Debian's 6.12 was seen sending none: the VMM tells userspace with an input key instead).
//
//   const genId = new VmGenId(plic.line(IRQ.vmgenid), id16);
//   bus.map('vmgenid', VIRT.vmgenid.base, VIRT.vmgenid.size, genId);
//   genId.setId(newId16);   // after a restore: the new ID, and the interrupt
//
// Registers: bytes 0..15 hold the ID (byte i at offset i, read at any width); everything
// else reads 0 and writes are ignored. The PLIC's sources are level-triggered and the
// driver has no acknowledge register, so the line stays high from setId() until the guest
// reads the ID (its interrupt handler does), which is its acknowledgement.

import type { MmioDevice } from '../bus.js';
import { NO_IRQ, type IrqLine } from './irq.js';
import type { Persistent } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';
import { bytesToHex, hexToBytes } from '../state/hex.js';

/** Bytes of the generation ID. */
export const VMGENID_BYTES = 16;

export interface VmGenIdState {
  /** The generation ID, 32 lowercase hex digits (byte 0 first). */
  id: string;
  /** A new ID was set and the guest has not read it yet: the interrupt line is high. */
  notifying: boolean;
}

export class VmGenId implements MmioDevice, Persistent<VmGenIdState> {
  readonly stateId = 'vmgenid';
  readonly stateVersion = 1;
  private readonly bytes = new Uint8Array(VMGENID_BYTES);
  private notifying = false;

  /**
   * @param irq the interrupt line (PLIC source IRQ.vmgenid)
   * @param id the first generation ID (16 bytes; zeros when absent)
   */
  constructor(
    private readonly irq: IrqLine = NO_IRQ,
    id?: Uint8Array,
  ) {
    if (id !== undefined) this.bytes.set(VmGenId.check(id));
  }

  private static check(id: Uint8Array): Uint8Array {
    if (id.length !== VMGENID_BYTES) {
      throw new RangeError(`a generation ID has ${VMGENID_BYTES} bytes, got ${id.length}`);
    }
    return id;
  }

  /** A copy of the current generation ID. */
  get id(): Uint8Array {
    return this.bytes.slice();
  }

  /** True while the guest has not read a new ID yet (the interrupt line is high). */
  get pending(): boolean {
    return this.notifying;
  }

  /** Sets a new generation ID and raises the interrupt until the guest reads it. */
  setId(id: Uint8Array): void {
    this.bytes.set(VmGenId.check(id));
    this.notifying = true;
    this.irq.set(true);
  }

  read(offset: number, size: number): number {
    if (offset < 0 || offset + size > VMGENID_BYTES) return 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.bytes[offset + i];
    if (this.notifying) {
      this.notifying = false;
      this.irq.set(false);
    }
    return v;
  }

  write(_offset: number, _size: number, _value: number): void {}

  saveState(): VmGenIdState {
    return { id: bytesToHex(this.bytes), notifying: this.notifying };
  }

  checkState(data: unknown): VmGenIdState {
    return StateReader.read(data, (r) => ({
      id: r.hexBytes('id', VMGENID_BYTES, VMGENID_BYTES),
      notifying: r.bool('notifying'),
    }));
  }

  loadState(s: VmGenIdState): void {
    this.bytes.set(hexToBytes(s.id));
    this.notifying = s.notifying;
    this.irq.set(s.notifying);
  }
}
