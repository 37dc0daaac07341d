// Bare-metal test harness: builds RISC-V assembly test programs with Debian's
// cross gcc, loads them into a minimal machine (RAM + bus + hart, a test
// device and a small CLINT-like timer) and runs them in M-mode until they
// report PASS or FAIL through the test device.
//
// Memory map of the test machine:
//   0x00100000  test device (sifive,test1 semantics)
//                 +0x00  finisher, 32-bit write: 0x5555 = pass and stop,
//                        0x3333 | (code << 16) = fail with `code`, anything else = fail
//                 +0x10  console, byte write: appends the byte to the output
//   0x02000000  timer (a subset of the CLINT)
//                 +0x0000 msip (bit 0 drives mip.MSIP)
//                 +0x4000 mtimecmp (64-bit, as two 32-bit halves; MTIP = mtime >= mtimecmp)
//                 +0xbff8 mtime (64-bit, read-only)
//   0x80000000  RAM (32 MiB by default); programs are linked here.
// Time is deterministic: mtime advances by one tick per retired instruction
// (counted by the harness, so rewriting minstret does not move it),
// and when the hart sleeps in WFI it jumps to the next timer deadline
// (mtimecmp, or stimecmp when menvcfg.STCE is set), as an idle VMM would.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { Bus, type MmioDevice } from '../../src/machine/bus.js';
import { Ram } from '../../src/machine/ram.js';
import { MIP_MSIP, MIP_MTIP } from '../../src/machine/hart/causes.js';
import { MENVCFG_STCE } from '../../src/machine/hart/csr.js';
import { Hart, StopReason } from '../../src/machine/hart/hart.js';
import { parseElf } from '../../src/machine/loader/elf.js';

export const TEST_DEVICE_BASE = 0x100000;
export const TIMER_BASE = 0x2000000;
export const RAM_BASE = 0x80000000;

const CROSS_GCC = 'riscv64-linux-gnu-gcc';
const GCC_FLAGS = [
  '-nostdlib',
  '-nostartfiles',
  '-static',
  '-march=rv64gc_zba_zbb_zbc_zbs_zihintpause',
  '-mabi=lp64d',
  '-mcmodel=medany',
  '-mno-relax',
  '-Wl,--no-relax',
  '-no-pie',
  '-Wl,--build-id=none',
  '-Wl,--no-warn-rwx-segments',
];

export class BaremetalError extends Error {}

/** The test device: a sifive,test1 finisher plus a byte console. */
export class TestDevice implements MmioDevice {
  status: 'running' | 'pass' | 'fail' = 'running';
  code = 0;
  readonly output: number[] = [];
  constructor(private readonly onFinish: () => void) {}

  read(_offset: number, _size: number): number {
    return 0;
  }

  write(offset: number, _size: number, value: number): void {
    if (offset === 0) {
      if (this.status !== 'running') return;
      if ((value & 0xffff) === 0x5555) {
        this.status = 'pass';
      } else {
        this.status = 'fail';
        this.code = (value & 0xffff) === 0x3333 ? value >>> 16 : value >>> 0;
      }
      this.onFinish();
    } else if (offset === 0x10) {
      this.output.push(value & 0xff);
    }
  }
}

/** mtime, mtimecmp and msip of a CLINT, for one hart. */
export class TestTimer implements MmioDevice {
  mtimecmp = Number.MAX_SAFE_INTEGER;
  /** Ticks of the slices run so far, plus the jumps made while the hart slept. */
  elapsed = 0;
  private hart: Hart | null = null;
  private sliceStart = 0;
  private sliceLen = 0;

  attach(hart: Hart): void {
    this.hart = hart;
  }

  /** Called before each slice of `len` instructions. */
  beginSlice(len: number): void {
    this.sliceStart = this.hart === null ? 0 : this.hart.currentInstret();
    this.sliceLen = len;
  }

  /** Called after the slice: time moves on by the instructions it retired. */
  endSlice(): void {
    this.elapsed += this.inSlice();
    this.sliceLen = 0;
  }

  /** Instructions retired in the current slice (clamped: a guest may rewrite minstret). */
  private inSlice(): number {
    if (this.hart === null) return 0;
    return Math.min(this.sliceLen, Math.max(0, this.hart.currentInstret() - this.sliceStart));
  }

  now(): number {
    return this.elapsed + this.inSlice();
  }

  /** Drives mip.MTIP from mtime and mtimecmp. */
  sync(): void {
    const h = this.hart;
    if (h === null) return;
    if (this.now() >= this.mtimecmp) h.mip |= MIP_MTIP;
    else h.mip &= ~MIP_MTIP;
  }

  read(offset: number, size: number): number {
    if (size !== 4) return 0;
    if (offset === 0) return this.hart !== null && (this.hart.mip & MIP_MSIP) !== 0 ? 1 : 0;
    if (offset === 0x4000) return this.mtimecmp % 2 ** 32;
    if (offset === 0x4004) return Math.floor(this.mtimecmp / 2 ** 32);
    if (offset === 0xbff8) return this.now() % 2 ** 32;
    if (offset === 0xbffc) return Math.floor(this.now() / 2 ** 32);
    return 0;
  }

  write(offset: number, size: number, value: number): void {
    const h = this.hart;
    if (size !== 4 || h === null) return;
    const v = value >>> 0;
    if (offset === 0) {
      if (v & 1) h.mip |= MIP_MSIP;
      else h.mip &= ~MIP_MSIP;
    } else if (offset === 0x4000) {
      this.mtimecmp = Math.floor(this.mtimecmp / 2 ** 32) * 2 ** 32 + v;
    } else if (offset === 0x4004) {
      // Values beyond 2^53 behave as "never" here.
      this.mtimecmp = Math.min(
        (v & 0x1fffff) * 2 ** 32 + (this.mtimecmp % 2 ** 32),
        Number.MAX_SAFE_INTEGER,
      );
      if (v > 0x1fffff) this.mtimecmp = Number.MAX_SAFE_INTEGER;
    }
    this.sync();
  }
}

export interface BaremetalResult {
  status: 'pass' | 'fail' | 'timeout' | 'fault' | 'deadlock';
  /** Failure code written to the finisher (by convention the source line of the failed check). */
  code: number;
  /** What the program printed through the console register. */
  output: string;
  instret: number;
  /** Guest instructions translated into blocks (jit/), 0 when the hart only interprets. */
  translated: number;
  /** One line about the hart when the run ended (pc, privilege, trap CSRs). */
  summary: string;
}

export interface RunOptions {
  ramSize?: number;
  maxInstructions?: number;
  /** Instructions per slice; the timer is synchronised between slices. */
  slice?: number;
  /**
   * The hart's jitThreshold (0: interpret only); when given, blocks are
   * compiled at once (jitSynchronous) so that translated code runs in this
   * synchronous loop. Default: the hart's own.
   */
  jitThreshold?: number;
}

function hex(v: bigint | number): string {
  return '0x' + BigInt.asUintN(64, BigInt(v)).toString(16);
}

function pair(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function describe(h: Hart): string {
  return (
    `pc=${hex(h.pc)} priv=${h.priv} mcause=${hex(pair(h.mcauseLo, h.mcauseHi))} ` +
    `mepc=${hex(pair(h.mepcLo, h.mepcHi))} mtval=${hex(pair(h.mtvalLo, h.mtvalHi))} ` +
    `scause=${hex(pair(h.scauseLo, h.scauseHi))} sepc=${hex(pair(h.sepcLo, h.sepcHi))} ` +
    `mstatus=${hex(h.mstatus)} instret=${h.instret}`
  );
}

/** Loads an ELF test program and runs it from its entry point in M-mode. */
export function runBaremetal(elf: Uint8Array, opts: RunOptions = {}): BaremetalResult {
  const ram = new Ram(RAM_BASE, opts.ramSize ?? 32 * 1024 * 1024);
  const bus = new Bus(ram);
  const timer = new TestTimer();
  const hart = new Hart(bus, {
    readTime: () => timer.now(),
    ...(opts.jitThreshold !== undefined
      ? { jitThreshold: opts.jitThreshold, jitSynchronous: true }
      : {}),
  });
  const dev = new TestDevice(() => hart.requestStop());
  bus.map('test', TEST_DEVICE_BASE, 0x1000, dev);
  bus.map('timer', TIMER_BASE, 0x10000, timer);
  timer.attach(hart);
  const img = parseElf(elf);
  for (const s of img.segments) {
    const data = new Uint8Array(s.memsz);
    data.set(s.data);
    ram.write(Number(s.paddr), data);
  }
  hart.pc = img.entry;
  const max = opts.maxInstructions ?? 5_000_000;
  const slice = opts.slice ?? 500;
  let status: BaremetalResult['status'] | null = null;
  let detail = '';
  while (status === null) {
    timer.sync();
    timer.beginSlice(slice);
    const r = hart.run(slice);
    timer.endSlice();
    if (dev.status !== 'running') {
      status = dev.status;
    } else if (r === StopReason.Fault) {
      status = 'fault';
      detail = ` internal error: ${hart.lastError}`;
    } else if (r === StopReason.Halt) {
      status = 'fault';
      detail = ' hart halted without a verdict';
    } else if (r === StopReason.Wfi) {
      // Sleep until the next timer deadline, if there is one ahead.
      const now = timer.now();
      let next = timer.mtimecmp;
      if ((hart.menvcfgHi & MENVCFG_STCE) !== 0) {
        const st = (hart.stimecmpHi >>> 0) * 2 ** 32 + (hart.stimecmpLo >>> 0);
        if (st > now && st < next) next = st;
      }
      if (next <= now || next >= Number.MAX_SAFE_INTEGER) {
        status = 'deadlock';
        detail = ' hart sleeps in WFI with no interrupt that can wake it';
      } else {
        timer.elapsed += next - now;
      }
    } else if (hart.instret >= max) {
      status = 'timeout';
      detail = ` no verdict within ${max} instructions`;
    }
  }
  return {
    status,
    code: dev.code,
    output: Buffer.from(dev.output).toString('latin1'),
    instret: hart.instret,
    translated: hart.blocks?.instructions ?? 0,
    summary: describe(hart) + detail,
  };
}

/** The cross compiler's version line, or an error naming the Debian package to install. */
export function checkCrossGcc(): string {
  const r = spawnSync(CROSS_GCC, ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new BaremetalError(
      `${CROSS_GCC} is needed to build the bare-metal tests but could not be run ` +
        `(${r.error?.message ?? r.stderr.trim()}). Install Debian's package gcc-riscv64-linux-gnu: ` +
        `sudo apt-get install gcc-riscv64-linux-gnu`,
    );
  }
  return r.stdout.split('\n')[0];
}

export interface BuildInput {
  /** The test program (.S). */
  source: string;
  /** Other sources linked with it (the runtime). */
  extraSources: string[];
  /** Directory searched for #include. */
  includeDir: string;
  linkerScript: string;
  /** Where built ELF files are cached (keyed by a hash of every input). */
  cacheDir?: string;
}

/** Builds a test program into an ELF, reusing a cached build when no input changed. */
export function buildBaremetal(input: BuildInput): Uint8Array {
  const hash = createHash('sha256');
  hash.update(GCC_FLAGS.join(' '));
  for (const f of [input.source, ...input.extraSources, input.linkerScript]) {
    hash.update(f).update('\0').update(readFileSync(f)).update('\0');
  }
  // Headers: everything in the include directory that ends in .h.
  for (const h of readdirSync(input.includeDir)
    .filter((n) => n.endsWith('.h'))
    .sort()) {
    hash.update(h).update(readFileSync(join(input.includeDir, h)));
  }
  const dir = input.cacheDir ?? join(tmpdir(), 'berth-baremetal');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${basename(input.source, '.S')}-${hash.digest('hex').slice(0, 16)}.elf`);
  if (existsSync(out)) return readFileSync(out);
  checkCrossGcc();
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(
    CROSS_GCC,
    [
      ...GCC_FLAGS,
      `-I${input.includeDir}`,
      '-T',
      input.linkerScript,
      '-o',
      tmp,
      ...input.extraSources,
      input.source,
    ],
    { encoding: 'utf8' },
  );
  if (r.error !== undefined || r.status !== 0) {
    throw new BaremetalError(
      `building ${input.source} failed:\n${r.error?.message ?? ''}${r.stderr}`,
    );
  }
  renameSync(tmp, out);
  return readFileSync(out);
}
