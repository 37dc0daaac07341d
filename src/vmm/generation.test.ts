// VM generation IDs from the VMM: random on the host's clock, derived from the seed in
// deterministic runs (reproducible, never the parent's), and a restore's new generation (ID,
// interrupt, on the host's clock the RTC at the host's time, and the generation key pressed:
// the MAC key when the card's MAC is not the snapshot's).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootGenerationId, newGeneration, restoredGenerationId } from './generation.js';
import { HostClock, InstructionClock } from './clocks.js';
import { MemoryNetBackend } from '../machine/virtio/netBackend.js';
import { echoBoard } from '../../test/support/echoBoard.js';
import { EV_KEY, GENERATION_KEY, GENERATION_MAC_KEY } from '../machine/virtio/input.js';
import type { VirtBoard } from '../machine/board/virt.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The key codes pressed (value 1) among the input device's held events. */
const pressed = (board: VirtBoard): number[] =>
  board
    .input!.saveState()
    .held.filter(([type, , value]) => type === EV_KEY && value === 1)
    .map(([, code]) => code);

test('cold boots: random IDs on the host clock, one derived ID in deterministic runs', () => {
  assert.notEqual(hex(bootGenerationId(false)), hex(bootGenerationId(false)));
  assert.equal(hex(bootGenerationId(true)), hex(bootGenerationId(true)));
  assert.equal(bootGenerationId(true).length, 16);
});

test('restores: a new ID, never the parent; deterministic ones follow from the parent', () => {
  const parent = bootGenerationId(true);
  const child = restoredGenerationId(parent, true);
  assert.notEqual(hex(child), hex(parent));
  assert.equal(hex(restoredGenerationId(parent, true)), hex(child), 'reproducible');
  assert.notEqual(hex(restoredGenerationId(child, true)), hex(child), "a child's child differs");
  const a = restoredGenerationId(parent, false);
  const b = restoredGenerationId(parent, false);
  assert.notEqual(hex(a), hex(b));
  assert.notEqual(hex(a), hex(parent));
});

test('a new generation on the host clock: new ID, its interrupt, the RTC at the host time', () => {
  const { board } = echoBoard({ generationId: bootGenerationId(false) });
  const before = hex(board.vmgenid.id);
  const rtcBefore = board.rtc.nowNs();
  const nowMs = Date.UTC(2030, 5, 1);
  const g = newGeneration({ board, clock: new HostClock(), entropy: null }, board.shape(), nowMs);
  assert.equal(g.rtcSet, true);
  assert.equal(g.macChanged, false);
  assert.equal(g.key, 'generation');
  assert.deepEqual(pressed(board), [GENERATION_KEY], 'held until the guest has a driver');
  assert.equal(g.id, hex(board.vmgenid.id));
  assert.notEqual(g.id, before);
  assert.equal(board.vmgenid.pending, true, 'the interrupt waits for the guest');
  const rtc = board.rtc.nowNs();
  assert.ok(rtc >= BigInt(nowMs) * 1_000_000n && rtc < BigInt(nowMs + 1000) * 1_000_000n);
  assert.notEqual(rtc / 1_000_000_000n, rtcBefore / 1_000_000_000n);
});

test('a new generation in a deterministic run: derived ID, the RTC left to the guest', () => {
  const make = (): ReturnType<typeof echoBoard> =>
    echoBoard({ generationId: bootGenerationId(true) });
  const a = make();
  const b = make();
  const clock = new InstructionClock(() => 0);
  const rtcBefore = a.board.rtc.nowNs();
  const ga = newGeneration({ board: a.board, clock, entropy: null }, a.board.shape());
  const gb = newGeneration({ board: b.board, clock, entropy: null }, b.board.shape());
  assert.equal(ga.rtcSet, false);
  assert.equal(ga.id, gb.id, 'the same seed and parent give the same child');
  assert.notEqual(ga.id, hex(bootGenerationId(true)));
  assert.equal(a.board.rtc.nowNs(), rtcBefore);
});

test('a restore with another MAC presses the MAC key; a board without input presses none', () => {
  const parent = echoBoard({ net: { backend: new MemoryNetBackend(), mac: '52:54:00:00:00:01' } });
  const saved = parent.board.shape();
  const clone = echoBoard({ net: { backend: new MemoryNetBackend(), mac: '52:54:00:00:00:02' } });
  const clock = new HostClock();
  const g = newGeneration({ board: clone.board, clock, entropy: null }, saved);
  assert.equal(g.macChanged, true);
  assert.equal(g.key, 'generation-mac');
  assert.deepEqual(pressed(clone.board), [GENERATION_MAC_KEY]);
  const same = echoBoard({ net: { backend: new MemoryNetBackend(), mac: '52:54:00:00:00:01' } });
  assert.equal(newGeneration({ board: same.board, clock, entropy: null }, saved).key, 'generation');
  assert.deepEqual(pressed(same.board), [GENERATION_KEY]);
  const bare = echoBoard({ input: undefined });
  const gb = newGeneration({ board: bare.board, clock, entropy: null }, bare.board.shape());
  assert.equal(gb.key, null);
  assert.equal(bare.board.input, null);
});
