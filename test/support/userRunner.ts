// Runs a static RISC-V Linux ELF (no libc, linked inside guest RAM) on a bare
// hart in U-mode, the way qemu-riscv64 runs it: write(2) goes to a buffer,
// exit(2)/exit_group(2) end the run. For differential tests against QEMU.
// Exceptions become the signals Linux would send (cause 2 -> SIGILL, ...). A
// handler installed with rt_sigaction(2) is entered with a0 = the signal
// number and nothing else set up (no signal frame, no sigreturn): enough for
// test programs whose handlers never return; otherwise the run stops.

import { Bus } from '../../src/machine/bus.js';
import { Ram } from '../../src/machine/ram.js';
import { EXC_ECALL_U, PRIV_U } from '../../src/machine/hart/causes.js';
import { Hart, StopReason } from '../../src/machine/hart/hart.js';
import { MSTATUS_FS } from '../../src/machine/hart/csr.js';
import { parseElf } from '../../src/machine/loader/elf.js';

export const USER_RAM_BASE = 0x80000000;

export interface UserRunResult {
  exitCode: number | null;
  stdout: Uint8Array;
  /** Set when the program stopped on something other than exit. */
  error: string | null;
  /**
   * The signal Linux would have killed the program with for the exception that
   * stopped it (as qemu-riscv64 reports it), e.g. 'SIGILL' for cause 2; null otherwise.
   */
  signal: string | null;
  /** The exception cause that stopped the program, or null. */
  cause: number | null;
  /** Signals delivered to handlers, in order. */
  signals: DeliveredSignal[];
  instret: number;
  hart: Hart;
}

const SYS_WRITE = 64;
const SYS_EXIT = 93;
const SYS_EXIT_GROUP = 94;
const SYS_RT_SIGACTION = 134;

export interface DeliveredSignal {
  signal: string;
  cause: number;
  pc: bigint;
  tval: bigint;
}

export const SIGNAL_NUMBERS: Record<string, number> = {
  SIGILL: 4,
  SIGTRAP: 5,
  SIGBUS: 7,
  SIGSEGV: 11,
};

/** Exception cause -> the signal Linux delivers for it in user mode. */
export function signalForCause(cause: number): string {
  switch (cause) {
    case 2:
      return 'SIGILL';
    case 3:
      return 'SIGTRAP';
    case 0:
    case 4:
    case 6:
      return 'SIGBUS';
    default:
      return 'SIGSEGV';
  }
}

export function runUserElf(
  elf: Uint8Array,
  opts: {
    ramSize?: number;
    maxInstructions?: number;
    jitThreshold?: number;
    /** RAM shared as with harts on threads (atomic AMOs and SCs, shared wasm memory). */
    shared?: boolean;
  } = {},
): UserRunResult {
  const ram = new Ram(USER_RAM_BASE, opts.ramSize ?? 16 * 1024 * 1024, {
    shared: opts.shared,
  });
  const bus = new Bus(ram);
  const hart = new Hart(bus, { jitThreshold: opts.jitThreshold, jitSynchronous: true });
  const img = parseElf(elf);
  for (const s of img.segments) {
    const data = new Uint8Array(s.memsz);
    data.set(s.data);
    ram.write(Number(s.vaddr), data);
  }
  // PMP entry 0: NAPOT over everything, RWX, so U-mode may touch all of RAM.
  hart.mmu.pmp.writeAddr(0, -1, 0x3fffff);
  hart.mmu.pmp.writeCfg(0, 0x1f, 0);
  hart.mstatus |= MSTATUS_FS & (1 << 13); // FS = Initial
  hart.priv = PRIV_U;
  hart.updateMmuMode();
  hart.pc = img.entry;
  // Stack at the top of RAM, as an OS would give one.
  hart.regs.set(2, BigInt(USER_RAM_BASE + ram.size - 4096));
  const out: number[] = [];
  let exitCode: number | null = null;
  let error: string | null = null;
  let stopCause: number | null = null;
  const handlers = new Map<number, bigint>();
  const signals: DeliveredSignal[] = [];
  hart.trapHook = (cause) => {
    if (cause !== EXC_ECALL_U) {
      const signal = signalForCause(cause);
      const handler = handlers.get(SIGNAL_NUMBERS[signal]) ?? 0n;
      if (handler > 1n) {
        // SIG_DFL is 0, SIG_IGN 1: anything else is a handler.
        const tval = BigInt.asUintN(
          64,
          (BigInt(hart.trap.tvalHi) << 32n) | BigInt(hart.trap.tvalLo >>> 0),
        );
        signals.push({ signal, cause, pc: hart.pc, tval });
        hart.regs.set(10, BigInt(SIGNAL_NUMBERS[signal]));
        hart.pc = handler;
        return true;
      }
      stopCause = cause;
      error = `unexpected exception ${cause} at pc 0x${hart.pc.toString(16)} (tval ${hart.trap.tvalHi >>> 0}:${hart.trap.tvalLo >>> 0})`;
      hart.requestStop();
      return true;
    }
    const nr = Number(hart.regs.get(17));
    if (nr === SYS_WRITE) {
      const addr = Number(BigInt.asUintN(64, hart.regs.get(11)));
      const len = Number(hart.regs.get(12));
      const bytes = ram.read(addr, len);
      for (const b of bytes) out.push(b);
      hart.regs.set(10, BigInt(len));
    } else if (nr === SYS_RT_SIGACTION) {
      // rt_sigaction(sig, act, oldact, sigsetsize); struct sigaction { handler, flags, mask }.
      const sig = Number(hart.regs.get(10));
      const act = Number(BigInt.asUintN(64, hart.regs.get(11)));
      const old = Number(BigInt.asUintN(64, hart.regs.get(12)));
      if (old !== 0) {
        const o = new Uint8Array(24);
        new DataView(o.buffer).setBigUint64(0, handlers.get(sig) ?? 0n, true);
        ram.write(old, o);
      }
      if (act !== 0) {
        const a = ram.read(act, 8);
        handlers.set(sig, new DataView(a.buffer, a.byteOffset, 8).getBigUint64(0, true));
      }
      hart.regs.set(10, 0n);
    } else if (nr === SYS_EXIT || nr === SYS_EXIT_GROUP) {
      exitCode = Number(hart.regs.get(10) & 0xffn);
      hart.requestStop();
    } else {
      hart.regs.set(10, -38n); // ENOSYS
    }
    hart.pc = hart.pc + 4n;
    return true;
  };
  const max = opts.maxInstructions ?? 100_000_000;
  while (hart.instret < max) {
    const r = hart.run(100_000);
    if (r === StopReason.Halt) break;
    if (r === StopReason.Fault) {
      error = `internal error: ${hart.lastError}`;
      break;
    }
  }
  if (exitCode === null && error === null) error = `did not exit within ${max} instructions`;
  const signal = stopCause === null ? null : signalForCause(stopCause);
  return {
    exitCode,
    stdout: Uint8Array.from(out),
    error,
    signal,
    cause: stopCause,
    signals,
    instret: hart.instret,
    hart,
  };
}
