// Reading the kernel's cgroup tables, and what the v2 layout writes, without the kernel:
// mount tables and /proc/self/cgroup as a container and a host show them; the files a guest's
// v2 group gets, against a plain temporary folder laid out like cgroupfs (not the kernel: it
// shows the values written and read back, not that the kernel enforces them; see
// test/host/cgroupsV2.test.ts and test/host/isolation.test.ts for the real hierarchies).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupDir, ownGroups, readMounts } from './cgroupFiles.js';
import { CgroupsV2 } from './cgroupsV2.js';

const MOUNTINFO = [
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '34 30 0:31 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

test('mount tables: v1 hierarchies by controller with their tops; cgroup2 only at /sys/fs/cgroup', () => {
  const m = readMounts(MOUNTINFO);
  assert.equal(m.v2, null, 'a hybrid host: cgroup2 at /sys/fs/cgroup/unified has no controllers');
  assert.deepEqual(
    [...m.v1].map(([c, h]) => [c, h.mount, h.root]),
    [
      ['memory', '/sys/fs/cgroup/memory', '/docker/abc'],
      ['cpu', '/sys/fs/cgroup/cpu,cpuacct', '/'],
      ['cpuacct', '/sys/fs/cgroup/cpu,cpuacct', '/'],
    ],
  );
  const v2 = readMounts('25 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate').v2;
  assert.deepEqual(v2, { mount: '/sys/fs/cgroup', root: '/', options: ['rw', 'nsdelegate'] });
  const own = ownGroups(
    '12:memory:/docker/abc/svc\n3:cpu,cpuacct:/x\n0::/system.slice/b.service\n',
  );
  assert.deepEqual(Object.fromEntries(own), {
    memory: '/docker/abc/svc',
    cpu: '/x',
    cpuacct: '/x',
    '': '/system.slice/b.service',
  });
  // a mount whose top is the container's group shows the daemon's group below it
  assert.equal(groupDir(m.v1.get('memory')!, '/docker/abc/svc'), '/sys/fs/cgroup/memory/svc');
  assert.equal(groupDir(m.v1.get('memory')!, '/docker/abc'), '/sys/fs/cgroup/memory');
  assert.equal(groupDir(m.v1.get('memory')!, '/other'), null);
  assert.equal(groupDir(m.v1.get('cpu')!, '/x'), '/sys/fs/cgroup/cpu,cpuacct/x');
});

test('v2 files, in a plain folder laid out like cgroupfs: limits, weights, usage', () => {
  const base = mkdtempSync(join(tmpdir(), 'berth-fake-cgroupfs-'));
  try {
    const v2 = new CgroupsV2(base);
    assert.deepEqual(v2.create('a', { memory: 96 << 20, cpuWeight: 200 }), [
      join(base, 'a', 'cgroup.procs'),
    ]);
    const read = (...p: string[]): string => readFileSync(join(base, ...p), 'utf8');
    assert.equal(read('a', 'memory.max'), String(96 << 20));
    assert.equal(read('a', 'cpu.weight'), '200');
    assert.equal(read('cpu.weight'), '100', 'the berth group weighs one process, by default');
    mkdirSync(join(base, 'b'));
    writeFileSync(join(base, 'b', 'memory.swap.max'), 'max'); // where the kernel accounts swap
    v2.create('b', { memory: 64 << 20, cpuWeight: 9900 });
    assert.equal(read('b', 'memory.swap.max'), '0');
    assert.equal(read('b', 'cpu.weight'), '9900');
    assert.equal(read('cpu.weight'), '100', 'whatever its guests weigh');
    writeFileSync(join(base, 'a', 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\n');
    writeFileSync(join(base, 'a', 'memory.current'), '4096\n');
    writeFileSync(join(base, 'a', 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    assert.deepEqual(v2.usage('a'), { cpuNs: 1_500_000, memoryBytes: 4096 });
    assert.equal(v2.oomKills('a'), 1);
    assert.equal(v2.usage('b'), null, 'nothing to read yet');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
