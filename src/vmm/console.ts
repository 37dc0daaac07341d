// The guest console on the host's terminal or pipes. On a terminal: raw mode,
// and Ctrl-A then X quits (Ctrl-A Ctrl-A sends a Ctrl-A), as in QEMU. On a
// pipe: bytes pass through. Input waits in a queue until the guest's UART has
// room for it, so nothing typed or piped is lost.

const CTRL_A = 0x01;

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

  constructor(
    private readonly input: NodeJS.ReadableStream & {
      isTTY?: boolean;
      setRawMode?(raw: boolean): unknown;
    },
    private readonly output: NodeJS.WritableStream,
  ) {
    this.isTty = input.isTTY === true && typeof input.setRawMode === 'function';
    if (this.isTty) input.setRawMode!(true);
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.resume();
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
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.input.once('end', () => resolve()));
  }

  /** Queues one byte of guest output. */
  write(byte: number): void {
    this.out.push(byte);
  }

  flush(): void {
    if (this.out.length === 0) return;
    this.output.write(Buffer.from(this.out));
    this.out = [];
  }

  close(): void {
    this.flush();
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    if (this.isTty) this.input.setRawMode!(false);
    (this.input as NodeJS.ReadableStream & { pause(): void }).pause();
    this.wake();
  }
}
