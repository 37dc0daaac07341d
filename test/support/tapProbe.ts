// Exercises TapBackend without a guest; run by test/integration/tap.test.ts
// inside a network namespace (ip netns exec NS node tapProbe.js BRIDGE ADDR
// [hold]) whose bridge BRIDGE has the address ADDR. Prints one JSON line with
// what it saw. "hold": prints the device's name and its own pid, then waits
// to be killed (the device must go with it: only this process holds it).
//
// The checks: an ARP request send()'d for ADDR gets the kernel's reply; an
// ARP request of the kernel (for an address nobody has) arrives at the
// receiver; frames arriving while the receiver asked for a pause are held and
// come after resume(); frames too short or too long are dropped and counted;
// the device is on the bridge while open and gone after close(); it reports the device's and
// the bridge's addresses while it is on.

import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { spawn } from 'node:child_process';
import { TapBackend } from '../../src/vmm/net/tap.js';

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x7a, 0x90, 0x01);
const OUR_IP = '10.213.0.9';
const NOBODY_IP = '10.213.0.77';

function ip4(s: string): number[] {
  return s.split('.').map(Number);
}

function arpRequest(senderMac: Uint8Array, senderIp: string, targetIp: string): Uint8Array {
  return Uint8Array.from([
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ...senderMac,
    ...[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01],
    ...senderMac,
    ...ip4(senderIp),
    ...[0, 0, 0, 0, 0, 0],
    ...ip4(targetIp),
  ]);
}

function isArp(f: Uint8Array, op: number, senderIp: string, targetIp: string): boolean {
  if (f.length < 42 || f[12] !== 0x08 || f[13] !== 0x06 || f[21] !== op) return false;
  const s = ip4(senderIp);
  const t = ip4(targetIp);
  return s.every((b, i) => f[28 + i] === b) && t.every((b, i) => f[38 + i] === b);
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const [bridge, bridgeIp, mode] = process.argv.slice(2);
  const b = await TapBackend.start({ bridge, log: (l) => process.stderr.write(l + '\n') });
  if (mode === 'hold') {
    process.stdout.write(JSON.stringify({ name: b.name, pid: process.pid }) + '\n');
    setInterval(() => {}, 1000);
    return;
  }
  const master = basename(readlinkSync(`/sys/class/net/${b.name}/master`));
  const address = (dev: string): string =>
    readFileSync(`/sys/class/net/${dev}/address`, 'utf8').trim();
  const tapMac = address(b.name);
  const bridgeMac = address(bridge);
  const got: Uint8Array[] = [];
  let pause = false;
  b.attach({
    receive(f) {
      got.push(f.slice());
      return !pause;
    },
  });
  const replyFromBridge = (f: Uint8Array): boolean => isArp(f, 2, bridgeIp, OUR_IP);

  // 1. A frame out: the kernel answers our ARP request.
  b.send(arpRequest(MAC, OUR_IP, bridgeIp));
  await until('the ARP reply', () => got.some(replyFromBridge), 5000);
  const arpReply = true;

  // 2. A frame in: the kernel asks who has NOBODY_IP (broadcast to every bridge port).
  const woken = b.whenReceived().then(() => true);
  const ping = spawn('ping', ['-c', '1', '-W', '1', NOBODY_IP], { stdio: 'ignore' });
  await until(
    'the kernel ARP request',
    () => got.some((f) => isArp(f, 1, bridgeIp, NOBODY_IP)),
    5000,
  );
  const arpRequestSeen = true;
  const wokeUp = await woken;
  await new Promise((r) => ping.once('exit', r));

  // 3. Backpressure: the receiver asks for a pause at the next frame; later frames wait.
  pause = true;
  const before = got.length;
  for (let i = 0; i < 3; i++) b.send(arpRequest(MAC, OUR_IP, bridgeIp));
  await until('frames held while paused', () => got.length > before && b.queued > 0, 5000);
  const deliveredWhilePaused = got.length - before;
  await new Promise((r) => setTimeout(r, 200));
  const heldWhilePaused = b.queued;
  pause = false;
  b.resume();
  const deliveredAfterResume = got.length - before - deliveredWhilePaused;
  const repliesAfter = got.slice(before).filter(replyFromBridge).length;

  // 4. Frames that cannot be carried.
  const dropped = b.counters.txDropped;
  b.send(new Uint8Array(10));
  b.send(new Uint8Array(70_000));
  // Frames the worker could not write are counted too; none here.
  const badFramesDropped = b.counters.txDropped - dropped;

  const counters = { ...b.counters };
  await b.close();
  process.stdout.write(
    JSON.stringify({
      name: b.name,
      master,
      tapMac,
      bridgeMac,
      arpReply,
      arpRequestSeen,
      wokeUp,
      deliveredWhilePaused,
      heldWhilePaused,
      deliveredAfterResume,
      repliesAfter,
      badFramesDropped,
      counters,
      goneAfterClose: !existsSync(`/sys/class/net/${b.name}`),
    }) + '\n',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`tapProbe: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
