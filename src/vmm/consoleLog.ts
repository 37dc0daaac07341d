// The guest's console output kept in a file, rotated by size: PATH grows to `maxBytes`, then
// becomes PATH.1 (PATH.1 becomes PATH.2, and so on; what would pass PATH.`keep` is dropped) and
// a new PATH starts. A file is cut after its last whole line when one fits, so that lines stay
// whole where they can. Writing never holds up the guest: write() only queues, and one write at
// a time goes to the file on libuv's threads with whatever queued meanwhile, in order. A write
// that fails (a full disk) is logged once, its output lost, and the guest runs on; the next one
// that works is logged too. Files are made mode 0600. Not a regular file (say /dev/null): no
// rotation.
//
//   const log = ConsoleLog.open({ path, maxBytes: 1 << 20, keep: 2 }, (line) => console.error(line));
//   io.subscribe((chunk) => log.write(chunk));
//   await log.close(); // what is queued is written first

import {
  close,
  closeSync,
  constants,
  fstatSync,
  open,
  openSync,
  rename,
  unlink,
  write,
} from 'node:fs';
import { promisify } from 'node:util';

export interface ConsoleLogOptions {
  path: string;
  /** Bytes at which the file is rotated. */
  maxBytes: number;
  /** Rotated files kept beside the current one. */
  keep: number;
}

export class ConsoleLogError extends Error {
  override readonly name = 'ConsoleLogError';
}

/** Output queued towards a file that cannot keep up; beyond it output is dropped (and said so). */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** How long close() waits for the queue to reach the file. */
const CLOSE_WAIT_MS = 5000;

const FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
const openAsync = promisify(open);
const writeAsync = promisify(write);
const closeAsync = promisify(close);
const renameAsync = promisify(rename);
const unlinkAsync = promisify(unlink);

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

export class ConsoleLog {
  private queue: Buffer[] = [];
  private queued = 0;
  /** Output dropped since the queue last had room. */
  private dropped = 0;
  /** Output lost to failed writes since the last write that worked. */
  private lost = 0;
  private failing = false;
  private writing: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly opts: ConsoleLogOptions,
    private fd: number | null,
    private size: number,
    /** Only a regular file is rotated. */
    private readonly regular: boolean,
    private readonly log: (line: string) => void,
  ) {}

  /** Opens (or makes, mode 0600) the log for appending; throws ConsoleLogError naming the path. */
  static open(opts: ConsoleLogOptions, log: (line: string) => void): ConsoleLog {
    let fd: number;
    try {
      fd = openSync(opts.path, FLAGS, 0o600);
    } catch (e) {
      throw new ConsoleLogError(`consoleLog.path: cannot open ${opts.path}: ${code(e)}`);
    }
    const st = fstatSync(fd);
    return new ConsoleLog(opts, fd, st.size, st.isFile(), log);
  }

  /** Queues guest output; returns at once. */
  write(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    if (this.queued + chunk.length > MAX_QUEUED_BYTES) {
      if (this.dropped === 0) {
        this.log(`console log ${this.opts.path}: the file cannot keep up; output is dropped`);
      }
      this.dropped += chunk.length;
      return;
    }
    this.noteDropped();
    this.push(chunk);
  }

  /** Says in the log, where the output went missing, how much of it was dropped. */
  private noteDropped(): void {
    if (this.dropped === 0) return;
    this.push(Buffer.from(`\n[berth: ${this.dropped} bytes of console output dropped]\n`));
    this.dropped = 0;
  }

  private push(chunk: Buffer): void {
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.kick();
  }

  /** Starts a writer unless one runs; it takes what queues meanwhile too. */
  private kick(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = Buffer.concat(this.queue);
      this.queue = [];
      this.queued = 0;
      await this.append(batch);
    }
  }

  /** Writes `buf`, rotating where the file would pass maxBytes; a failure loses the rest. */
  private async append(buf: Buffer): Promise<void> {
    const { maxBytes } = this.opts;
    let off = 0;
    try {
      while (off < buf.length) {
        if (this.fd === null) await this.reopen();
        let end = buf.length;
        const room = maxBytes - this.size;
        if (this.regular && end - off > room) {
          const nl = room > 0 ? buf.lastIndexOf(0x0a, off + room - 1) : -1;
          if (nl >= off) end = nl + 1;
          else if (this.size === 0) end = off + room;
          else {
            await this.rotate();
            continue;
          }
        }
        while (off < end) {
          const { bytesWritten } = await writeAsync(this.fd!, buf, off, end - off);
          off += bytesWritten;
          this.size += bytesWritten;
        }
      }
      if (this.failing) {
        this.failing = false;
        this.log(`console log ${this.opts.path}: writing again (${this.lost} bytes were lost)`);
        this.lost = 0;
      }
    } catch (e) {
      this.lost += buf.length - off;
      if (!this.failing) {
        this.failing = true;
        this.log(
          `console log ${this.opts.path}: cannot write (${code(e)}); the guest runs on and its ` +
            `output is lost until writing works again`,
        );
      }
    }
  }

  /** PATH → PATH.1 → … → PATH.keep (the oldest goes), then a new PATH. */
  private async rotate(): Promise<void> {
    const { path, keep } = this.opts;
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      await closeAsync(fd);
    }
    const gone = (e: NodeJS.ErrnoException): void => {
      if (e.code !== 'ENOENT') throw new Error(`rotating: ${code(e)}`);
    };
    if (keep === 0) await unlinkAsync(path).catch(gone);
    for (let i = keep; i >= 1; i--) {
      await renameAsync(i === 1 ? path : `${path}.${i - 1}`, `${path}.${i}`).catch(gone);
    }
    await this.reopen();
  }

  private async reopen(): Promise<void> {
    this.fd = await openAsync(this.opts.path, FLAGS, 0o600);
    this.size = fstatSync(this.fd).size;
  }

  /** Writes what is queued (waiting at most a few seconds), then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.noteDropped();
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), CLOSE_WAIT_MS)));
    const flushed = (async () => {
      while (this.writing) await this.writing;
      return true;
    })();
    const done = await Promise.race([flushed, timeout]);
    clearTimeout(timer);
    if (!done) {
      // A write still runs on a libuv thread: the descriptor stays open until the process ends.
      this.log(
        `console log ${this.opts.path}: gave up waiting for the file after ${CLOSE_WAIT_MS} ms`,
      );
      return;
    }
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
