// The reference side of the differential tests: assembles programs with the
// riscv64 cross gcc and runs them under qemu-riscv64 (user mode), all through
// child_process.execFile with files in a private directory under os.tmpdir().

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GCC = 'riscv64-linux-gnu-gcc';
export const QEMU = 'qemu-riscv64';
export const OBJDUMP = 'riscv64-linux-gnu-objdump';
/**
 * The hart is RV64GC with Zba, Zbb, Zbc, Zbs and Zihintpause, which QEMU 7.2's
 * rv64 CPU enables by default; named here so that a QEMU with other defaults
 * still checks them (the property names are QEMU 7.2's).
 */
export const QEMU_CPU = 'rv64,zba=true,zbb=true,zbc=true,zbs=true,Zihintpause=true';
const GCC_FLAGS = [
  '-march=rv64gc_zba_zbb_zbc_zbs_zihintpause',
  '-mabi=lp64d',
  '-nostdlib',
  '-static',
  '-Wl,-Ttext-segment=0x80000000',
  '-Wl,--build-id=none',
  '-x',
  'assembler',
];

export class ToolchainError extends Error {}

interface ExecResult {
  stdout: Buffer;
  stderr: string;
  code: number | null;
  signal: string | null;
}

/** Child processes still running (the temporary directory is removed only when none is). */
let running = 0;

function run(cmd: string, args: string[], cwd?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    running++;
    execFile(
      cmd,
      args,
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, cwd },
      (err, stdout, stderr) => {
        running--;
        const e = err as
          (NodeJS.ErrnoException & { code?: unknown; signal?: string | null }) | null;
        if (e && typeof e.code === 'string') {
          reject(
            new ToolchainError(e.code === 'ENOENT' ? `${cmd} not found` : `${cmd}: ${e.message}`),
          );
          return;
        }
        resolve({
          stdout,
          stderr: stderr.toString(),
          code: e ? ((e.code as number | undefined) ?? null) : 0,
          signal: e?.signal ?? null,
        });
      },
    );
  });
}

let workDir: string | null = null;
let closed = false;
let seq = 0;

/** The private temporary directory of this test process. */
export function tempDir(): string {
  if (closed) throw new ToolchainError('the differential tests are over: no more temporary files');
  if (workDir === null) workDir = mkdtempSync(join(tmpdir(), 'berth-diff-'));
  return workDir;
}

/** Removes the temporary directory (unless DIFF_KEEP is set) once no child process uses it. */
export async function removeTempDir(): Promise<void> {
  closed = true;
  while (running > 0) await new Promise((r) => setTimeout(r, 20));
  if (workDir !== null && !process.env.DIFF_KEEP) rmSync(workDir, { recursive: true, force: true });
  workDir = null;
}

/** Fails with a message that says what to install when gcc, qemu or objdump is missing. */
export async function checkTools(): Promise<void> {
  const missing: string[] = [];
  for (const [tool, pkg] of [
    [GCC, 'gcc-riscv64-linux-gnu'],
    [QEMU, 'qemu-user'],
    [OBJDUMP, 'binutils-riscv64-linux-gnu'],
  ]) {
    try {
      await run(tool, ['--version']);
    } catch {
      missing.push(`${tool} (Debian/Ubuntu package ${pkg})`);
    }
  }
  if (missing.length > 0) {
    throw new ToolchainError(
      `the differential tests need ${missing.join(', ')}: install them, e.g. ` +
        '`sudo apt-get install qemu-user gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu`',
    );
  }
}

/** Assembles and links `asm`; returns the ELF path and bytes. */
export async function assemble(
  asm: string,
  name: string,
  link: readonly string[] = [],
): Promise<{ path: string; elf: Uint8Array }> {
  const base = join(tempDir(), `${name}-${seq++}`);
  writeFileSync(base + '.S', asm);
  const r = await run(GCC, [...GCC_FLAGS, ...link, base + '.S', '-o', base]);
  if (r.code !== 0) {
    throw new ToolchainError(
      `assembling ${base}.S failed (a test generator bug):\n${r.stderr.slice(0, 4000)}`,
    );
  }
  if (!process.env.DIFF_KEEP) unlinkSync(base + '.S');
  return { path: base, elf: new Uint8Array(readFileSync(base)) };
}

/** Deletes a temporary file unless DIFF_KEEP is set. */
export function discard(path: string): void {
  if (!process.env.DIFF_KEEP) rmSync(path, { force: true });
}

export function writeTemp(name: string, bytes: Uint8Array): string {
  const p = join(tempDir(), `${name}-${seq++}`);
  writeFileSync(p, bytes, { mode: 0o755 });
  return p;
}

export interface QemuResult {
  stdout: Uint8Array;
  /** Exit status, or null when a signal ended the program. */
  exitCode: number | null;
  /** e.g. 'SIGILL' when the guest died of an unhandled signal. */
  signal: string | null;
  stderr: string;
}

/** Runs an ELF under qemu-riscv64 (core dumps off, in the temporary directory). */
export async function runQemu(path: string): Promise<QemuResult> {
  const r = await run(
    'sh',
    ['-c', 'ulimit -c 0; exec "$@"', 'sh', QEMU, '-cpu', QEMU_CPU, path],
    tempDir(),
  );
  if (r.code === 127) throw new ToolchainError(`${QEMU} not found: install qemu-user`);
  return {
    stdout: new Uint8Array(r.stdout),
    exitCode: r.signal ? null : r.code,
    signal: r.signal,
    stderr: r.stderr,
  };
}

/** objdump -d lines of `path` between two addresses (for failure reports). */
export async function disassemble(path: string, from: bigint, to: bigint): Promise<string> {
  const r = await run(OBJDUMP, [
    '-d',
    `--start-address=0x${from.toString(16)}`,
    `--stop-address=0x${to.toString(16)}`,
    path,
  ]);
  return r.stdout
    .toString()
    .split('\n')
    .filter((l) => /^\s+[0-9a-f]+:/.test(l))
    .join('\n');
}

/** objdump of one raw instruction (2 or 4 bytes). */
export async function disassembleWord(enc: number, len: 2 | 4): Promise<string> {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, enc >>> 0, true);
  const p = writeTemp('word', bytes.subarray(0, len));
  const r = await run(OBJDUMP, ['-D', '-b', 'binary', '-m', 'riscv:rv64', '-M', 'no-aliases', p]);
  const line =
    r.stdout
      .toString()
      .split('\n')
      .find((l) => /^\s+0:/.test(l)) ?? '';
  return line.replace(/^\s+0:\s+[0-9a-f]+\s+/, '').trim() || '(not disassembled)';
}

/** Runs async jobs with at most `n` in flight. */
export function limiter(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return <T>(job: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const start = (): void => {
        active++;
        job()
          .then(resolve, reject)
          .finally(() => {
            active--;
            queue.shift()?.();
          });
      };
      if (active < n) start();
      else queue.push(start);
    });
}
