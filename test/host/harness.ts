// Test harness for the host daemon: runs a real `berth daemon` process on a temporary state
// folder and socket, sends raw HTTP requests over its UNIX socket, runs the `berth` CLI against
// it, waits for conditions, runs code as a VMM's user, and lists the processes a test left (by
// the state folder in their
// command line).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

/** dist/src/cli/main.js, from dist/test/host/. */
export const BERTH_CLI = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'src',
  'cli',
  'main.js',
);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Answers are JSON of many shapes; tests read them freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Reply {
  status: number;
  body: Json;
  text: string;
}

const HTTP_TIMEOUT_MS = 150_000;

/** One HTTP request over a UNIX socket; `body` is sent as JSON unless it is a string. */
export function http(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data =
      body === undefined
        ? undefined
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = request(
      {
        socketPath: socket,
        method,
        path,
        headers: {
          ...(data
            ? { 'content-type': 'application/json', 'content-length': String(data.length) }
            : {}),
          ...headers,
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = null;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = null;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    // No request of a test waits for ever: the longest is a 60 s wait for an operation.
    req.setTimeout(HTTP_TIMEOUT_MS, () =>
      req.destroy(new Error(`${method} ${path}: no answer in ${HTTP_TIMEOUT_MS} ms`)),
    );
    req.end(data);
  });
}

/** Opens a guest's console WebSocket on the daemon; `onText` gets its output as it comes. */
export async function openGuestConsole(
  socket: string,
  name: string,
  onText: (text: string) => void,
  query = '',
): Promise<WebSocket> {
  const ws = new WebSocket(`ws+unix://${socket}:/v1/guests/${name}/console${query}`);
  ws.on('message', (d: Buffer) => onText(d.toString('latin1')));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`the console of ${name} did not open in 30 s`));
    }, 30_000);
    ws.once('open', () => (clearTimeout(timer), resolve(undefined)));
    ws.once('error', (e) => (clearTimeout(timer), reject(e)));
  });
  return ws;
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  ms = 20_000,
  every = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

export class DaemonProcess {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  /** `wrap`: a command the daemon runs under (e.g. setpriv and its options). */
  constructor(
    readonly stateDir: string,
    readonly socket: string,
    extra: string[] = [],
    wrap: string[] = [],
  ) {
    const command = [
      ...wrap,
      process.execPath,
      BERTH_CLI,
      'daemon',
      ...['--state-dir', stateDir, '--socket', socket, ...extra],
    ];
    this.child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }

  /** Waits until the API answers. */
  async ready(): Promise<this> {
    await until(
      `the daemon to serve ${this.socket} (output so far: ${this.output})`,
      async () => (await http(this.socket, 'GET', '/v1').catch(() => null))?.status === 200,
      30_000,
      100,
    );
    return this;
  }

  api(method: string, path: string, body?: unknown): Promise<Reply> {
    return http(this.socket, method, path, body);
  }

  /** Runs an action; for an operation, waits until it ends and returns it. */
  async act(name: string, body: Record<string, unknown>): Promise<Json> {
    const r = await this.api('PUT', `/v1/guests/${name}/state`, body);
    if (r.status !== 202) return r;
    // A start on a loaded host (ten VMMs starting on two cores) can take over a minute.
    for (let i = 0; ; i++) {
      const w = await this.api('GET', `${r.body.operation}/wait?timeout=60`);
      if (w.body.metadata?.status !== 'Running' || i === 9) return w.body.metadata;
    }
  }

  /**
   * SIGTERM, then the exit status; a daemon still running after `ms` is killed and the wait
   * fails with what it printed (a test never hangs on a daemon that does not stop).
   */
  async stop(ms = 20_000): Promise<number | null> {
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)));
    const code = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (code !== 'late') return code;
    this.child.kill('SIGKILL');
    await this.exited;
    throw new Error(
      `the daemon was still running ${ms} ms after SIGTERM; it printed: ${this.output.slice(-2000)}`,
    );
  }

  async guest(name: string): Promise<Json> {
    return (await this.api('GET', `/v1/guests/${name}`)).body.metadata;
  }
}

/** Runs the `berth` CLI against the daemon on `socket`; its exit status and output. */
export function berthCli(
  socket: string,
  ...args: string[]
): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BERTH_CLI, ...args, '--socket', socket], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** PIDs of live (not zombie) processes whose command line mentions `marker`. */
export function processesMentioning(marker: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (/\) [ZX] /.test(stat)) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'latin1').replace(/\0/g, ' ');
      if (cmd.includes(marker)) found.push({ pid: Number(entry), cmd });
    } catch {
      // gone
    }
  }
  return found;
}

export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** Kills every process that mentions `dir` (VMMs, daemons of a test) and removes the folder. */
export function killAndRemove(dir: string): void {
  for (const p of processesMentioning(dir)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Runs `node -e CODE` as `uid`:`gid` (root only: through setpriv); returns its output. */
export function asUser(uid: number, gid: number, code: string): string {
  const r = spawnSync(
    'setpriv',
    [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', process.execPath, '-e', code],
    { encoding: 'utf8' },
  );
  return (r.stdout + r.stderr).trim();
}
