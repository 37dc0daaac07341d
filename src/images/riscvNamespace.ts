// Running Debian's own tools over riscv64 files on a host of another architecture: a process
// tree in user, mount and PID namespaces of its own, in which binfmt_misc (one instance per user
// namespace since Linux 6.7) hands riscv64 ELF executables to Debian's static qemu-user
// (package qemu-user-static). The registration lives and ends with the namespace: nothing on the
// host changes, and a chroot (mmdebstrap's) runs riscv64 maintainer scripts as if native.
// Root on the host is root inside, with the first 65,536 user and group IDs mapped as they are,
// so files the tools make keep their owners (dpkg chowns to system users).
//
// API
//   const code = await runInRiscvNamespace(['mmdebstrap', ...], { onLine });   // exit status
//   riscvNamespaceProblem()   why this host cannot, or undefined

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readlinkSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { ImageError } from './errors.js';

/** Debian's statically linked qemu-user: opened once at registration ('F'), so chroots need no copy. */
export const QEMU_STATIC = '/usr/bin/qemu-riscv64-static';

/**
 * The binfmt_misc rule for riscv64 ELF executables and shared objects (from the ELF header:
 * class 64-bit, little-endian, version 1, any OS ABI, type EXEC or DYN, machine 0xf3 = RISC-V).
 * Flags: F opens the interpreter now (it need not exist in the chroot), P passes argv[0] on
 * (multi-call programs see the name they were started by).
 */
const BINFMT_RULE =
  ':berth-riscv64:M::' +
  '\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xf3\\x00:' +
  '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:' +
  `${QEMU_STATIC}:FP`;

/** How many user and group IDs map into the namespace, from 0 (system users and nobody). */
const ID_COUNT = 65536;

/** Seconds the command has to end after Berth is gone, before all it started is killed. */
const GRACE_S = 10;

/**
 * The shell that runs first inside, as the PID namespace's init: waits for its ID maps, registers
 * riscv64 and runs the command. Its stdin stays open as long as the Berth process lives: at
 * end-of-file (Berth killed, even with SIGKILL) the command gets SIGTERM, and whatever is left in
 * the namespace SIGKILL GRACE_S seconds later; when this shell ends, the kernel kills the rest.
 * mmdebstrap, told to stop while it installs packages, waits for the step to end (minutes of
 * apt and dpkg) before it cleans up; what it leaves is the caller's to remove (debianDistro.ts
 * gives it a temporary folder of its own).
 */
const INNER = [
  'read -r _ || exit 97',
  'mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || exit 98',
  `printf '%s' '${BINFMT_RULE}' > /proc/sys/fs/binfmt_misc/register || exit 99`,
  '"$@" < /dev/null &',
  'command=$!',
  'exec 3<&0', // a background job's stdin would be /dev/null
  `(cat <&3 > /dev/null; kill -TERM "$command"; sleep ${GRACE_S}; kill -KILL -1) 2> /dev/null &`,
  'wait "$command"',
].join('\n');

const INNER_FAILURES: Record<number, string> = {
  97: 'its user ID map was never written',
  98: 'binfmt_misc could not be mounted in a user namespace (it needs Linux 6.7 or later)',
  99: `the riscv64 rule could not be registered with binfmt_misc (is ${QEMU_STATIC} there?)`,
};

/** Why riscv64 programs cannot be run in a namespace here, or undefined when they can. */
export function riscvNamespaceProblem(): string | undefined {
  if (process.platform !== 'linux') return 'it needs Linux';
  if (process.getuid?.() !== 0) {
    return 'it needs root (it maps 65,536 user IDs into a user namespace, so that the packages keep their owners): run it with sudo';
  }
  if (!existsSync(QEMU_STATIC)) {
    return `${QEMU_STATIC} is missing: install it with 'sudo apt-get install qemu-user-static'`;
  }
  const r = spawnSync('unshare', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return "unshare is missing: install it with 'sudo apt-get install util-linux'";
  }
  return undefined;
}

export interface NamespaceRunOptions {
  /** Each line the command prints (stdout and stderr). */
  onLine?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `argv` as root in new user, mount and PID namespaces where riscv64 executables run under
 * qemu-user; resolves to its exit status (a signal's number + 128). Throws an ImageError when the
 * namespace itself cannot be made.
 */
export async function runInRiscvNamespace(
  argv: string[],
  opts: NamespaceRunOptions = {},
): Promise<number> {
  const problem = riscvNamespaceProblem();
  if (problem) throw new ImageError('UNSUPPORTED', `cannot run riscv64 programs here: ${problem}`);
  const child = spawn(
    'unshare',
    [
      ...['--user', '--mount', '--pid', '--fork', '--mount-proc', '--kill-child'],
      ...['--', 'bash', '-c', INNER, 'berth-riscv64', ...argv],
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env },
  );
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new ImageError('UNSUPPORTED', `unshare: ${e.message}`)));
    child.on('close', (code, signal) =>
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)),
    );
  });
  for (const stream of [child.stdout, child.stderr]) {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => opts.onLine?.(line));
  }
  try {
    await writeIdMaps(child.pid!);
  } catch (e) {
    child.kill('SIGKILL');
    await exited.catch(() => 0);
    throw e;
  }
  child.stdin.write('go\n'); // and kept open: see INNER
  const code = await exited;
  child.stdin.destroy();
  const inner = INNER_FAILURES[code];
  if (inner) throw new ImageError('UNSUPPORTED', `cannot run riscv64 programs here: ${inner}`);
  return code;
}

/** Waits until `pid` is in a user namespace of its own, then maps IDs 0..ID_COUNT-1 into it. */
async function writeIdMaps(pid: number): Promise<void> {
  const ours = readlinkSync('/proc/self/ns/user');
  const deadline = Date.now() + 10_000;
  for (;;) {
    let theirs: string | undefined;
    try {
      theirs = readlinkSync(`/proc/${pid}/ns/user`);
    } catch {
      theirs = undefined; // not started yet, or gone
    }
    if (theirs !== undefined && theirs !== ours) break;
    if (Date.now() > deadline) {
      throw new ImageError('UNSUPPORTED', 'unshare did not make a user namespace within 10 s');
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  try {
    writeFileSync(`/proc/${pid}/uid_map`, `0 0 ${ID_COUNT}\n`);
    writeFileSync(`/proc/${pid}/gid_map`, `0 0 ${ID_COUNT}\n`);
  } catch (e) {
    throw new ImageError(
      'UNSUPPORTED',
      `cannot map user IDs into the namespace: ${(e as Error).message}`,
    );
  }
}
