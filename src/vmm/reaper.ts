// Removes a VMM's files when the VMM dies without removing them itself (SIGKILL, a crash):
// its control socket and its disk-lock files. A small shell child (sh and awk, both in every
// Debian base system) is handed each file as it is made and dropped as it is removed, over its
// stdin; when that pipe closes (the VMM exited, however it ended) it removes the files still
// listed, then empty directories listed, and exits. Signals to the process group (Ctrl-C on a
// terminal) do not stop it. A clean VMM has already removed everything, so the child finds
// nothing left to do. When the VMM's console is this terminal, the child also puts the
// terminal back in the mode it had before, if it still is in the VMM's raw mode (a shell like
// bash restores it itself, and then is not disturbed).
//
//   reaper.track(socketPath);      // made
//   reaper.untrack(socketPath);    // removed by us

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

const SCRIPT = `trap '' INT TERM HUP QUIT
awk '
/^\\+/ { s[substr($0, 2)] = 1; next }
/^-/ { delete s[substr($0, 2)]; next }
/^=/ { raw = $0 }
END {
  for (f in s) if (f !~ /^d:/) print f
  for (f in s) if (f ~ /^d:/) print f
  if (raw != "") print raw
}' |
while IFS= read -r f; do
  case $f in
    d:*) rmdir -- "\${f#d:}" 2>/dev/null ;;
    =*) [ -n "$1" ] && [ "$(stty -g <&3 2>/dev/null)" = "\${f#=}" ] && stty "$1" <&3 2>/dev/null ;;
    *) rm -f -- "$f" ;;
  esac
done`;

class Reaper {
  private child: ChildProcess | null = null;
  private readonly tracked = new Set<string>();
  private enabled = false;
  private restoresTerminal = false;

  /**
   * Starts the child; from now on tracked files outlive no VMM. With `terminal`, the terminal
   * on stdin gets its present mode back when the VMM dies. Idempotent.
   */
  enable(opts: { terminal?: boolean } = {}): void {
    if (this.enabled) return;
    this.enabled = true;
    let mode = '';
    if (opts.terminal) {
      const r = spawnSync('stty', ['-g'], { stdio: [0, 'pipe', 'ignore'], encoding: 'utf8' });
      if (r.status === 0) mode = r.stdout.trim();
    }
    this.restoresTerminal = mode !== '';
    const child = spawn('sh', ['-c', SCRIPT, 'berth-reaper', mode], {
      stdio: ['pipe', 'ignore', 'ignore', mode ? 0 : 'ignore'],
    });
    child.on('error', () => {
      this.child = null; // no sh: files are still removed on every orderly exit
    });
    child.stdin!.on('error', () => {});
    child.unref();
    (child.stdin as unknown as { unref?(): void }).unref?.();
    this.child = child;
    for (const f of this.tracked) this.send(`+${f}`);
  }

  /** The file `path` (or, with dir, the directory when empty) is removed when the VMM dies. */
  track(path: string, opts: { dir?: boolean } = {}): void {
    const entry = opts.dir ? `d:${path}` : path;
    if (path.includes('\n') || this.tracked.has(entry)) return;
    this.tracked.add(entry);
    this.send(`+${entry}`);
  }

  /** The VMM removed `path` itself (or handed it on). */
  untrack(path: string, opts: { dir?: boolean } = {}): void {
    const entry = opts.dir ? `d:${path}` : path;
    if (!this.tracked.delete(entry)) return;
    this.send(`-${entry}`);
  }

  /** The terminal is now in the VMM's raw mode: the mode to undo if the VMM dies in it. */
  noteTerminalMode(): void {
    if (!this.restoresTerminal) return;
    const r = spawnSync('stty', ['-g'], { stdio: [0, 'pipe', 'ignore'], encoding: 'utf8' });
    if (r.status === 0) this.send(`=${r.stdout.trim()}`);
  }

  /** Process id of the child, for tests. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private send(line: string): void {
    if (this.child?.stdin?.writable) this.child.stdin.write(`${line}\n`);
  }
}

/** The one reaper of this process. */
export const reaper = new Reaper();
