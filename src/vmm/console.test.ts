// The console: on a terminal, raw mode and Ctrl-A X to quit (Ctrl-A Ctrl-A
// sends Ctrl-A); on a pipe, bytes pass through untouched; output is batched.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { CONSOLE_REPLAY_BYTES, ConsoleIO } from './console.js';

function fakeTty(): PassThrough & { isTTY: boolean; raw: boolean[]; setRawMode(r: boolean): void } {
  const s = new PassThrough() as PassThrough & {
    isTTY: boolean;
    raw: boolean[];
    setRawMode(r: boolean): void;
  };
  s.isTTY = true;
  s.raw = [];
  s.setRawMode = (r: boolean) => {
    s.raw.push(r);
  };
  return s;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('on a terminal: raw mode, Ctrl-A X quits, Ctrl-A Ctrl-A sends one Ctrl-A', async () => {
  const input = fakeTty();
  const io = new ConsoleIO(input, new PassThrough());
  assert.deepEqual(input.raw, [true]);
  input.write(Buffer.from([0x61, 0x01, 0x01, 0x62]));
  await tick();
  assert.deepEqual(io.take(10), [0x61, 0x01, 0x62]);
  assert.equal(io.quitRequested, false);
  input.write(Buffer.from([0x01, 0x78]));
  await tick();
  assert.equal(io.quitRequested, true);
  assert.equal(io.pending(), 0);
  io.close();
  assert.deepEqual(input.raw, [true, false]);
});

test('on a pipe: Ctrl-A passes through and input waits until taken', async () => {
  const input = new PassThrough();
  const out = new PassThrough();
  const io = new ConsoleIO(input, out);
  input.write(Buffer.from([0x01, 0x78, 0x0a]));
  await io.whenInput();
  assert.equal(io.quitRequested, false);
  assert.deepEqual(io.take(2), [0x01, 0x78]);
  assert.deepEqual(io.take(2), [0x0a]);
  io.write(0x68);
  io.write(0x69);
  io.flush();
  assert.equal(out.read().toString(), 'hi');
  input.end();
  await io.drain();
  assert.equal(io.ended, true);
  io.close();
});

test('without streams: readers get the output, late readers the last 64 KiB, inject feeds input', async () => {
  const io = new ConsoleIO(null, null);
  const a: Buffer[] = [];
  const off = io.subscribe((c) => a.push(c));
  for (const b of Buffer.from('hello')) io.write(b);
  io.flush();
  assert.equal(Buffer.concat(a).toString(), 'hello');
  off();
  for (let i = 0; i < 70_000; i++) io.write(0x30 + (i % 10));
  io.flush();
  assert.equal(Buffer.concat(a).toString(), 'hello', 'an unsubscribed reader gets nothing more');
  const recent = io.recent();
  assert.equal(recent.length, CONSOLE_REPLAY_BYTES);
  assert.equal(recent[recent.length - 1], 0x30 + (69_999 % 10));
  const waiting = io.whenInput();
  io.inject(Buffer.from([1, 0x78]));
  await waiting;
  assert.deepEqual(io.take(10), [1, 0x78], 'injected bytes pass untouched, Ctrl-A included');
  assert.equal(io.quitRequested, false);
  io.close();
});
