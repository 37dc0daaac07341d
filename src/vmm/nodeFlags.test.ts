import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NODE_FLAGS, nodeEnvWords } from './nodeFlags.js';

test('the berth command starts Node.js with NODE_ENV and NODE_FLAGS (its first line)', () => {
  const first = readFileSync(new URL('../cli/main.js', import.meta.url), 'utf8').split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S ${nodeEnvWords().join(' ')} node ${NODE_FLAGS.join(' ')}`);
  assert.deepEqual(nodeEnvWords(), ['MALLOC_ARENA_MAX=1']);
});
