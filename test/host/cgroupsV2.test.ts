// The daemon's cgroup v2 set-up (src/host/cgroupsV2.ts) against the kernel's real cgroup2
// hierarchy, mounted by the test in a folder of its own (needs root; skipped otherwise).
//
// What this shows, and what not: on a host whose memory and cpu controllers are bound to
// cgroup v1 (a "hybrid" host), the cgroup2 hierarchy offers only the controllers v1 left
// free (e.g. hugetlb). The test then runs the set-up with such a controller standing in
// for memory and cpu, and says which in its output: the layout (the daemon moved into a
// leaf of its own, the controller enabled for the guests' parent and reaching a guest's
// group), the kernel's "no internal processes" rule, the refusal when other processes share
// the daemon's group, and delegation to a user that is not root are real. That memory.max
// and cpu.weight limit a VMM is not shown here; only on a host where cgroup2 offers memory
// and cpu does the test use them.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CgroupsV2 } from '../../src/host/cgroupsV2.js';
import { until, type Json } from './harness.js';

const PROBE = join(dirname(fileURLToPath(import.meta.url)), '..', 'support', 'cgroupV2Probe.js');
const GROUP = 'berth-t';
const NOBODY = 65534;
const made: string[] = [];
const children: ChildProcess[] = [];
let mnt = '';
let controllers: string[] = [];
let enabledAtRoot: string[] = [];

/** Mounts cgroup2 and picks the controllers to use; the reason to skip, if any. */
function setUp(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mounting cgroup2, making groups)';
  mnt = mkdtempSync(join(tmpdir(), 'berth-cg2-'));
  const r = spawnSync('mount', ['-t', 'cgroup2', 'none', mnt], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmdirSync(mnt);
    mnt = '';
    return `cannot mount cgroup2 here: ${r.stderr.trim()}`;
  }
  const available = readFileSync(join(mnt, 'cgroup.controllers'), 'utf8').split(/\s+/);
  controllers =
    available.includes('memory') && available.includes('cpu')
      ? ['memory', 'cpu']
      : available.filter((c) => c !== '').slice(0, 1);
  if (controllers.length === 0) return 'cgroup2 has no controller here (all are bound to v1)';
  const on = readFileSync(join(mnt, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
  enabledAtRoot = controllers.filter((c) => !on.includes(c));
  if (enabledAtRoot.length > 0) {
    writeFileSync(join(mnt, 'cgroup.subtree_control'), enabledAtRoot.map((c) => `+${c}`).join(' '));
  }
  process.stderr.write(
    `# cgroup2 offers: ${available.join(' ').trim()}; the test uses ${controllers.join(', ')}` +
      `${controllers[0] === 'memory' ? '' : ' in place of memory and cpu'}\n`,
  );
  return undefined;
}

const skip = setUp();

/** Removes a group and the groups below it. */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) removeTree(join(dir, e.name));
  }
  rmdirSync(dir);
}

const once = (c: ChildProcess): Promise<void> => new Promise((r) => c.once('exit', () => r()));

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(
    children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c) : null)),
  );
  for (const d of made.reverse()) {
    await until(`${d} to empty`, () => {
      try {
        removeTree(d);
        return true;
      } catch {
        return false;
      }
    });
  }
  if (enabledAtRoot.length > 0) {
    writeFileSync(join(mnt, 'cgroup.subtree_control'), enabledAtRoot.map((c) => `-${c}`).join(' '));
  }
  if (mnt) {
    spawnSync('umount', [mnt]);
    rmdirSync(mnt);
  }
});

function group(tag: string): string {
  const d = join(mnt, `berth-v2test-${process.pid}-${tag}`);
  mkdirSync(d);
  made.push(d);
  return d;
}

const moveInto = (dir: string, pid: number): void =>
  writeFileSync(join(dir, 'cgroup.procs'), String(pid));
const subtree = (dir: string): string[] =>
  readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter(Boolean);

function stranger(): ChildProcess {
  const c = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** Starts the probe (as `uid` when given), moves it into `dir`, lets it run; its JSON line. */
async function probeIn(dir: string, uid?: number): Promise<Json> {
  const wrap =
    uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
  const cmd = [...wrap, process.execPath, PROBE, mnt, GROUP, controllers.join(',')];
  const c = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(c);
  let out = '';
  c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await until('the probe to start', () => c.pid !== undefined);
  // setpriv execs node: the PID is the probe's.
  await until('the probe to run', () => {
    try {
      return readFileSync(`/proc/${c.pid}/cmdline`, 'latin1').includes(PROBE);
    } catch {
      return false;
    }
  });
  moveInto(dir, c.pid!);
  c.stdin!.write('go\n');
  await until('the probe to answer', () => out.includes('\n') || c.exitCode !== null, 20_000);
  return JSON.parse(out);
}

test(
  'the daemon alone in its group: it moves into a leaf, the controllers reach a guest',
  { skip },
  async () => {
    const own = group('alone');
    const r = await probeIn(own);
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.own, `/${basename(own)}/${GROUP}-daemon`, 'the daemon moved into its leaf');
    assert.equal(r.base, join(own, GROUP));
    assert.deepEqual(subtree(own), controllers);
    assert.deepEqual(subtree(r.base), controllers);
    // a wrapper joins a guest's group; the controller's files are there
    const guest = join(r.base, 'g1');
    mkdirSync(guest);
    const s = stranger();
    moveInto(guest, s.pid!);
    assert.ok(readdirSync(guest).some((f) => f.startsWith(`${controllers[0]}.`)));
    // the kernel keeps processes out of groups that pass controllers on
    assert.throws(() => moveInto(own, stranger().pid!), { code: 'EBUSY' });
    const v2 = new CgroupsV2(r.base);
    assert.equal(v2.remove('g1'), false, 'a group with a process stays');
    s.kill('SIGKILL');
    await until('the guest group to go once empty', () => v2.remove('g1'));
    assert.ok(!existsSync(guest));
  },
);

test(
  'other processes in the daemon’s group: refused with their PIDs, the daemon put back',
  { skip },
  async () => {
    const own = group('shared');
    const s = stranger();
    moveInto(own, s.pid!);
    const r = await probeIn(own);
    assert.equal(r.ok, false);
    assert.match(
      r.reason,
      new RegExp(`holds other processes too \\(PIDs ${s.pid}\\).*Delegate=yes`),
    );
    assert.equal(r.own, `/${basename(own)}`, 'the daemon is back in its group');
    assert.ok(!existsSync(join(own, `${GROUP}-daemon`)));
    assert.deepEqual(subtree(own), []);
  },
);

test(
  'not root: a group delegated to the daemon’s user works; one that is not is refused',
  { skip },
  async () => {
    const delegated = group('delegated');
    for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) {
      chownSync(join(delegated, f), NOBODY, NOBODY); // what systemd's Delegate=yes does
    }
    const r = await probeIn(delegated, NOBODY);
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.own, `/${basename(delegated)}/${GROUP}-daemon`);
    assert.equal(statSync(r.base).uid, NOBODY);
    assert.deepEqual(subtree(r.base), controllers);

    const closed = group('closed');
    const n = await probeIn(closed, NOBODY);
    assert.equal(n.ok, false);
    assert.match(n.reason, /cannot write .*cgroup\.procs \(EACCES\).*Delegate=yes/);
    assert.equal(n.own, `/${basename(closed)}`);
  },
);
