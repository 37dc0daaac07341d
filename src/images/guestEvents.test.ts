// The guest's handler of a new VM generation: valid shell; acpid's map and action table (read
// the way busybox acpid reads them) take each restore key of the board's input device to its
// action, which runs the handler, with "mac" for the MAC key only; the default initramfs /init
// and the root file system of `berth image build` start acpid.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GENERATION_ACPI_MAP,
  GENERATION_ACPID_CONF,
  GENERATION_KEY_CODE,
  GENERATION_MAC_KEY_CODE,
  generationActions,
  generationHandlerScript,
  START_ACPID,
} from './guestEvents.js';
import { initScript } from './initramfs.js';
import { ACPI_MAP, ACPID_CONF, rcS } from './rootfs.js';
import { EV_KEY, GENERATION_KEY, GENERATION_MAC_KEY, KEY_POWER } from '../machine/virtio/input.js';

/** What busybox acpid runs (a path under /etc/acpi) for an event, given its map and table. */
function acpidAction(map: string, conf: string, type: number, code: number, value: number) {
  let desc: string | undefined;
  for (const line of map.trim().split('\n')) {
    // Six fields, the last taking the rest of the line.
    const f = line.trim().split(/\s+/);
    if (parseInt(f[1], 16) === type && Number(f[3]) === code && Number(f[4]) === value) {
      desc = f.slice(5).join(' ');
      break;
    }
  }
  if (desc === undefined) return null;
  for (const line of conf.trim().split('\n')) {
    const [key, action] = line.trim().split(/\s+/);
    if (desc.includes(key)) return action;
  }
  return desc;
}

test('the handler is valid shell; it probes the cards again only with "mac"', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-generation-'));
  try {
    const path = join(dir, 'generation');
    writeFileSync(path, generationHandlerScript(), { mode: 0o755 });
    execFileSync('sh', ['-n', path]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const h = generationHandlerScript();
  assert.match(h, /hwclock -s -u/);
  assert.match(h, /if \[ "\$1" != mac \]; then\n\s*note "\$ifc keeps its MAC \$old"\n\s*continue/);
  assert.match(h, /echo "\$dev" >\$drv\/unbind\n\s*echo "\$dev" >\$drv\/bind/);
  assert.doesNotMatch(h, /devmem|NEW_VMGENID/);
});

test("acpid's map and table take each restore key to its action, and the power key to its own", () => {
  assert.equal(GENERATION_KEY_CODE, GENERATION_KEY, "the machine's key codes");
  assert.equal(GENERATION_MAC_KEY_CODE, GENERATION_MAC_KEY);
  const actions = new Map(generationActions().map((a) => [a.path, a.script]));
  for (const [map, conf] of [
    [GENERATION_ACPI_MAP, GENERATION_ACPID_CONF],
    [ACPI_MAP, ACPID_CONF],
  ]) {
    const gen = acpidAction(map, conf, EV_KEY, GENERATION_KEY, 1);
    const mac = acpidAction(map, conf, EV_KEY, GENERATION_MAC_KEY, 1);
    assert.equal(gen, 'berth/generation');
    assert.equal(mac, 'berth/generation-mac');
    assert.equal(actions.get(`etc/acpi/${gen}`), generationActions()[0].script);
    assert.match(actions.get(`etc/acpi/${gen}`)!, /^exec \/etc\/berth\/generation$/m);
    assert.match(actions.get(`etc/acpi/${mac}`)!, /^exec \/etc\/berth\/generation mac$/m);
    assert.equal(acpidAction(map, conf, EV_KEY, GENERATION_KEY, 0), null, 'releases do nothing');
  }
  assert.equal(acpidAction(ACPI_MAP, ACPID_CONF, EV_KEY, KEY_POWER, 1), 'PWRF/00000080');
  assert.equal(
    acpidAction(GENERATION_ACPI_MAP, GENERATION_ACPID_CONF, EV_KEY, KEY_POWER, 1),
    null,
    'the initramfs leaves the power key alone, as before',
  );
});

test('the initramfs /init (after its modules) and the image rcS start acpid', () => {
  assert.match(START_ACPID, /^\s*acpid -l \/run\/acpid\.log$/m);
  const init = initScript();
  assert.ok(init.includes(START_ACPID));
  assert.ok(init.indexOf('insmod') < init.indexOf(START_ACPID), 'after the modules');
  assert.ok(init.indexOf(START_ACPID) < init.indexOf('initramfs ready'), 'before the banner');
  assert.ok(rcS().includes(START_ACPID));
  assert.doesNotMatch(init + rcS(), /uevent/);
});
