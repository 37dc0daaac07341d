// VM generation IDs (the board's vmgenid device) as the VMM hands them out: a fresh one at every
// cold boot, and a new one, with the device's interrupt, every time a snapshot is restored, so
// that a restored guest or a clone does not go on with its parent's random state (Linux reseeds
// its RNG; Debian's 6.12 tells userspace nothing). On the host's clock a restore also sets the
// RTC to the host's time: mtime goes on from the saved value, so the guest's clock is behind by
// however long the snapshot lay on disk until the guest steps it from the RTC. To tell the guest,
// a restore presses a key of the board's virtio-input device (when it has one):
// GENERATION_MAC_KEY when a network card's MAC is not the snapshot's, else GENERATION_KEY;
// Berth's images run acpid, which runs their handler (images/guestEvents.ts) on either.
//
// Deterministic runs stay reproducible: their IDs are derived, not drawn. A cold boot's is the
// first 16 bytes of SHA-256("berth vmgenid boot", seed); a restore's is the first 16 bytes of
// SHA-256("berth vmgenid restore", seed, the parent's ID): the same snapshot and seed give the
// same child, which differs from its parent (and a child's snapshot gives yet another).

import { createHash, webcrypto } from 'node:crypto';
import { VMGENID_BYTES } from '../machine/devices/vmGenId.js';
import type { BoardShape } from '../machine/board/virtState.js';
import { GENERATION_KEY, GENERATION_MAC_KEY } from '../machine/virtio/input.js';
import type { VmmMachine } from './vmmSnapshot.js';

/** The seed of a deterministic run's entropy and generation IDs. */
export const DETERMINISTIC_SEED = 1n;

function derive(what: string, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256').update(`berth vmgenid ${what}\0${DETERMINISTIC_SEED}\0`);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest().subarray(0, VMGENID_BYTES));
}

function random(): Uint8Array {
  return webcrypto.getRandomValues(new Uint8Array(VMGENID_BYTES));
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** The generation ID of a cold boot. */
export function bootGenerationId(deterministic: boolean): Uint8Array {
  return deterministic ? derive('boot') : random();
}

/** The generation ID of a machine restored from a snapshot whose ID was `parent`; never `parent`. */
export function restoredGenerationId(parent: Uint8Array, deterministic: boolean): Uint8Array {
  let id = deterministic ? derive('restore', parent) : random();
  if (same(id, parent)) id = deterministic ? derive('restore', parent, id) : random();
  return id;
}

export interface NewGeneration {
  /** The new generation ID, as hex. */
  id: string;
  /** The RTC was set to the host's time (host clocks only). */
  rtcSet: boolean;
  /** A network card's MAC is not the snapshot's. */
  macChanged: boolean;
  /** The key pressed on the board's input device, or null (no input device, or held full). */
  key: 'generation' | 'generation-mac' | null;
}

/** The network cards' MACs of a board shape, slot by slot. */
function macs(shape: BoardShape): string {
  return shape.virtio.map((s) => s?.mac ?? '').join(',');
}

/**
 * Starts a new generation of `m`, a machine just restored from a snapshot of a board shaped
 * `saved`: a new generation ID with its interrupt (taken once the guest runs), on the host's
 * clock the RTC at `nowMs`, and a press of the generation key that says whether a MAC changed.
 */
export function newGeneration(
  m: VmmMachine,
  saved: BoardShape,
  nowMs: number = Date.now(),
): NewGeneration {
  const vmgenid = m.board.vmgenid;
  const id = restoredGenerationId(vmgenid.id, m.clock.deterministic);
  vmgenid.setId(id);
  const rtcSet = !m.clock.deterministic;
  if (rtcSet) m.board.rtc.setNowNs(BigInt(nowMs) * 1_000_000n);
  const macChanged = macs(saved) !== macs(m.board.shape());
  const input = m.board.input;
  const pressed =
    input !== null && input.pressKey(macChanged ? GENERATION_MAC_KEY : GENERATION_KEY);
  const key = pressed ? (macChanged ? 'generation-mac' : 'generation') : null;
  return { id: Buffer.from(id).toString('hex'), rtcSet, macChanged, key };
}
