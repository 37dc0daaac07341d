// The persistence contract of the machine: every stateful part (harts, RAM,
// interrupt controllers, devices, virtio transports and their devices, the
// board) saves and restores itself the same way.
//
//   saveState()                 a copy of the part's state: plain typed data, JSON-safe (64-bit
//                               values through the U64 codec; RAM's pages are bytes)
//   checkState(data, version)   validates everything (types, ranges, lengths, what must match
//                               this part) and returns typed state, or throws StateError naming
//                               the field; it changes nothing
//   loadState(state)            commits what checkState returned; it never throws
//
// So a refused restore changes nothing: restoreState() checks, then loads. Each
// part names its kind (stateId) and the version of its state (stateVersion); a
// saved part carries both (SavedPart), older versions are upgraded by
// checkState, newer ones are refused. Counters (requests served, bytes moved)
// are statistics, not state: they are not saved and start again at zero.

import { StateError } from './stateError.js';
import { StateReader } from './stateReader.js';

export { StateError };

export interface Persistent<S> {
  /** The kind of part, e.g. "ns16550a": a state is only ever loaded into a part of its kind. */
  readonly stateId: string;
  /** Version of the state this code writes; checkState reads it and every older one. */
  readonly stateVersion: number;
  /** A copy of the part's state now. */
  saveState(): S;
  /**
   * Validates `data`, a state this kind of part saved as version `version`
   * (1..stateVersion), against this part; returns it typed, upgraded to
   * stateVersion. Throws StateError naming the field. Changes nothing.
   */
  checkState(data: unknown, version: number): S;
  /** Makes the part hold `state` (a value checkState returned). */
  loadState(state: S): void;
}

/** A part's state with its kind and version: how parts are kept inside a bigger state. */
export interface SavedPart<S = unknown> {
  id: string;
  version: number;
  state: S;
}

/** The part's state with its kind and version. */
export function savePart<S>(part: Persistent<S>): SavedPart<S> {
  return { id: part.stateId, version: part.stateVersion, state: part.saveState() };
}

/**
 * Checks that `version` of a state of kind `id` can be read by `part`, then
 * the state itself. `where` names the part in messages (e.g. "uart0").
 */
export function checkVersioned<S>(
  part: Persistent<S>,
  id: string,
  version: number,
  data: unknown,
  where: string,
): S {
  if (id !== part.stateId) {
    throw new StateError(`${where}: the state is of a ${id}, this part is a ${part.stateId}`);
  }
  if (!Number.isInteger(version) || version < 1) {
    throw new StateError(`${where}: state version ${version} does not exist`);
  }
  if (version > part.stateVersion) {
    throw new StateError(
      `${where}: the ${id} state has version ${version}, newer than this Berth reads ` +
        `(up to ${part.stateVersion}); restore it with a newer Berth`,
    );
  }
  try {
    return part.checkState(data, version);
  } catch (e) {
    if (e instanceof StateError) throw new StateError(`${where}: ${e.message}`);
    throw e;
  }
}

/** Checks a SavedPart (shape, kind, version, state) for `part`; returns the typed state. */
export function checkPart<S>(part: Persistent<S>, saved: unknown, where: string): S {
  const r = StateReader.of(saved, where);
  const id = r.string('id', 64);
  const version = r.int('version', 1, 0xffffffff);
  const state = r.raw('state');
  r.end();
  return checkVersioned(part, id, version, state, where);
}

/**
 * Restores `part` from `data` (a state of this part's kind, of `version`):
 * checks everything first, so a refused state changes nothing.
 */
export function restoreState<S>(
  part: Persistent<S>,
  data: unknown,
  version: number = part.stateVersion,
): void {
  part.loadState(checkVersioned(part, part.stateId, version, data, part.stateId));
}
