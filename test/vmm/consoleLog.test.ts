// A real VMM keeps its guest's console in a rotated file: the echo guest prints numbered lines
// (Ctrl-P) well past a small maxBytes; the files are there, each within maxBytes, together the
// exact end of what the guest printed, the oldest gone. A second VMM on the same file appends
// and rotates on. A full disk is logged once and the guest runs on. The config's fields are
// checked, and a log that cannot be opened stops the start with nothing left behind.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseVmmConfig, VmmConfigError } from '../../src/vmm/config.js';
import { Vmm } from '../../src/vmm/vmm.js';
import { ConsoleLogError } from '../../src/vmm/consoleLog.js';
import { echoGuestElf } from './echoGuest.js';
import { until } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-vmm-clog-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CTRL_P = 0x10; // the echo guest prints 256 lines of 14 bytes
const LINES = 256;

async function startEcho(
  consoleLog: Record<string, unknown>,
  lines: string[] = [],
): Promise<{ vmm: Vmm; out: () => string; done: Promise<unknown> }> {
  const config = parseVmmConfig({
    name: 'clog',
    memory: '32M',
    firmware: echoGuestElf(),
    controlSocket: join(dir, 'clog.sock'),
    consoleLog,
  });
  const vmm = await Vmm.start(config, {
    console: { input: null, output: null },
    log: (l) => lines.push(l),
  });
  let out = '';
  vmm.io.subscribe((c) => (out += c.toString('latin1')));
  const done = vmm.run();
  await until('the guest to start', () => out.includes('echo ready'));
  return { vmm, out: () => out, done };
}

/** Has the guest print `times` × 256 lines; resolves when the last one is out. */
async function printLines(g: { vmm: Vmm; out: () => string }, times: number): Promise<void> {
  const before = (g.out().match(/^line /gm) ?? []).length;
  const last = `line ${(before + times * LINES - 1).toString(16).padStart(8, '0')}\n`;
  g.vmm.io.inject(Buffer.alloc(times, CTRL_P));
  await until(`the guest to print ${last.trim()}`, () => g.out().endsWith(last));
}

/** The log's files, oldest first, with their sizes and text together. */
function logFiles(path: string, keep: number): { names: string[]; sizes: number[]; text: string } {
  const names = [...Array.from({ length: keep }, (_, i) => `${path}.${keep - i}`), path].filter(
    (f) => existsSync(f),
  );
  const parts = names.map((f) => readFileSync(f));
  return {
    names,
    sizes: parts.map((p) => p.length),
    text: Buffer.concat(parts).toString('latin1'),
  };
}

test('config: consoleLog is checked field by field; maxBytes and keep have defaults', () => {
  const bad: [unknown, RegExp][] = [
    [{ path: '' }, /^consoleLog\.path:/],
    [{ path: 'x', maxBytes: 10 }, /^consoleLog\.maxBytes: at least 1 KiB/],
    [{ path: 'x', maxBytes: '2G' }, /^consoleLog\.maxBytes: at most 1 GiB/],
    [{ path: 'x', maxBytes: 'lots' }, /^consoleLog\.maxBytes: .*lots/],
    [{ path: 'x', keep: -1 }, /^consoleLog\.keep:/],
    [{ path: 'x', keep: 1.5 }, /^consoleLog\.keep:/],
    [{ path: 'x', rotate: true }, /rotate/],
    [{ maxBytes: 4096 }, /^consoleLog\.path:/],
  ];
  for (const [consoleLog, message] of bad) {
    assert.throws(
      () => parseVmmConfig({ firmware: 'f', consoleLog }),
      (e: unknown) => e instanceof VmmConfigError && message.test(e.message),
      JSON.stringify(consoleLog),
    );
  }
  assert.deepEqual(parseVmmConfig({ firmware: 'f', consoleLog: { path: '/x' } }).consoleLog, {
    path: '/x',
    maxBytes: 1 << 20,
    keep: 2,
  });
  assert.equal(
    parseVmmConfig({ firmware: 'f', consoleLog: { path: '/x', maxBytes: '64K' } }).consoleLog
      ?.maxBytes,
    64 << 10,
  );
  assert.equal(parseVmmConfig({ firmware: 'f' }).consoleLog, undefined);
});

test('the guest prints past maxBytes: rotated files within bounds, in order, the oldest gone; a second VMM appends', async () => {
  const path = join(dir, 'rot', 'console.log');
  mkdirSync(join(dir, 'rot'));
  const opts = { path, maxBytes: 2048, keep: 2 };
  const g = await startEcho(opts);
  await printLines(g, 3); // 768 lines, 10,752 bytes: three files hold about 6 KiB of it
  g.vmm.quit();
  await g.done;
  const first = g.out();
  assert.deepEqual(readdirSync(join(dir, 'rot')).sort(), [
    'console.log',
    'console.log.1',
    'console.log.2',
  ]);
  const a = logFiles(path, 2);
  // a rotated file is full but for part of a line; the current one holds the rest
  for (const n of a.sizes.slice(0, -1)) assert.ok(n > 2048 - 14 && n <= 2048, `${n} bytes`);
  assert.ok(a.sizes[2] > 0 && a.sizes[2] <= 2048);
  assert.ok(first.endsWith(a.text), 'the kept files are the end of the output, nothing lost');
  assert.ok(!a.text.includes('echo ready'), 'the oldest output was dropped');
  assert.match(a.text, /^(line [0-9a-f]{8}\n)+$/, 'whole lines in each file');
  for (const f of a.names) assert.equal(statSync(f).mode & 0o777, 0o600, f);

  // Another VMM on the same log: it appends, and rotates on.
  const g2 = await startEcho(opts);
  await printLines(g2, 1);
  g2.vmm.quit();
  await g2.done;
  const b = logFiles(path, 2);
  assert.ok(
    (a.text + g2.out()).endsWith(b.text),
    "the second VMM's output follows the first's in the files",
  );
  assert.match(b.text, /line 000002ff\necho ready\nline 00000000\n/);
  for (const n of b.sizes) assert.ok(n <= 2048);
});

test('a full disk: logged once, the guest runs on and answers', async () => {
  const lines: string[] = [];
  const g = await startEcho({ path: '/dev/full', maxBytes: 1024 }, lines);
  await printLines(g, 2);
  g.vmm.io.inject(Buffer.from('still here'));
  await until('the echo', () => g.out().endsWith('still here'));
  g.vmm.quit();
  assert.deepEqual(await g.done, { kind: 'quit', code: 0 });
  assert.equal(lines.filter((l) => /console log/.test(l)).length, 1, lines.join('\n'));
  assert.match(lines[0], /console log \/dev\/full: cannot write \(ENOSPC\)/);
});

test('a log that cannot be opened: the start is refused and nothing is left', async () => {
  const path = join(dir, 'missing', 'console.log');
  const config = parseVmmConfig({
    name: 'nolog',
    memory: '32M',
    firmware: echoGuestElf(),
    controlSocket: join(dir, 'nolog.sock'),
    consoleLog: { path },
  });
  await assert.rejects(
    Vmm.start(config, { console: { input: null, output: null }, log: () => {} }),
    (e: unknown) =>
      e instanceof ConsoleLogError && /^consoleLog\.path: cannot open .*ENOENT/.test(e.message),
  );
  assert.ok(!existsSync(join(dir, 'nolog.sock')));
  assert.ok(!existsSync(join(dir, 'missing')));
});
