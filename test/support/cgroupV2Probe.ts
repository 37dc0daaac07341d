// Runs the daemon's cgroup v2 set-up (cgroupsV2At) in a process of its own, for
// test/host/cgroupsV2.test.ts: `node cgroupV2Probe.js MOUNT GROUP CONTROLLERS`. It waits for a
// line on its input (the test first moves it into the group it plays the daemon in), runs the
// set-up, prints one JSON line (the result and the group it is in afterwards), then waits
// until its input closes.

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { cgroupsV2At } from '../../src/host/cgroupsV2.js';

const [mount, group, controllers] = process.argv.slice(2);
let ran = false;
const lines = createInterface({ input: process.stdin });
lines.on('line', () => {
  if (ran) return;
  ran = true;
  const r = cgroupsV2At({ mount, root: '/', options: [] }, group, controllers.split(','));
  const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? null;
  const out = r.ok
    ? { ok: true, base: r.cgroups.dirs('x')[0].slice(0, -2), own }
    : { ok: false, reason: r.reason, own };
  process.stdout.write(JSON.stringify(out) + '\n');
});
lines.on('close', () => process.exit(0));
