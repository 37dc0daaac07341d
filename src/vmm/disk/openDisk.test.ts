// openDisk picks the qcow2 backend by the image's magic and the raw one otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlockBackend } from './fileBlockBackend.js';
import { Qcow2Image } from './qcow2.js';
import { createQcow2 } from './qcow2Create.js';
import { openDisk } from './openDisk.js';

test('qcow2 images open through the qcow2 backend, others as raw files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-opendisk-'));
  try {
    const raw = join(dir, 'raw.img');
    writeFileSync(raw, new Uint8Array(1 << 20));
    const q = join(dir, 'disk.qcow2');
    createQcow2(q, 1 << 20);
    const a = openDisk(raw, false);
    const b = openDisk(q, false);
    assert.ok(a instanceof FileBlockBackend);
    assert.ok(b instanceof Qcow2Image);
    const data = new Uint8Array(512).fill(0x5a);
    for (const d of [a, b]) {
      d.write(4096, data);
      const back = new Uint8Array(512);
      d.read(4096, back);
      assert.deepEqual(back, data);
      d.close();
    }
    const ro = openDisk(q, true);
    assert.equal(ro.readOnly, true);
    ro.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
