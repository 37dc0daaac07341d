// The console log on real files: thousands of small writes arrive whole and in order, a file
// is cut after its last whole line below maxBytes (or at maxBytes for a longer line), the
// oldest rotated file goes, keep 0 keeps the current file alone, a file that cannot be written
// is logged once, output that cannot wait is dropped with a note where it went missing, and a
// missing folder is refused at open.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleLog, ConsoleLogError } from './consoleLog.js';

function withDir(run: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-clog-'));
    try {
      await run(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** The kept files, oldest first, and their text together. */
function kept(path: string, keep: number): { sizes: number[]; text: string } {
  const files = [...Array.from({ length: keep }, (_, i) => `${path}.${keep - i}`), path];
  const parts = files.flatMap((f) => {
    try {
      return [readFileSync(f)];
    } catch {
      return [];
    }
  });
  return { sizes: parts.map((p) => p.length), text: Buffer.concat(parts).toString('latin1') };
}

test(
  'small writes: all of them, in order, files cut after whole lines, oldest dropped',
  withDir(async (dir) => {
    const path = join(dir, 'console.log');
    const log = ConsoleLog.open({ path, maxBytes: 1000, keep: 2 }, () => {});
    let all = '';
    for (let i = 0; i < 2000; i++) {
      const s = i % 7 === 6 ? '\n' : `${i} `; // lines of a few numbers, written in pieces
      all += s;
      log.write(Buffer.from(s));
    }
    await log.close();
    assert.deepEqual(readdirSync(dir).sort(), ['console.log', 'console.log.1', 'console.log.2']);
    const { sizes, text } = kept(path, 2);
    for (const n of sizes) assert.ok(n > 900 && n <= 1000, `a file of ${n} bytes`);
    assert.ok(all.endsWith(text), 'the kept files are the end of the output, nothing lost');
    assert.ok(text.length < all.length, 'the oldest output was dropped');
    for (const f of ['console.log.1', 'console.log.2']) {
      assert.ok(readFileSync(join(dir, f), 'latin1').endsWith('\n'), `${f} ends with a line`);
      assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
    }
  }),
);

test(
  'a line longer than maxBytes is cut at maxBytes; keep 0 keeps the current file alone',
  withDir(async (dir) => {
    const path = join(dir, 'c.log');
    const log = ConsoleLog.open({ path, maxBytes: 1024, keep: 0 }, () => {});
    const long = Buffer.alloc(2500, 0x78);
    log.write(long);
    await log.close();
    assert.deepEqual(readdirSync(dir), ['c.log']);
    assert.equal(readFileSync(path).length, 2500 - 2048);

    const again = ConsoleLog.open({ path: join(dir, 'd.log'), maxBytes: 1024, keep: 3 }, () => {});
    again.write(long);
    await again.close();
    assert.deepEqual(
      readdirSync(dir)
        .filter((f) => f.startsWith('d.log'))
        .sort()
        .map((f) => [f, statSync(join(dir, f)).size]),
      [
        ['d.log', 452],
        ['d.log.1', 1024],
        ['d.log.2', 1024],
      ],
    );
  }),
);

test(
  'a file that cannot be written (a full disk) is logged once, not at every write',
  withDir(async () => {
    const lines: string[] = [];
    const log = ConsoleLog.open({ path: '/dev/full', maxBytes: 1024, keep: 2 }, (l) =>
      lines.push(l),
    );
    for (let i = 0; i < 50; i++) {
      log.write(Buffer.alloc(100, 0x41));
      await new Promise((r) => setImmediate(r));
    }
    await log.close();
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /^console log \/dev\/full: cannot write \(ENOSPC\); the guest runs on/);
  }),
);

test(
  'output past what may wait for the file is dropped, said once in the log and in the file',
  withDir(async (dir) => {
    const path = join(dir, 'c.log');
    const lines: string[] = [];
    const log = ConsoleLog.open({ path, maxBytes: 1 << 30, keep: 0 }, (l) => lines.push(l));
    const mib = (c: string): Buffer => Buffer.alloc(1 << 20, c);
    // one MiB goes to the file at once, eight wait, the tenth finds no room
    for (let i = 0; i < 10; i++) log.write(mib(String.fromCharCode(0x61 + i)));
    await log.close();
    const text = readFileSync(path, 'latin1');
    const marker = `\n[berth: ${1 << 20} bytes of console output dropped]\n`;
    assert.equal(
      text,
      'abcdefghi'
        .split('')
        .map((c) => c.repeat(1 << 20))
        .join('') + marker,
    );
    assert.equal(lines.length, 1);
    assert.match(lines[0], /cannot keep up; output is dropped/);
  }),
);

test(
  'a folder that is not there: refused at open with the path',
  withDir(async (dir) => {
    const path = join(dir, 'none', 'console.log');
    assert.throws(
      () => ConsoleLog.open({ path, maxBytes: 1024, keep: 2 }, () => {}),
      (e: unknown) =>
        e instanceof ConsoleLogError &&
        /^consoleLog\.path: cannot open .*none\/console\.log: ENOENT$/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), []);
  }),
);
