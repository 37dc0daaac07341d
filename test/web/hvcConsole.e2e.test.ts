// A guest whose console is virtio (hvc0) in the web console (browser.ts: Debian's chromium and
// a real daemon): the terminal's size reaches the guest as the page opens (`stty size` in the
// guest says it), and a new one when the page resizes; a size out of range is refused.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { until, type Json } from '../host/harness.js';
import { logIn, waitScreen, WebConsole } from './browser.js';

const web = new WebConsole();
before(() => web.start());
after(() => web.stop());
const api = (method: string, path: string, body?: unknown) => web.api(method, path, body);
const newPage = () => web.newPage();

test(
  "a virtio console (hvc0) takes the terminal's size, and a new one when the page resizes",
  { timeout: 300_000 },
  async () => {
    const made = await api('POST', '/v1/guests', {
      name: 'hvc1',
      memory: '128M',
      console: 'virtio',
      stopTimeout: 2,
    });
    assert.equal(made.status, 201, await made.text());
    assert.equal((await api('PUT', '/v1/guests/hvc1/state', { action: 'start' })).status, 202);
    const page = await newPage();
    try {
      await logIn(page, web.token);
      await page.getByTestId('guest-list').waitFor();
      await page.goto(`${web.base}/#/guests/hvc1`);
      await waitScreen(page, 'the shell prompt on hvc0', /^\/ #$/m, 240_000);
      assert.equal(await page.getByRole('button', { name: 'Set size' }).isVisible(), false);
      const sizeOf = async (): Promise<[string, string]> => {
        const m = await until('the window size sent', async () =>
          /window (\d+)×(\d+)/.exec(await page.getByTestId('console-size').innerText()),
        );
        return [m[1], m[2]];
      };
      const [cols, rows] = await sizeOf();
      await page.locator('.xterm').click();
      await page.keyboard.type('stty size\n');
      await waitScreen(page, 'stty size on hvc0', new RegExp(`^${rows} ${cols}$`, 'm'), 30_000);

      await page.setViewportSize({ width: 900, height: 700 });
      await until('a narrower window sent', async () => (await sizeOf())[0] !== cols);
      const [cols2, rows2] = await sizeOf();
      assert.ok(Number(cols2) < Number(cols), `${cols2} < ${cols}`);
      await page.locator('.xterm').click();
      await page.keyboard.type('stty size\n');
      await waitScreen(
        page,
        'the new size on hvc0',
        new RegExp(`^${rows2} ${cols2}$`, 'm'),
        30_000,
      );
      const bad = await api('PUT', '/v1/guests/hvc1/console', { cols: 0, rows: 30 });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as Json).error, /^cols: .*>=1/);
    } finally {
      await page.context().close();
      // Stopped and deleted before the daemon stops, so that its cgroup goes with it.
      await api('PUT', '/v1/guests/hvc1/state', { action: 'stop', force: true });
      await until('hvc1 stopped', async () => {
        const g = (await (await api('GET', '/v1/guests/hvc1')).json()) as Json;
        return g.metadata.state === 'stopped' ? true : null;
      });
      assert.equal((await api('DELETE', '/v1/guests/hvc1')).status, 200);
    }
  },
);
