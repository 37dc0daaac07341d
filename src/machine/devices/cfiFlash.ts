// One CFI flash bank of the virt board (QEMU's pflash0 at 0x20000000, pflash1 at 0x22000000):
// the Intel/Sharp command set of QEMU 7.2's cfi.pflash01 as the virt board builds it, a
// 32-bit bank of two 16-bit chips side by side, 256 KiB sectors (128 KiB of each chip),
// manufacturer 0x89 (Intel), device 0x18. What it holds is a FlashStore (flashStore.ts); on
// a read-only image, programs and erases fail with the status register's error bits, as QEMU's.
// test/baremetal/flash.test.ts compares every command below with QEMU's.
//
//   const bank = new CfiFlash(new FlashStore(32 << 20, 256 << 10));
//   bus.map('flash0', 0x20000000, 32 << 20, bank);
//
// Reads answer by mode: the array (the store), the status register, the device IDs or the
// CFI query table; the chips answer alike, so IDs, table bytes and status come in both 16-bit
// lanes of a word. Writes are commands (their low byte), except the data cycles:
//   0xff, 0xf0, 0x00 read array            0x50 clear status, then read array
//   0x70 read status                       0x90 read IDs (word 0: 0x89, word 1: 0x18)
//   0x98 query (only 0xff leaves it)        0x10, 0x40 program: the next write is stored
//   0x20 block erase: the sector reads 0xff at once; 0xd0 confirms
//   0xe8 buffered write: a count N (per chip, N + 1 writes), the writes, 0xd0
//   0x60 lock setup: 0x01 or 0xd0 (nothing is ever locked)
//   anything else: read array
// After program, erase, buffered write and lock, reads give the status until read-array
// (as on real chips and QEMU). As on QEMU, writes store values as they are (no AND with
// what was there), the count of a buffered write is not checked against the buffer, and a
// narrow read in the ID, query or status mode gives the low bytes of the word's answer.

import type { MmioDevice } from '../bus.js';
import { FlashStore, type SavedSector } from './flashStore.js';
import { StateError, type Persistent } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';

/** Status register: the write state machine is ready; an erase or a program failed. */
const STATUS_READY = 0x80;
const STATUS_ERASE_ERROR = 0x20;
const STATUS_PROGRAM_ERROR = 0x10;
const MANUFACTURER = 0x89;
const DEVICE = 0x18;
/** A chip's share of a sector, and its size (16 MiB: half a bank). */
const CHIPS = 2;

/** Read modes: what a read returns, by the command that set it. */
const READ_ARRAY = 0x00;
const READ_STATUS_COMMANDS = new Set([0x10, 0x20, 0x28, 0x40, 0x50, 0x60, 0x70, 0xe8]);

export interface CfiFlashState {
  /** The command in progress (0: read array). */
  cmd: number;
  /** The write cycle within it (0: a new command is expected). */
  cycle: number;
  status: number;
  /** Buffered write: data writes left, less one. */
  counter: number;
  /** The bank sits on an image, which holds its contents (then `sectors` is empty). */
  backed: boolean;
  sectors: SavedSector[];
}

/** The CFI query table of one chip (its bytes 0x00..0x51), for a bank of `store`'s geometry. */
function queryTable(store: FlashStore): Uint8Array {
  const t = new Uint8Array(0x52);
  const blocks = store.size / store.sectorSize;
  const chipSector = store.sectorSize / CHIPS;
  t.set([0x51, 0x52, 0x59], 0x10); // "QRY"
  t.set([0x01, 0x00, 0x31, 0x00], 0x13); // Intel command set, its extended table at 0x31
  t.set([0x45, 0x55, 0x00, 0x00, 0x07, 0x07, 0x0a, 0x00, 0x04, 0x04, 0x04, 0x00], 0x1b); // volts, times
  t[0x27] = Math.log2(blocks * chipSector); // 2^n bytes a chip
  t.set([0x02, 0x00], 0x28); // x8/x16 interface
  t.set([0x0b, 0x00], 0x2a); // 2 KiB write buffer a chip
  t[0x2c] = 1; // one erase block region
  t.set([(blocks - 1) & 0xff, (blocks - 1) >> 8, (chipSector >> 8) & 0xff, chipSector >> 16], 0x2d);
  t.set([0x50, 0x52, 0x49, 0x31, 0x30], 0x31); // "PRI" 1.0
  t[0x3f] = 1; // protection fields
  return t;
}

export class CfiFlash implements MmioDevice, Persistent<CfiFlashState> {
  readonly stateId = 'cfi-flash';
  readonly stateVersion = 1;
  readonly store: FlashStore;
  private readonly table: Uint8Array;
  private cmd = READ_ARRAY;
  private cycle = 0;
  private status = STATUS_READY;
  private counter = 0;

  constructor(store: FlashStore) {
    this.store = store;
    this.table = queryTable(store);
  }

  read(offset: number, size: number): number {
    const mask = size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    if (this.cmd === READ_ARRAY) return this.store.read(offset, size);
    if (READ_STATUS_COMMANDS.has(this.cmd)) {
      return (size > 2 ? this.status * 0x10001 : this.status) >>> 0;
    }
    const word = offset >>> 2;
    let lane = 0;
    if (this.cmd === 0x90) {
      if ((word & 0xff) > 1) return 0;
      lane = (word & 0xff) === 0 ? MANUFACTURER : DEVICE;
    } else if (word < this.table.length) {
      lane = this.table[word]; // 0x98, query
    }
    return ((lane * 0x10001) & mask) >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    const cmd = value & 0xff;
    if (this.cycle === 0) {
      this.command(offset, cmd);
      return;
    }
    switch (this.cmd) {
      case 0x10:
      case 0x40: // program: the data
        if (!this.store.write(offset, size, value)) this.status |= STATUS_PROGRAM_ERROR;
        this.status |= STATUS_READY;
        this.cycle = 0;
        return;
      case 0x20: // erase: confirm
      case 0x60: // lock setup: lock or unlock
        if (cmd === 0xd0 || (this.cmd === 0x60 && cmd === 0x01)) {
          this.cycle = 0;
          this.status |= STATUS_READY;
        } else {
          this.readArray();
        }
        return;
      case 0x98: // query mode: only read-array leaves it
        if (cmd === 0xff) this.readArray();
        return;
      case 0xe8:
        this.bufferedWrite(offset, size, value);
        return;
      default:
        this.readArray();
    }
  }

  /** A write in cycle 0: a new command. */
  private command(offset: number, cmd: number): void {
    switch (cmd) {
      case 0x70:
      case 0x90:
        this.cmd = cmd;
        return;
      case 0x50:
        this.status = 0;
        this.readArray();
        return;
      case 0x20:
        if (!this.store.fillSector(Math.floor(offset / this.store.sectorSize), 0xff)) {
          this.status |= STATUS_ERASE_ERROR;
        }
        this.status |= STATUS_READY;
        break;
      case 0xe8:
        this.status |= STATUS_READY;
        break;
      case 0x10:
      case 0x40:
      case 0x60:
      case 0x98:
        break;
      default: // 0xff, 0xf0, 0x00 and what the chips do not know
        this.readArray();
        return;
    }
    this.cmd = cmd;
    this.cycle = 1;
  }

  /** Cycles 1..3 of a buffered write: the count, the data, the confirmation. */
  private bufferedWrite(offset: number, size: number, value: number): void {
    if (this.cycle === 1) {
      this.counter = value & 0xffff; // a chip's width
      this.cycle = 2;
    } else if (this.cycle === 2) {
      if (!this.store.write(offset, size, value)) this.status |= STATUS_PROGRAM_ERROR;
      this.status |= STATUS_READY;
      if (this.counter === 0) this.cycle = 3;
      this.counter = (this.counter - 1) & 0xffff;
    } else if ((value & 0xff) === 0xd0) {
      this.cycle = 0;
      this.status |= STATUS_READY;
    } else {
      this.readArray();
    }
  }

  private readArray(): void {
    this.cmd = READ_ARRAY;
    this.cycle = 0;
  }

  saveState(): CfiFlashState {
    return {
      cmd: this.cmd,
      cycle: this.cycle,
      status: this.status,
      counter: this.counter,
      backed: this.store.backing !== null,
      sectors: this.store.save(),
    };
  }

  checkState(data: unknown): CfiFlashState {
    return StateReader.read(data, (r) => {
      const cmd = r.int('cmd', 0, 0xff);
      if (cmd !== READ_ARRAY && cmd !== 0x90 && cmd !== 0x98 && !READ_STATUS_COMMANDS.has(cmd)) {
        throw new StateError(`cmd 0x${cmd.toString(16)} is not a command this flash keeps`);
      }
      const cycle = r.int('cycle', 0, 3);
      const cycles = cmd === 0xe8 ? 3 : [0x10, 0x20, 0x40, 0x60, 0x98].includes(cmd) ? 1 : 0;
      if (cycle > cycles) {
        throw new StateError(`cycle ${cycle} is past the last of command 0x${cmd.toString(16)}`);
      }
      const backed = r.bool('backed');
      const here = this.store.backing !== null;
      if (backed !== here) {
        throw new StateError(
          backed
            ? 'backed: the bank sat on a flash image when the state was saved; give that image again'
            : 'backed: the bank held its contents in the state, but here it sits on a flash image; leave the image out',
        );
      }
      const sectors = this.store.check(r.raw('sectors'), r.at('sectors'));
      if (backed && sectors.length > 0) {
        throw new StateError('sectors: a bank on a flash image has its contents in the image');
      }
      return {
        cmd,
        cycle,
        status: r.int('status', 0, 0xff),
        counter: r.int('counter', 0, 0xffff),
        backed,
        sectors,
      };
    });
  }

  loadState(s: CfiFlashState): void {
    this.cmd = s.cmd;
    this.cycle = s.cycle;
    this.status = s.status;
    this.counter = s.counter;
    this.store.load(s.sectors);
  }
}
