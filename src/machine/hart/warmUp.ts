// Primes V8 for the hart's engines before a guest boots. The interpreter (Hart.run) is one
// large function: V8 optimises it for the paths it has seen run, and each path the guest takes
// for the first time afterwards (an instruction kind, a trap, a value that no longer fits in
// 31 bits) throws the optimised code away, leaving the guest to V8's slow tiers until it is
// optimised again. A boot met some 30 of those; a second boot in the same process, with V8
// warm, reached the prompt 1.4 s sooner (part of it was V8's cache of compiled modules). The
// program once left out what only a kernel with processes does (U-mode, delegated traps,
// Sv57 walks, Sstc, code across a page's end, a fetch outside RAM): Hart.run was still
// optimised anew nine times in each boot, each time 50 to 190 ms of compiling on another
// thread while the guest ran in V8's slow tiers. With it in, about 0.5 s of boot went.
// Two paths it once missed cost about 0.4 s each (`--trace-deopt`): a translated block
// that leaves sstatus.SUM changed (Debian's kernel, at "Key type fscrypt-provisioning"), and a
// task's first floating point after the kernel cleaned FS (awk); both are in now.
//
// warmUpEngines runs WARM_UP_PROGRAM (warmUp.S, assembled; warmUp.test.ts checks that the
// words below are what it assembles to) on a scratch hart and RAM of the same kind as the
// guest's: every common path of the interpreter, the MMU and the translator runs, with wide
// values, in M-mode and then in S-mode under Sv39 paging, until the program's final WFI. The
// guest's machine is not touched: nothing it sees changes, a deterministic run included.

import { Bus } from '../bus.js';
import { Ram } from '../ram.js';
import { Hart, StopReason } from './hart.js';

/** Where the program runs, and the scratch RAM's size (code, data and its page tables). */
export const WARM_UP_BASE = 0x80000000;
const WARM_UP_RAM = 64 * 1024;
/** Where the scratch bus has a ROM of one instruction. */
const WARM_UP_ROM = 0x3000;
/** The scratch hart's translation threshold (at most the guest's). */
const WARM_UP_JIT = 100;
/** Where the scratch hart's counters start (see warmUpEngines). */
export const COUNTS_FROM = 2 ** 32;

/** warmUp.S assembled (riscv64-linux-gnu-gcc, .text at WARM_UP_BASE). */
export const WARM_UP_PROGRAM = new Uint32Array([
  0x00000297, 0x78428293, 0x30529073, 0x000022b7, 0x3002a073, 0x00002417, 0xfec40413, 0x00092537,
  0xa2b5051b, 0x00c51513, 0x3c550513, 0x00d51513, 0xabd50513, 0x00c51513, 0xdef50513, 0xfc0925b7,
  0xa2b5859b, 0x00c59593, 0x3c558593, 0x00d59593, 0xabd58593, 0x00c59593, 0xdef58593, 0x80000637,
  0xfff6061b, 0xffd00693, 0x00000913, 0x0f000493, 0x00000097, 0x3e0080e7, 0xfff48493, 0xfe049ae3,
  0x14091c63, 0x000012b7, 0x00540733, 0x005707b3, 0x00578833, 0x005808b3, 0x00588e33, 0x00c7df13,
  0x00af1f13, 0x001f6f13, 0x00000f93, 0x00ef8fb3, 0x01efb023, 0x00c85f13, 0x00af1f13, 0x001f6f13,
  0x00000f93, 0x00ff8fb3, 0x01efb023, 0x00c8df13, 0x00af1f13, 0x001f6f13, 0x00001fb7, 0xff8f8f9b,
  0x00ef8fb3, 0x01efb023, 0x00ce5f13, 0x00af1f13, 0x001f6f13, 0x00001fb7, 0xff8f8f9b, 0x011f8fb3,
  0x01efb023, 0x200003b7, 0x0ef3839b, 0x00783823, 0x000012b7, 0xff02829b, 0x01c282b3, 0x0072b023,
  0x00c75313, 0xffd0039b, 0x03d39393, 0x00736333, 0x00700393, 0x30639073, 0x200062b7, 0xfff2829b,
  0x3b029073, 0xfff00293, 0x3b129073, 0x000022b7, 0xf182829b, 0x3a029073, 0x18031073, 0x12000073,
  0x000092b7, 0x1002829b, 0x30229073, 0x02000293, 0x30329073, 0xfff00293, 0x03f29293, 0x30a2a073,
  0x00000297, 0x26828293, 0xfff0039b, 0x02039393, 0x007282b3, 0x10529073, 0xfff00293, 0x14d29073,
  0x000022b7, 0x8002829b, 0x3002b073, 0x000012b7, 0x8002829b, 0x3002a073, 0x00000297, 0xeb428293,
  0xfff0039b, 0x02039393, 0x007282b3, 0x34129073, 0x00100913, 0x30200073, 0x00003337, 0x00830333,
  0x000063b7, 0x008383b3, 0x00007c37, 0x008c0c33, 0x00c3df13, 0x00af1f13, 0x001f6f13, 0x00000f93,
  0x006f8fb3, 0x01efb023, 0x00cc5f13, 0x00af1f13, 0x001f6f13, 0x00000f93, 0x007f8fb3, 0x01efb023,
  0x00008eb7, 0x008e8eb3, 0x00cede93, 0x00ae9e93, 0x017eec93, 0x00000e97, 0x204e8e93, 0x020e9e93,
  0x020ede93, 0x00cedf13, 0x00af1f13, 0x05bf6f13, 0x09ec3023, 0x034e9e93, 0x034ede93, 0x00010a37,
  0x01da6a33, 0x18002bf3, 0x12000073, 0x0a000b13, 0x001b7393, 0x00138393, 0x02c39293, 0x0172e2b3,
  0x18029073, 0x00000997, 0x01898993, 0x141a1073, 0x10000293, 0x1002b073, 0x10200073, 0x00040e37,
  0x100e2073, 0x134000ef, 0x00650533, 0x000062b7, 0x1002b073, 0x000042b7, 0x1002a073, 0x22b58553,
  0x52b5764b, 0xc20612d3, 0x00202373, 0x00550533, 0x00650533, 0x007b7293, 0x06029663, 0x12000073,
  0x00044303, 0x12000073, 0x00245303, 0x12000073, 0x00442303, 0x12000073, 0x00843303, 0x12000073,
  0x00640823, 0x12000073, 0x00641923, 0x12000073, 0x00642a23, 0x12000073, 0x00643c23, 0x000012b7,
  0xffc2829b, 0x008282b3, 0x0012b303, 0x0062b0a3, 0x00002e97, 0xcd0e8e93, 0x000eb303, 0x00043303,
  0x000eb303, 0x100c3023, 0x000202b7, 0x12028073, 0x007b7293, 0x00029463, 0x12700073, 0x000802b7,
  0x00f2829b, 0x00c29293, 0xffe28293, 0x51300313, 0x00629023, 0x001b7313, 0x00431313, 0x00008eb7,
  0x067e8e9b, 0x010e9e93, 0x015e8e93, 0x01d30333, 0x0062a123, 0x00029323, 0x0000100f, 0x000280e7,
  0x000302b7, 0x000283e7, 0x14d01073, 0x02000293, 0x1042a073, 0x14402373, 0x10500073, 0x10016073,
  0x10017073, 0x00650533, 0xfffb0b13, 0xea0b12e3, 0x10500073, 0xffdff06f, 0x000202b7, 0x0002b303,
  0x100e3073, 0x00008067, 0x142022f3, 0x0202cc63, 0x00800313, 0x02628663, 0x00c00313, 0x02628a63,
  0x143022f3, 0x00c2d313, 0x1ff37313, 0x00331313, 0x01830333, 0x01933023, 0x12028073, 0x10200073,
  0x00098067, 0xfff00293, 0x14d29073, 0x10200073, 0x14139073, 0x10200073, 0x000203b7, 0x00a3b023,
  0x0003be03, 0x01c50533, 0x14002ef3, 0x00000073, 0x00b502b3, 0x40c50333, 0x0062c3b3, 0x00d3ee33,
  0x00ae7eb3, 0x00d51f33, 0x00c5dfb3, 0x40d5df33, 0x00959f33, 0x00955fb3, 0x4095dfb3, 0x0095dfb3,
  0x40955fb3, 0x00959f3b, 0x00955fbb, 0x4095dfbb, 0x00c4af33, 0x00c4bfb3, 0x2bc4af13, 0x2bc4bf93,
  0x00842f03, 0x00042f83, 0x00a5afb3, 0x00b53fb3, 0x83028293, 0x4d234313, 0xfff3e393, 0x7f0e7e13,
  0x0056ae93, 0x0056be93, 0x02151f13, 0x0115df93, 0x4285df93, 0x00c282bb, 0x40d3033b, 0x00d513bb,
  0x00c5de3b, 0x40d5debb, 0x00160f1b, 0x00751f9b, 0x0095df9b, 0x41f5df9b, 0xfffff2b7, 0x00000317,
  0xfffff397, 0x00550533, 0x00750533, 0x01d54533, 0x02b502b3, 0x02b51333, 0x02a5a3b3, 0x02b53e33,
  0x02d54eb3, 0x02c5df33, 0x02d56fb3, 0x02c5f2b3, 0x02054333, 0x02b503bb, 0x02d5ce3b, 0x02d5debb,
  0x02d56f3b, 0x02d57fbb, 0x00550533, 0x01f54533, 0x20b522b3, 0x20b5633b, 0x40b573b3, 0x60051e13,
  0x60159e93, 0x60251f13, 0x6b855f93, 0x287fdf93, 0x60d55293, 0x0ab56333, 0x0805c3bb, 0x28d51e33,
  0x0ab51eb3, 0x0ab53f33, 0x60259f9b, 0x00650533, 0x00a43023, 0x00b42423, 0x00c41623, 0x00d40723,
  0x00043283, 0x00842303, 0x00846383, 0x00c41e03, 0x00c45e83, 0x00e40f03, 0x00e44f83, 0x00343283,
  0x00543aa3, 0x00650533, 0x01e50533, 0x0014f293, 0x00028463, 0x00150513, 0x00a5e463, 0x00350513,
  0x00c6d463, 0x00550513, 0x00a5c663, 0x00d67463, 0x00750513, 0x00c49463, 0x00950513, 0x00c4e463,
  0x00b50513, 0x00964463, 0x00d50513, 0x16c00fef, 0x1405b3f3, 0x1402de73, 0x14102ef3, 0x00302f73,
  0x0010eff3, 0x000402b7, 0x1002a073, 0x10016073, 0x1002b073, 0x10017073, 0xc02022f3, 0xc0002373,
  0xc01023f3, 0x00a432af, 0x08b4232f, 0x40c433af, 0xa0d43e2f, 0xc0b42eaf, 0xe0b43eaf, 0x20c42eaf,
  0x10043f2f, 0x18a43faf, 0x10042f2f, 0x18b42faf, 0x40c4302f, 0x10043f2f, 0x18a4302f, 0x01f50533,
  0xd2257553, 0xd20685d3, 0x02b57653, 0x0ab676d3, 0x12b6f753, 0x1ab777d3, 0x5a067853, 0x62b578c3,
  0x2ab50053, 0xa2b522d3, 0xa2a59353, 0xe20793d3, 0xc2279e53, 0xc2177ed3, 0x22b510d3, 0xe2080f53,
  0xf2058153, 0x00c43827, 0x01043187, 0x40167453, 0x008474d3, 0x1084f953, 0x188979d3, 0xc009ffd3,
  0x01342c27, 0x01842a07, 0xe00a02d3, 0xf0058ad3, 0x420a0253, 0x023232d3, 0x01c50533, 0x01e54533,
  0x872a050d, 0xf018972e, 0xb408701c, 0x8f8a340c, 0xb82a8122, 0x817e35c2, 0x078e0001, 0x8f999bf1,
  0x8d3dc391, 0x00010001, 0x00f4f293, 0x04029463, 0x00000073, 0x00100073, 0x00000000, 0x00000057,
  0x00001337, 0x00033383, 0x340512f3, 0x34002373, 0x30416073, 0x34416073, 0x30046073, 0x30047073,
  0x0ff0000f, 0x0000100f, 0x00003337, 0x00032e03, 0x000303e7, 0x00008067, 0x00954533, 0x008f8f93,
  0xff8f8067, 0x342022f3, 0x0002ca63, 0x341022f3, 0x00428293, 0x34129073, 0x30200073, 0x34417073,
  0x30200073,
]);

export interface WarmUp {
  /** The scratch hart, stopped at the program's final WFI (for tests). */
  hart: Hart;
  /** Exceptions it took, by cause. */
  exceptions: Map<number, number>;
  milliseconds: number;
}

/**
 * Runs the warm-up program to its end on a scratch hart (`jitThreshold` as the guest's harts
 * have it; `shared`: their RAM is shared with other threads). Throws if it does not end.
 */
export function warmUpEngines(jitThreshold?: number, shared = false): WarmUp {
  const t0 = performance.now();
  // Blocks after fewer runs than the guest's harts wait for: the program loops 240 times.
  const threshold = jitThreshold === 0 ? 0 : Math.min(jitThreshold ?? WARM_UP_JIT, WARM_UP_JIT);
  // Each RAM has a dispatcher of its own, and so will the guest's: a few slices on a second
  // RAM make the call to it one that expects any, instead of one that V8 optimised for the
  // scratch RAM's (and threw away, twice, early in each boot). This runs first, before V8
  // optimises anything.
  // The same for the trap hook, which tests set (the first pass's first round traps).
  if (threshold > 0) {
    const second = scratchHart(1, shared).hart;
    second.trapHook = () => false;
    for (let slice = 0; slice < 4; slice++) second.run(2_000);
  }
  const { ram, hart } = scratchHart(threshold, shared);
  const exceptions = new Map<number, number>();
  hart.trapHook = (cause) => {
    exceptions.set(cause, (exceptions.get(cause) ?? 0) + 1);
    return false;
  };
  // The guest's clock is another function: two here make the call to it one that expects any.
  const clocks = [(): number => 0, (): number => 0];
  // Short slices: a slice's blocks come in when it ends.
  for (let slice = 0; ; slice++) {
    hart.readTime = clocks[slice & 1];
    // As when another thread (or the balloon) made the write TLBs stale: refilled at a slice.
    if (slice % 8 === 1) ram.dirtyEpoch++;
    // The PLIC's line moves in a guest (S-mode external interrupts are not enabled here).
    hart.seipLine = slice % 8 === 2;
    const r = hart.run(10_000);
    if (r === StopReason.Wfi) break;
    if (r !== StopReason.Budget || slice === 1000) {
      throw new Error(`the engines' warm-up program stopped (${r}): ${hart.lastError ?? ''}`);
    }
  }
  return { hart, exceptions, milliseconds: performance.now() - t0 };
}

/** A hart on a RAM of its own holding the warm-up program, about to run it. */
function scratchHart(jitThreshold: number, shared: boolean): { ram: Ram; hart: Hart } {
  const ram = new Ram(WARM_UP_BASE, WARM_UP_RAM, { shared });
  const bus = new Bus(ram);
  // Code outside RAM, as a boot ROM's: `jalr zero, 0(t2)`, a return to the caller.
  const ret = 0x00038067;
  bus.map('rom', WARM_UP_ROM, 0x1000, {
    read: (offset, size) =>
      (offset === 0 ? ret : offset === 2 ? ret >>> 16 : 0) & (2 ** (8 * size) - 1),
    write: () => undefined,
  });
  const hart = new Hart(bus, { jitThreshold });
  ram.write(WARM_UP_BASE, new Uint8Array(WARM_UP_PROGRAM.buffer));
  hart.pc = BigInt(WARM_UP_BASE);
  // Counters past 2^31 from the start: V8 then holds every hart's counters as doubles at once,
  // instead of changing the shape of the guest's harts (and dropping the code optimised for
  // it) when the guest's count passes 2^31, as it did late in each boot.
  hart.setRetired(COUNTS_FROM, 0);
  hart.translatedInstructions = COUNTS_FROM;
  hart.dispatches = COUNTS_FROM;
  return { ram, hart };
}

let warmed = false;

/**
 * warmUpEngines, once per thread (V8's feedback is the thread's). A failure leaves the engines
 * cold, not the guest stopped: warmUp.test.ts is where it shows.
 */
export function warmUpOnce(jitThreshold?: number, shared = false): void {
  if (warmed) return;
  warmed = true;
  try {
    warmUpEngines(jitThreshold, shared);
  } catch {
    // cold engines: slower for the first seconds, nothing else
  }
}
