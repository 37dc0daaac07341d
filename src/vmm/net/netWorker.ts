// The network worker thread's entry: builds the driver workerData names
// (libslirp or a TAP device), says ready (or why not) and runs the poll loop
// until the main thread says close.

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PollLoop, type Driver } from './pollLoop.js';
import { SlirpDriver, type SlirpOptions } from './slirpDriver.js';
import { TapDriver, type TapOptions } from './tapDriver.js';
import type { FromWorker, WorkerSetup } from './linkControl.js';

const setup = workerData as WorkerSetup & { port: MessagePort };
const send = (m: FromWorker, transfer?: ArrayBuffer[]): void =>
  parentPort!.postMessage(m, transfer);
const loop = new PollLoop(setup.port, send, setup.control, setup.wakeFd, setup.rxHigh, setup.rxMax);
loop.c.setThreadName(`berth-${setup.kind}`);
let driver: (Driver & { info: Record<string, unknown> }) | null = null;
try {
  driver =
    setup.kind === 'slirp'
      ? new SlirpDriver(loop, setup.options as SlirpOptions)
      : new TapDriver(loop, setup.options as TapOptions);
} catch (e) {
  send({ t: 'error', message: e instanceof Error ? e.message : String(e) });
}
if (driver) {
  loop.post({ t: 'ready', info: driver.info });
  loop.run(driver);
}
setup.port.close();
