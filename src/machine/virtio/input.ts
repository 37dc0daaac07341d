// virtio-input (virtio 1.2 section 5.8, device ID 18) as a power button: a
// keyboard with KEY_POWER, the way a guest without ACPI (Linux on the RISC-V
// virt board) is asked to shut down cleanly, and two keys that tell the guest
// it was restored from a snapshot (a new VM generation): GENERATION_KEY, and
// GENERATION_MAC_KEY when its network card also has another MAC than the
// snapshot's. Linux's input core drops the events of keys a device does not
// advertise, and the console's keyboard handler ignores codes past 255, so
// these reach only readers of the evdev node (Berth's images run acpid). The configuration
// space answers the driver's select/subsel questions (name, serial, device
// IDs, property and event-type bitmaps); eventq carries 8-byte
// virtio_input_event records {le16 type, le16 code, le32 value} to the
// driver; statusq (LEDs and the like from the driver) is consumed and ignored.
//
// A press queues EV_KEY code 1, EV_SYN, EV_KEY code 0, EV_SYN; they
// go out as soon as the driver has eventq buffers, and wait (bounded, across
// driver resets) while it has none. An eventq chain that is not one writable
// buffer of at least 8 bytes, or a statusq chain that is not readable, is a
// driver bug: NEEDS_RESET through the transport, nothing thrown to the host.
//
//   const input = new VirtioInput();
//   const t = new VirtioMmio(ram, input, irq, log, 'virtio slot 3');
//   input.attach(t); // lets a press reach a driver that is waiting
//   input.pressPowerButton();

import { VirtioError, type VirtioDevice, type VirtioQueueHost } from './device.js';
import { Virtqueue } from './virtqueue.js';
import { asArray, asInt, StateReader } from '../state/stateReader.js';

export const VIRTIO_ID_INPUT = 18;
export const INPUT_EVENTQ = 0;
export const INPUT_STATUSQ = 1;

/** The select values of virtio_input_config. */
export const INPUT_CFG = {
  unset: 0x00,
  idName: 0x01,
  idSerial: 0x02,
  idDevids: 0x03,
  propBits: 0x10,
  evBits: 0x11,
  absInfo: 0x12,
} as const;

/** Linux input event types and codes used here (include/uapi/linux/input-event-codes.h). */
export const EV_SYN = 0x00;
export const EV_KEY = 0x01;
export const SYN_REPORT = 0;
export const KEY_POWER = 116;
/** KEY_MACRO1 and KEY_MACRO2: keys no keyboard of this board sends, used for the restore news. */
export const KEY_MACRO1 = 0x290;
export const KEY_MACRO2 = 0x291;
/** Pressed after a restore: the machine is a new generation (clock from the RTC). */
export const GENERATION_KEY = KEY_MACRO1;
/** Pressed instead after a restore with another MAC than the snapshot's (probe the card again). */
export const GENERATION_MAC_KEY = KEY_MACRO2;
/** The keys the device has. */
export const INPUT_KEYS: readonly number[] = [KEY_POWER, GENERATION_KEY, GENERATION_MAC_KEY];
/** BUS_VIRTUAL in Linux's input.h. */
export const BUS_VIRTUAL = 0x06;

/** Size of struct virtio_input_event. */
export const INPUT_EVENT_SIZE = 8;
/** Offset of the union u in virtio_input_config, and its size. */
const CFG_U = 8;
const CFG_U_SIZE = 128;
const QUEUE_MAX = 64;

export interface InputEvent {
  type: number;
  code: number;
  value: number;
}

export interface VirtioInputConfig {
  /** ID_NAME (default "Berth power button"). */
  name?: string;
  /** ID_SERIAL (default "berth-power-0"). */
  serial?: string;
  /** Events held while the driver has no buffers (default 64: 16 presses). */
  holdEvents?: number;
}

export interface VirtioInputCounters {
  /** Events written to the driver's buffers. */
  delivered: number;
  /** Presses dropped because the held events were at their bound. */
  droppedPresses: number;
  /** Status buffers the driver sent (and the device ignored). */
  statusIgnored: number;
}

export interface VirtioInputState {
  select: number;
  subsel: number;
  /** Events waiting for eventq buffers: [type, code, value]. */
  held: [number, number, number][];
}

/** What the device needs from its transport (VirtioMmio) to deliver between notifications. */
export interface InputTransport {
  /** Processes a queue as if the driver had notified it (no-op until the driver is ready). */
  poll(index: number): void;
}

/** Error in how the device was configured (not guest input). */
export class VirtioInputError extends Error {}

function utf8(s: string, what: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.length > CFG_U_SIZE) {
    throw new VirtioInputError(`the ${what} "${s}" is longer than ${CFG_U_SIZE} bytes`);
  }
  return b;
}

/** A bitmap with the given bits set, as short as it can be. */
function bitmap(bits: number[]): Uint8Array {
  const b = new Uint8Array(Math.floor(Math.max(...bits) / 8) + 1);
  for (const bit of bits) b[bit >> 3] |= 1 << (bit & 7);
  return b;
}

export class VirtioInput implements VirtioDevice<VirtioInputState> {
  readonly deviceId = VIRTIO_ID_INPUT;
  readonly name = 'virtio-input';
  readonly stateId = 'virtio-input';
  readonly stateVersion = 1;
  readonly features = 0n;
  readonly numQueues = 2;
  readonly queueMax = QUEUE_MAX;
  counters: VirtioInputCounters = { delivered: 0, droppedPresses: 0, statusIgnored: 0 };
  private readonly idName: Uint8Array;
  private readonly idSerial: Uint8Array;
  private readonly holdEvents: number;
  private select = 0;
  private subsel = 0;
  private held: InputEvent[] = [];
  private transport: InputTransport | null = null;

  constructor(cfg: VirtioInputConfig = {}) {
    this.idName = utf8(cfg.name ?? 'Berth power button', 'name');
    this.idSerial = utf8(cfg.serial ?? 'berth-power-0', 'serial');
    this.holdEvents = cfg.holdEvents ?? 64;
    if (!Number.isInteger(this.holdEvents) || this.holdEvents < 4) {
      throw new VirtioInputError(
        `holdEvents must be an integer of at least 4, got ${cfg.holdEvents}`,
      );
    }
  }

  /** Hands the device its transport, so a press reaches a driver that already gave buffers. */
  attach(transport: InputTransport): void {
    this.transport = transport;
  }

  /** Events waiting for eventq buffers. */
  get pending(): number {
    return this.held.length;
  }

  /**
   * Presses and releases the power key: four events, delivered now if the
   * driver has buffers, else held. False when the held events are at their
   * bound (the press is dropped and counted).
   */
  pressPowerButton(): boolean {
    return this.pressKey(KEY_POWER);
  }

  /** Presses and releases `code`, one of INPUT_KEYS, like pressPowerButton. */
  pressKey(code: number): boolean {
    if (!INPUT_KEYS.includes(code)) {
      throw new VirtioInputError(
        `key ${code} is not one of the device's (${INPUT_KEYS.join(', ')})`,
      );
    }
    const press: InputEvent[] = [
      { type: EV_KEY, code, value: 1 },
      { type: EV_SYN, code: SYN_REPORT, value: 0 },
      { type: EV_KEY, code, value: 0 },
      { type: EV_SYN, code: SYN_REPORT, value: 0 },
    ];
    if (this.held.length + press.length > this.holdEvents) {
      this.counters.droppedPresses++;
      return false;
    }
    this.held.push(...press);
    this.transport?.poll(INPUT_EVENTQ);
    return true;
  }

  /** The payload for the current select/subsel, or null (size 0) when there is none. */
  private payload(): Uint8Array | null {
    switch (this.select) {
      case INPUT_CFG.idName:
        return this.subsel === 0 ? this.idName : null;
      case INPUT_CFG.idSerial:
        return this.subsel === 0 ? this.idSerial : null;
      case INPUT_CFG.idDevids: {
        if (this.subsel !== 0) return null;
        const ids = new Uint8Array(8);
        const v = new DataView(ids.buffer);
        v.setUint16(0, BUS_VIRTUAL, true);
        v.setUint16(2, 0x4272, true); // vendor "Br"
        v.setUint16(4, 0x0001, true); // product: the power button
        v.setUint16(6, 0x0001, true); // version
        return ids;
      }
      case INPUT_CFG.evBits:
        if (this.subsel === EV_SYN) return bitmap([SYN_REPORT]);
        if (this.subsel === EV_KEY) return bitmap([...INPUT_KEYS]);
        return null;
      default:
        // UNSET, PROP_BITS (no properties), ABS_INFO (no axes), anything unknown
        return null;
    }
  }

  configRead(offset: number, size: number): number {
    const p = this.payload();
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const o = offset + i;
      let b = 0;
      if (o === 0) b = this.select;
      else if (o === 1) b = this.subsel;
      else if (o === 2) b = p ? p.length : 0;
      else if (p && o >= CFG_U && o < CFG_U + p.length) b = p[o - CFG_U];
      v = v * 256 + b;
    }
    return v >>> 0;
  }

  configWrite(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const b = Math.floor(value / 256 ** i) & 0xff;
      if (offset + i === 0) this.select = b;
      else if (offset + i === 1) this.subsel = b;
      // size, reserved and u are read-only for the driver
    }
  }

  onNotify(index: number, queue: Virtqueue, host: VirtioQueueHost): void {
    if (index === INPUT_EVENTQ) {
      while (this.held.length > 0) {
        const chain = queue.pop();
        if (chain === null) break;
        if (chain.readable.length > 0 || chain.writableBytes < INPUT_EVENT_SIZE) {
          throw new VirtioError(
            `eventq chain ${chain.head} is not a device-writable buffer of ${INPUT_EVENT_SIZE} bytes ` +
              `(${chain.readableBytes} readable, ${chain.writableBytes} writable)`,
          );
        }
        const e = this.held.shift()!;
        const rec = new Uint8Array(INPUT_EVENT_SIZE);
        const v = new DataView(rec.buffer);
        v.setUint16(0, e.type, true);
        v.setUint16(2, e.code, true);
        v.setInt32(4, e.value, true);
        Virtqueue.scatter(host.ram, chain.writable, 0, rec);
        queue.push(chain.head, INPUT_EVENT_SIZE);
        this.counters.delivered++;
      }
    } else if (index === INPUT_STATUSQ) {
      for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
        if (chain.writable.length > 0 || chain.readableBytes < INPUT_EVENT_SIZE) {
          throw new VirtioError(
            `statusq chain ${chain.head} is not a device-readable event of ${INPUT_EVENT_SIZE} bytes ` +
              `(${chain.readableBytes} readable, ${chain.writableBytes} writable)`,
          );
        }
        queue.push(chain.head, 0);
        this.counters.statusIgnored++;
      }
    }
    host.usedBuffers(index);
  }

  /** The driver reset the device: the select registers clear; held presses stay for the next driver. */
  reset(): void {
    this.select = 0;
    this.subsel = 0;
  }

  saveState(): VirtioInputState {
    return {
      select: this.select,
      subsel: this.subsel,
      held: this.held.map((e) => [e.type, e.code, e.value]),
    };
  }

  checkState(data: unknown): VirtioInputState {
    return StateReader.read(data, (r) => ({
      select: r.int('select', 0, 0xff),
      subsel: r.int('subsel', 0, 0xff),
      held: r.list('held', 0, this.holdEvents, (e, p): [number, number, number] => {
        const v = asArray(e, p, 3, 3);
        return [
          asInt(v[0], `${p}[0]`, 0, 0xffff),
          asInt(v[1], `${p}[1]`, 0, 0xffff),
          asInt(v[2], `${p}[2]`, -0x80000000, 0x7fffffff),
        ];
      }),
    }));
  }

  loadState(s: VirtioInputState): void {
    this.select = s.select;
    this.subsel = s.subsel;
    this.held = s.held.map(([type, code, value]) => ({ type, code, value }));
  }
}
