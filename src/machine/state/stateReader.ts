// Validation of saved state, without dependencies: each check names the field
// (as a path such as "queues[1].desc") and says what it must be. StateReader
// walks one object: every field is read exactly once through a typed getter,
// and end() refuses fields nobody read, so a state has exactly the shape its
// part writes.
//
//   const r = StateReader.of(data, '');
//   const state = { ier: r.int('ier', 0, 0x0f), rx: r.bytes('rx', 0, 16), fifo: r.bool('fifo') };
//   r.end();

import { StateError } from './stateError.js';
import { isU64, u64ToBigInt, type U64 } from './u64.js';

const MAX_U64 = (1n << 64n) - 1n;

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'bigint') return `${v}n`;
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? s.slice(0, 37) + '...' : s;
}

function fail(path: string, what: string, v: unknown): never {
  throw new StateError(`${path || 'state'} must be ${what}, got ${show(v)}`);
}

export function asInt(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(path, `an integer from ${min} to ${max}`, v);
  }
  return v;
}

export function asBool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'true or false', v);
  return v;
}

/** A U64 no larger than `max`. */
export function asU64(v: unknown, path: string, max: bigint = MAX_U64): U64 {
  if (!isU64(v)) fail(path, 'a 64-bit value of 16 lowercase hex digits', v);
  if (max < MAX_U64 && u64ToBigInt(v) > max) fail(path, `at most 0x${max.toString(16)}`, v);
  return v;
}

export function asArray(v: unknown, path: string, min: number, max: number): unknown[] {
  if (!Array.isArray(v)) fail(path, 'a list', v);
  if (v.length < min || v.length > max) {
    fail(
      path,
      min === max ? `a list of ${min}` : `a list of ${min} to ${max}`,
      `${v.length} items`,
    );
  }
  return v;
}

export function asString(v: unknown, path: string, maxLength: number): string {
  if (typeof v !== 'string' || v.length > maxLength) {
    fail(path, `a string of at most ${maxLength} characters`, v);
  }
  return v;
}

/** Bytes saved as lowercase hex: `min` to `max` bytes. */
export function asHexBytes(v: unknown, path: string, min: number, max: number): string {
  if (typeof v !== 'string' || v.length % 2 !== 0 || !/^[0-9a-f]*$/.test(v)) {
    fail(path, 'bytes as lowercase hex digits', v);
  }
  if (v.length / 2 < min || v.length / 2 > max) fail(path, `${min} to ${max} bytes`, v);
  return v;
}

/** Checks the state of a part that keeps none: an empty object. */
export function checkEmpty(data: unknown): Record<string, never> {
  return StateReader.read(data, () => ({}));
}

export class StateReader {
  private readonly seen = new Set<string>();

  private constructor(
    private readonly obj: Record<string, unknown>,
    readonly path: string,
  ) {}

  /** A reader of `v`, which must be a plain object; `path` names it in messages. */
  static of(v: unknown, path: string): StateReader {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(path, 'an object', v);
    return new StateReader(v as Record<string, unknown>, path);
  }

  /** The path of field `key`. */
  at(key: string | number): string {
    return join(this.path, key);
  }

  /** The raw value of field `key` (marked as read). */
  raw(key: string): unknown {
    this.seen.add(key);
    return Object.prototype.hasOwnProperty.call(this.obj, key) ? this.obj[key] : undefined;
  }

  int(key: string, min: number, max: number): number {
    return asInt(this.raw(key), this.at(key), min, max);
  }

  bool(key: string): boolean {
    return asBool(this.raw(key), this.at(key));
  }

  u64(key: string, max?: bigint): U64 {
    return asU64(this.raw(key), this.at(key), max);
  }

  string(key: string, maxLength: number): string {
    return asString(this.raw(key), this.at(key), maxLength);
  }

  hexBytes(key: string, min: number, max: number): string {
    return asHexBytes(this.raw(key), this.at(key), min, max);
  }

  /** A list of `min`..`max` items, each passed to `item` with its path. */
  list<T>(
    key: string,
    min: number,
    max: number,
    item: (v: unknown, path: string, i: number) => T,
  ): T[] {
    const path = this.at(key);
    return asArray(this.raw(key), path, min, max).map((v, i) => item(v, join(path, i), i));
  }

  /** A list of integers in [lo, hi]. */
  ints(key: string, min: number, max: number, lo: number, hi: number): number[] {
    return this.list(key, min, max, (v, p) => asInt(v, p, lo, hi));
  }

  /** A list of U64s. */
  u64s(key: string, min: number, max: number, limit?: bigint): U64[] {
    return this.list(key, min, max, (v, p) => asU64(v, p, limit));
  }

  /** The object in field `key`, read through `read` (whose reader must reach end()). */
  object<T>(key: string, read: (r: StateReader) => T): T {
    const r = StateReader.of(this.raw(key), this.at(key));
    const out = read(r);
    r.end();
    return out;
  }

  /** A list of objects, each read through `read`. */
  objects<T>(key: string, min: number, max: number, read: (r: StateReader, i: number) => T): T[] {
    return this.list(key, min, max, (v, p, i) => {
      const r = StateReader.of(v, p);
      const out = read(r, i);
      r.end();
      return out;
    });
  }

  /** Refuses fields that were not read: a state has exactly the fields its part writes. */
  end(): void {
    for (const k of Object.keys(this.obj)) {
      if (!this.seen.has(k)) throw new StateError(`${this.at(k)} is not part of this state`);
    }
  }

  /** Reads an object state with `read` and checks that nothing else is there. */
  static read<T>(data: unknown, read: (r: StateReader) => T): T {
    const r = StateReader.of(data, '');
    const out = read(r);
    r.end();
    return out;
  }
}
