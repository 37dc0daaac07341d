// Starts one VMM (`berth vmm --config FILE`) as a process of its own: a small `sh` wrapper in
// a new session (setsid, through spawn's `detached`), stdio to the guest's log file and no
// pipe to the daemon, so it outlives the daemon. The wrapper waits for the VMM and writes its
// exit status to a file, so that whoever supervises it later (this daemon or the next one)
// learns how it ended, even after `kill -9` of the VMM. The wrapper also puts itself (so the
// VMM too) into the guest's cgroup and drops to the VMM's user before the VMM starts. A TAP
// device the daemon made for the guest is handed down as descriptor 3 (guestNetwork.ts).

import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_ENV, NODE_FLAGS } from '../vmm/nodeFlags.js';

/** dist/src/cli/main.js, from dist/src/host/: the `berth` command the VMMs run. */
export const BERTH_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

// Joins the guest's cgroup (each cgroup.procs file, one a line) before anything else runs,
// then runs the VMM, as another user through util-linux's setpriv when one is given.
const WRAPPER = `trap '' HUP
umask 077
code=0
IFS='
'
for f in $BERTH_CGROUP_PROCS; do
  echo $$ > "$f" || { echo "berth: cannot join the cgroup $f" >&2; code=125; }
done
unset IFS
if [ "$code" = 0 ]; then
  if [ -n "$BERTH_VMM_UID" ]; then
    setpriv --reuid="$BERTH_VMM_UID" --regid="$BERTH_VMM_GID" --clear-groups --no-new-privs \\
      -- "$0" "$@"
  else
    "$0" "$@"
  fi
  code=$?
fi
echo "$code" > "$BERTH_EXIT_FILE.tmp" && mv -f "$BERTH_EXIT_FILE.tmp" "$BERTH_EXIT_FILE"`;

export interface LaunchPaths {
  config: string;
  log: string;
  exit: string;
  /** cgroup.procs files the wrapper joins before it starts the VMM. */
  cgroupProcs?: string[];
  /** Run the VMM as this user and group (the wrapper stays the daemon's user). */
  user?: { uid: number; gid: number };
  /** A descriptor the wrapper and the VMM get as their descriptor 3 (a TAP device). */
  tapFd?: number;
}

/** Starts the wrapper and its VMM; returns the wrapper's PID (it leads the session). */
export function launchVmm(paths: LaunchPaths, berthMain = BERTH_MAIN): Promise<number> {
  rmSync(paths.exit, { force: true });
  const log = openSync(paths.log, 'a', 0o600);
  const env = { ...process.env };
  // A Node.js that inherits these takes descriptor 3 for an IPC channel.
  delete env.NODE_CHANNEL_FD;
  delete env.NODE_CHANNEL_SERIALIZATION_MODE;
  try {
    const child = spawn(
      'sh',
      ['-c', WRAPPER, process.execPath, ...NODE_FLAGS, berthMain, 'vmm', '--config', paths.config],
      {
        detached: true,
        stdio: paths.tapFd === undefined ? ['ignore', log, log] : ['ignore', log, log, paths.tapFd],
        env: {
          ...env,
          ...NODE_ENV,
          BERTH_EXIT_FILE: paths.exit,
          BERTH_CGROUP_PROCS: (paths.cgroupProcs ?? []).join('\n'),
          BERTH_VMM_UID: paths.user ? String(paths.user.uid) : '',
          BERTH_VMM_GID: paths.user ? String(paths.user.gid) : '',
        },
      },
    );
    child.unref();
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', (e) => reject(new Error(`cannot start the VMM: ${e.message}`)));
    });
  } finally {
    closeSync(log);
  }
}

/** The VMM's exit status from the wrapper's file: a number, or null while it runs. */
export function readExitStatus(path: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(n) ? n : null;
  } catch {
    return null;
  }
}

/** True when `pid` is a live (not zombie) process whose command line mentions `marker`. */
export function isOurProcess(pid: number | null, marker: string): boolean {
  if (pid === null || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes(marker);
  } catch {
    return false;
  }
}

/** The children of process `pid` (from /proc; none when it is gone). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1');
      for (const c of text.split(' ')) if (/^\d+$/.test(c)) out.push(Number(c));
    }
  } catch {
    // gone
  }
  return out;
}

/** Sends a signal to a process (or, negative, a process group), ignoring one that is gone. */
export function signal(pid: number | null, sig: NodeJS.Signals): void {
  if (pid === null || Math.abs(pid) <= 1) return;
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** What an exit status means for the guest. */
export function describeExit(code: number | null): { clean: boolean; detail: string } {
  if (code === null) return { clean: false, detail: 'the VMM vanished (no exit status)' };
  if (code === 0) return { clean: true, detail: 'the guest powered off' };
  if (code === 1) return { clean: false, detail: 'exit status 1: the guest reported a failure' };
  if (code === 3) return { clean: false, detail: 'exit status 3: internal error of the VMM' };
  if (code === 125) return { clean: false, detail: 'the VMM could not join its cgroup' };
  if (code > 128) return { clean: false, detail: `the VMM was killed by signal ${code - 128}` };
  return { clean: false, detail: `exit status ${code}` };
}
