// The guest console on the host's terminal or pipes. On a terminal: raw mode,
// and Ctrl-A then X quits (Ctrl-A Ctrl-A sends a Ctrl-A), as in QEMU. On a
// pipe: bytes pass through. Input waits in a queue until the guest's UART has
// room for it, so nothing typed or piped is lost. A VMM without a terminal
// passes no streams. Any number of other readers subscribe to the output (the
// control socket's console clients); the last 64 KiB are kept for replay, and
// inject() takes their input.

const CTRL_A = 0x01;
/** Bytes of recent output kept for readers who attach later. */
export const CONSOLE_REPLAY_BYTES = 64 * 1024;

type Input = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };

export class ConsoleIO {
  private readonly queue: number[] = [];
  private head = 0;
  private out: number[] = [];
  private escape = false;
  private waiter: (() => void) | null = null;
  /** Input arrived while nobody was waiting for it. */
  private unseen = false;
  /** True once the input stream has ended. */
  ended = false;
  /** Set when the user asked to quit (Ctrl-A X). */
  quitRequested = false;
  private readonly isTty: boolean;
  private readonly onData = (chunk: Buffer): void => this.push(chunk);
  private readonly onEnd = (): void => {
    this.ended = true;
  };

  private readonly readers = new Set<(chunk: Buffer) => void>();
  private ring: Buffer[] = [];
  private ringBytes = 0;

  constructor(
    private readonly input: Input | null,
    private readonly output: NodeJS.WritableStream | null,
  ) {
    this.isTty = input?.isTTY === true && typeof input.setRawMode === 'function';
    if (!input) {
      this.ended = true;
      return;
    }
    if (this.isTty) input.setRawMode!(true);
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.resume();
  }

  /** True when the console is a terminal (in raw mode while the VMM runs). */
  get isTerminal(): boolean {
    return this.isTty;
  }

  /** True when input comes from a pipe or file rather than a terminal. */
  get isPipe(): boolean {
    return this.input !== null && !this.isTty;
  }

  /** Input from another writer (a console client): passed on as it is. */
  inject(bytes: Uint8Array): void {
    for (const b of bytes) this.queue.push(b);
    this.wake();
  }

  /** Calls `reader` with each chunk of output from now on; returns the unsubscribe function. */
  subscribe(reader: (chunk: Buffer) => void): () => void {
    this.readers.add(reader);
    return () => this.readers.delete(reader);
  }

  /** The last CONSOLE_REPLAY_BYTES (at most) of output. */
  recent(): Buffer {
    const all = Buffer.concat(this.ring);
    return all.length > CONSOLE_REPLAY_BYTES
      ? all.subarray(all.length - CONSOLE_REPLAY_BYTES)
      : all;
  }

  private push(chunk: Buffer): void {
    for (const b of chunk) {
      if (this.isTty) {
        if (this.escape) {
          this.escape = false;
          if (b === 0x78 || b === 0x58) {
            this.quitRequested = true;
            continue;
          }
          if (b !== CTRL_A) continue;
        } else if (b === CTRL_A) {
          this.escape = true;
          continue;
        }
      }
      this.queue.push(b);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    this.unseen = w === null;
    if (w) w();
  }

  /** Number of input bytes waiting for the guest. */
  pending(): number {
    return this.queue.length - this.head;
  }

  /** Takes up to `max` waiting input bytes. */
  take(max: number): number[] {
    const n = Math.min(max, this.pending());
    const bytes = this.queue.slice(this.head, this.head + n);
    this.head += n;
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return bytes;
  }

  /**
   * Resolves when input arrives that came after the previous wait (or quit is
   * asked for); input that is already waiting but was not taken does not count,
   * so an idle guest without room for it does not spin. Never resolves after the
   * input has ended.
   */
  whenInput(): Promise<void> {
    if (this.unseen || this.quitRequested) {
      this.unseen = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Reads the whole input up front (deterministic runs on a pipe). */
  drain(): Promise<void> {
    const input = this.input;
    if (this.ended || !input) return Promise.resolve();
    return new Promise((resolve) => input.once('end', () => resolve()));
  }

  /** Queues one byte of guest output. */
  write(byte: number): void {
    this.out.push(byte);
  }

  flush(): void {
    if (this.out.length === 0) return;
    const chunk = Buffer.from(this.out);
    this.out = [];
    this.output?.write(chunk);
    for (const r of this.readers) r(chunk);
    this.ring.push(chunk);
    this.ringBytes += chunk.length;
    while (this.ringBytes - this.ring[0].length >= CONSOLE_REPLAY_BYTES) {
      this.ringBytes -= this.ring.shift()!.length;
    }
  }

  close(): void {
    this.flush();
    this.readers.clear();
    const input = this.input;
    if (input) {
      input.off('data', this.onData);
      input.off('end', this.onEnd);
      if (this.isTty) input.setRawMode!(false);
      (input as NodeJS.ReadableStream & { pause(): void }).pause();
    }
    this.wake();
  }
}
