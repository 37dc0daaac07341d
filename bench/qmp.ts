// A small client of QEMU's machine protocol (QMP) on a UNIX socket, for benchmarks that drive
// qemu-system-riscv64: connect (retrying while QEMU starts), leave capabilities negotiation,
// then one command at a time; events QEMU sends meanwhile are skipped.
//
//   const q = await Qmp.connect('/tmp/x/qmp.sock', 10_000);
//   await q.command('stop');
//   const m = await q.command<{ status: string }>('query-migrate');

import { connect, type Socket } from 'node:net';

type Reply = { return?: unknown; error?: { class: string; desc: string }; event?: string };

export class Qmp {
  private buf = '';
  private waiting: ((r: Reply) => void) | null = null;
  private failed: Error | null = null;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (line === '') continue;
        const r = JSON.parse(line) as Reply;
        if (r.event !== undefined) continue;
        const w = this.waiting;
        this.waiting = null;
        w?.(r);
      }
    });
    sock.on('error', (e) => (this.failed = e));
    sock.on('close', () => {
      this.failed ??= new Error('QEMU closed its QMP socket');
      const w = this.waiting;
      this.waiting = null;
      w?.({ error: { class: 'closed', desc: this.failed.message } });
    });
  }

  /** Connects to `path` (trying again until QEMU has made it) and enters command mode. */
  static async connect(path: string, timeoutMs: number): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sock = await new Promise<Socket | null>((resolve) => {
        const s = connect(path);
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(null));
      });
      if (sock !== null) {
        const q = new Qmp(sock);
        await q.next(); // the greeting
        await q.command('qmp_capabilities');
        return q;
      }
      if (Date.now() > deadline) throw new Error(`no QMP socket at ${path} in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private next(): Promise<Reply> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Runs `execute` with `args`; returns QEMU's answer or throws its error. */
  async command<T = unknown>(execute: string, args?: Record<string, unknown>): Promise<T> {
    const answer = this.next();
    this.sock.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
    const r = await answer;
    if (r.error) throw new Error(`QMP ${execute}: ${r.error.desc}`);
    return r.return as T;
  }

  /** Polls `query` every few milliseconds until `done` holds of its answer; returns that answer. */
  async until<T>(query: string, done: (r: T) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.command<T>(query);
      if (done(r)) return r;
      if (Date.now() > deadline) throw new Error(`QMP ${query}: still ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 2));
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
