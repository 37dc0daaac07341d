// Port forward specifications of `berth run -p`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePortForward, PortForwardError } from './portForward.js';

test('port forwards: HOST:GUEST, one port, /udp, an address in front; bad ones refused', () => {
  assert.deepEqual(parsePortForward('8080:80'), { proto: 'tcp', hostPort: 8080, guestPort: 80 });
  assert.deepEqual(parsePortForward('53/udp'), { proto: 'udp', hostPort: 53, guestPort: 53 });
  assert.deepEqual(parsePortForward('127.0.0.1/2222:22'), {
    proto: 'tcp',
    hostPort: 2222,
    guestPort: 22,
    hostAddress: '127.0.0.1',
  });
  for (const bad of ['', '0:80', '70000:1', '80:', 'http', '1:2:3']) {
    assert.throws(() => parsePortForward(bad), PortForwardError, bad);
  }
});
