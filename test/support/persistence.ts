// Checks of the persistence contract (src/machine/state/persistent.ts) that every part's tests
// share: a state survives JSON and a restore into a fresh part unchanged; a refused state
// changes nothing; and every wrong-typed, missing or unexpected field anywhere in a state is
// refused with a StateError that names it.

import assert from 'node:assert/strict';
import { restoreState, StateError, type Persistent } from '../../src/machine/state/persistent.js';

/** `s` through JSON, as a snapshot file would carry it. */
export function viaJson<S>(s: S): unknown {
  return JSON.parse(JSON.stringify(s));
}

/**
 * Saves `from`, restores the state into `into` (through JSON, or `carry` for states with
 * bytes), and checks that `into` saves exactly the same state. Returns that state.
 */
export function assertRoundTrip<S>(
  from: Persistent<S>,
  into: Persistent<S>,
  carry: (s: S) => unknown = viaJson,
): S {
  const saved = from.saveState();
  restoreState(into, carry(saved));
  assert.deepEqual(into.saveState(), saved);
  return saved;
}

/** Restoring `bad` into `part` is refused with a StateError matching `message`; `part` is unchanged. */
export function assertRefused<S>(part: Persistent<S>, bad: unknown, message: RegExp): void {
  const before = viaJson(part.saveState());
  assert.throws(
    () => restoreState(part, bad),
    (e: unknown) => e instanceof StateError && message.test(e.message),
    `expected a StateError matching ${message}`,
  );
  assert.deepEqual(viaJson(part.saveState()), before, 'a refused state changed the part');
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A value of another JSON type than `v`. */
function otherType(v: Json): Json {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return 7;
  if (typeof v === 'boolean') return 1;
  if (v === null) return 'null';
  return Array.isArray(v) ? { list: true } : [1];
}

/** Copies of `state` with one change each, and where: every leaf retyped, every field dropped or added to. */
export function* mutations(state: Json, path = ''): Generator<[string, Json]> {
  yield [path || 'state', otherType(state)];
  if (Array.isArray(state)) {
    for (let i = 0; i < state.length; i++) {
      for (const [p, m] of mutations(state[i], `${path}[${i}]`)) {
        const copy = state.slice();
        copy[i] = m;
        yield [p, copy];
      }
    }
  } else if (state !== null && typeof state === 'object') {
    for (const k of Object.keys(state)) {
      const p = path === '' ? k : `${path}.${k}`;
      const dropped = { ...state };
      delete dropped[k];
      yield [p, dropped];
      for (const [q, m] of mutations(state[k], p)) yield [q, { ...state, [k]: m }];
    }
    yield [path === '' ? 'extra' : `${path}.extra`, { ...state, extra: 0 }];
  }
}

/**
 * Every mutation of `part`'s current state is refused, naming the field (or its object), and
 * changes nothing. Returns how many were tried.
 */
export function assertMutationsRefused<S>(part: Persistent<S>): number {
  const state = viaJson(part.saveState()) as Json;
  const before = JSON.stringify(state);
  let n = 0;
  for (const [path, bad] of mutations(state)) {
    n++;
    try {
      restoreState(part, bad);
    } catch (e) {
      if (!(e instanceof StateError)) throw e;
      const field = path.split('.').pop()!;
      assert.ok(e.message.includes(field), `the refusal of a change at ${path} says: ${e.message}`);
      continue;
    } finally {
      assert.equal(
        JSON.stringify(part.saveState()),
        before,
        `the change at ${path} changed the part`,
      );
    }
    assert.fail(`a ${part.stateId} state with a change at ${path} was accepted`);
  }
  return n;
}
