// Drives `berth run` (or any console program) through pipes, the way a person
// at the serial console would: wait for text, type a line, wait again.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_ENV, NODE_FLAGS } from '../../src/vmm/nodeFlags.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/cli/main.js, from dist/test/integration/. */
export const BERTH_CLI = join(here, '..', '..', 'src', 'cli', 'main.js');

export class ConsoleSession {
  readonly child: ChildProcessWithoutNullStreams;
  output = '';
  stderr = '';
  private seen = 0;
  readonly exited: Promise<number | null>;
  /** Waits of expect() for more output (or the exit), woken as it arrives. */
  private readonly waiting = new Set<() => void>();

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.child.stdout.on('data', (d: Buffer) => {
      this.output += d.toString('latin1');
      this.wake();
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        resolve(code);
        this.wake();
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiting) w();
    this.waiting.clear();
  }

  /** Resolves when more output (or the exit) comes, or after `ms`. */
  private more(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
    });
  }

  static readonly cliPath = BERTH_CLI;

  /** qemu-system-riscv64 on the virt board with the given guest files, console on stdio. */
  static qemu(
    files: { firmwarePath: string; kernelPath: string; initrdPath: string },
    memory = '256M',
    extra: string[] = [],
  ): ConsoleSession {
    return new ConsoleSession('qemu-system-riscv64', [
      ...['-M', 'virt', '-m', memory, '-nographic', '-bios', files.firmwarePath],
      ...['-kernel', files.kernelPath, '-initrd', files.initrdPath, '-append', 'console=ttyS0'],
      ...extra,
    ]);
  }

  static berth(args: string[]): ConsoleSession {
    return new ConsoleSession(process.execPath, [...NODE_FLAGS, BERTH_CLI, 'run', ...args], {
      ...process.env,
      ...NODE_ENV,
    });
  }

  /** Waits until output after the last match contains `pattern`; returns the text up to the match. */
  async expect(pattern: RegExp | string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.output.slice(this.seen);
      const m = typeof pattern === 'string' ? rest.indexOf(pattern) : rest.search(pattern);
      if (m >= 0) {
        const len =
          typeof pattern === 'string'
            ? pattern.length
            : (rest.slice(m).match(pattern)?.[0].length ?? 0);
        this.seen += m + len;
        return rest.slice(0, m + len);
      }
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `did not see ${String(pattern)} within ${timeoutMs} ms (exit ${this.child.exitCode});\n` +
            `--- output tail ---\n${this.output.slice(-2000)}\n--- stderr ---\n${this.stderr.slice(-2000)}`,
        );
      }
      // Woken by the output itself: times taken around expect() are not rounded up to a poll.
      await this.more(Math.min(1000, Math.max(1, deadline - Date.now())));
    }
  }

  send(text: string): void {
    this.child.stdin.write(text);
  }

  /**
   * Types a command and returns what it printed. The command is wrapped in
   * echoes of start and end markers typed with an empty quote inside
   * (`__start_''id`), so the shell's echo of the typed line (which may wrap
   * and redraw) never matches the markers it prints.
   */
  async run(command: string, timeoutMs = 60_000): Promise<string> {
    const id = Math.random().toString(36).slice(2, 8);
    this.send(`echo __start_''${id}; ${command}; echo __done_''${id}\n`);
    await this.expect(`__start_${id}`, timeoutMs);
    const text = await this.expect(`__done_${id}`, timeoutMs);
    return text
      .slice(0, text.length - `__done_${id}`.length)
      .replace(/\r/g, '')
      .replace(/^\n/, '');
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
