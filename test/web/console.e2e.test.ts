// The web console end to end in a real browser (browser.ts: Debian's chromium driven by
// playwright-core, a real daemon serving its TCP API with TLS) with a real Debian guest (stock
// kernel, busybox initramfs). A wrong token is refused; the right one logs in; the create form
// shows the schema's and the daemon's messages next to their fields, then creates a guest that
// reaches running; the guest list follows its state live; `uname -m` typed into the terminal
// answers riscv64; "Set size" sets the serial console's size with stty; a second browser sees
// the first one's typing; the charts show the daemon's history; migrate, pause, resume, stop,
// snapshot and delete from the page, each with its progress or the API's message. Screenshots
// of the guest list and the guest page go to test-artifacts/web/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { until, type Json } from '../host/harness.js';
import { ARTIFACTS, figure, logIn, screenText, waitScreen, WebConsole } from './browser.js';

const web = new WebConsole();
before(() => web.start());
after(() => web.stop());
const api = (method: string, path: string, body?: unknown) => web.api(method, path, body);
const newPage = () => web.newPage();

test('a wrong token is refused on the login page', async () => {
  const page = await newPage();
  try {
    await logIn(page, 'not-the-token');
    await page.getByTestId('login-error').filter({ hasText: 'wrong token' }).waitFor();
    assert.equal(await page.getByTestId('guest-list').count(), 0, 'no guest list shown');
    const r = await page.evaluate(() => fetch('/v1/guests').then((x) => x.status));
    assert.equal(r, 401, 'the API refuses the browser without a session');
  } finally {
    await page.context().close();
  }
});

test(
  'log in, create a guest from the form, watch it, type into it, pause it, stop it',
  { timeout: 420_000 },
  async () => {
    const page = await newPage();
    let second: Page | null = null;
    try {
      await logIn(page, web.token);
      await page.getByTestId('guest-list').waitFor();

      // The form: the schema's message (in the page), then the daemon's (from the API).
      await page.getByTestId('nav-create').click();
      const form = page.getByTestId('create-form');
      await form.locator('[name=name]').fill('Bad_Name');
      await page.getByTestId('create').click();
      const nameError = form.locator('[data-error-for=name]');
      await until('the name field to show its message', async () =>
        /pattern/.test(await nameError.innerText()),
      );
      await form.locator('[name=name]').fill('web1');
      await form.locator('[name=memory]').fill('3 parsecs');
      await page.getByTestId('create').click();
      const memError = form.locator('[data-error-for=memory]');
      await until("the memory field to show the daemon's message", async () =>
        /^memory: /.test(await memError.innerText()),
      );
      assert.equal((await nameError.innerText()).trim(), '', 'the name is good now');
      assert.equal(
        ((await (await api('GET', '/v1/guests')).json()) as { metadata: unknown[] }).metadata
          .length,
        0,
        'nothing made',
      );
      await form.locator('[name=memory]').fill('128M');
      await form.locator('[name=stopTimeout]').fill('2'); // busybox ignores the power button
      await page.getByTestId('create').click();

      // The guest page: running, with figures.
      await page.waitForURL(/#\/guests\/web1$/);
      await until(
        'web1 to run',
        async () => (await page.getByTestId('state').innerText()) === 'running',
        60_000,
      );
      const spec = JSON.parse(await page.getByTestId('spec').innerText());
      assert.equal(spec.memory, 128 * 1024 * 1024);
      assert.equal(spec.stopTimeout, 2);

      // The list follows the state from the events stream, without a reload.
      await page.locator('a[href="#/"]').first().click();
      const row = page.locator('tr[data-guest=web1]');
      await until(
        'web1 running with figures in the list',
        async () =>
          (await row.locator('[data-col=state]').innerText()).startsWith('running') &&
          /\d/.test(await row.locator('[data-col=mips]').innerText()),
        30_000,
      );
      const loaded = await page.evaluate(() => performance.timeOrigin);
      assert.equal((await api('PUT', '/v1/guests/web1/state', { action: 'pause' })).status, 200);
      await until('the list to show paused', async () =>
        (await row.locator('[data-col=state]').innerText()).startsWith('paused'),
      );
      assert.equal((await api('PUT', '/v1/guests/web1/state', { action: 'resume' })).status, 200);
      await until('the list to show running again', async () =>
        (await row.locator('[data-col=state]').innerText()).startsWith('running'),
      );
      assert.equal(await page.evaluate(() => performance.timeOrigin), loaded, 'no reload');
      await until(
        'rates and CPU in the list',
        async () =>
          /B\/s/.test(await row.locator('[data-col=disk]').innerText()) &&
          /%/.test(await row.locator('[data-col=cpu]').innerText()),
      );
      await page.screenshot({ path: join(ARTIFACTS, 'guest-list.png') });

      // The terminal: the shell's prompt, then uname -m.
      await row.locator('a').click();
      await page.getByTestId('terminal').waitFor();
      await waitScreen(page, 'the shell prompt', /^\/ #$/m, 240_000);
      await page.locator('.xterm').click();
      await page.keyboard.type('uname -m\n');
      await waitScreen(page, 'riscv64 under uname -m', /uname -m\s*\n\s*riscv64\s*$/m, 30_000);

      // The serial console's size, set with stty on request.
      await page.getByRole('button', { name: 'Set size' }).click();
      const sized = await until('the stty command', async () =>
        /stty rows (\d+) cols (\d+)/.exec(await screenText(page)),
      );
      await page.locator('.xterm').click();
      await page.keyboard.type('stty size\n');
      await waitScreen(
        page,
        'the size stty reports',
        new RegExp(`^${sized[1]} ${sized[2]}$`, 'm'),
        30_000,
      );
      assert.ok(Number(sized[2]) > 80, `the terminal is wider than 80 columns: ${sized[2]}`);

      // A second browser watches the same console and sees the first one's typing.
      second = await newPage();
      await logIn(second, web.token);
      await second.getByTestId('guest-list').waitFor();
      await second.goto(`${web.base}/#/guests/web1`);
      await until(
        'the second page to watch',
        async () => /watching/.test(await second!.getByTestId('console-mode').innerText()),
        30_000,
      );
      // The mode shows when the socket opens; the replayed scrollback arrives after it.
      await waitScreen(second, 'the replayed scrollback', /riscv64/, 30_000);
      await page.locator('.xterm').click();
      await page.keyboard.type('echo seen-by-$((6 * 7))\n');
      await waitScreen(second, 'the second browser to see the answer', /^seen-by-42$/m, 30_000);
      // The daemon's history of its figures, drawn by the charts.
      const hist = ((await (await api('GET', '/v1/guests/web1/history')).json()) as Json).metadata;
      assert.equal(hist.intervalMs, 5000);
      assert.ok(hist.samples.length >= 2, `${hist.samples.length} samples`);
      for (const [i, x] of hist.samples.entries()) {
        assert.ok(x.rssBytes > 0 && x.instructions > 0, JSON.stringify(x));
        if (i > 0) assert.ok(x.t > hist.samples[i - 1].t, 'oldest first');
      }
      await until('the charts to count the samples', async () =>
        /\((\d+) samples\)/.test(await page.getByTestId('charts').innerText()),
      );
      assert.equal(await page.locator('.charts .uplot').count(), 5, 'five uPlot charts');
      await page.waitForTimeout(5000); // a few more samples for the charts
      await page.screenshot({ path: join(ARTIFACTS, 'guest-page.png'), fullPage: true });

      // Migrate, to a daemon whose certificate is not the one named: the API's error, and the
      // guest runs on here.
      await page.locator('[data-action=migrate]').click();
      const mig = page.getByTestId('migrate-form');
      await mig.locator('[name=url]').fill(web.base);
      await mig.locator('[name=token]').fill(web.token);
      await mig.locator('[name=fingerprint]').fill(Array(32).fill('AB').join(':'));
      await mig.locator('[data-action=migrate-go]').click();
      await until(
        'the migration refused',
        async () =>
          /^Migrate: .*fingerprint/i.test(await page.getByTestId('op-status').innerText()) &&
          (await page.getByTestId('op-status').getAttribute('class'))!.includes('error'),
        60_000,
      );
      console.log(`# ${await page.getByTestId('op-status').innerText()}`);
      assert.equal(
        ((await (await api('GET', '/v1/guests/web1')).json()) as Json).metadata.state,
        'running',
      );

      // The serial console carries no window size: the API says to use stty.
      const serialSize = await api('PUT', '/v1/guests/web1/console', { cols: 100, rows: 30 });
      assert.equal(serialSize.status, 409);
      assert.match(((await serialSize.json()) as Json).error, /serial port .* stty rows R cols C/);

      // Pause: the state, and the instruction count stops.
      const count = async (): Promise<number> =>
        Number((await figure(page, 'instructions')).replace(/,/g, ''));
      const a = await count();
      await until('instructions to grow', async () => (await count()) > a);
      await page.locator('[data-action=pause]').click();
      await until('paused', async () => (await page.getByTestId('state').innerText()) === 'paused');
      await page.waitForTimeout(1500);
      const frozen = await count();
      await page.waitForTimeout(3000);
      assert.equal(await count(), frozen, 'no instruction retired while paused');
      assert.equal(await figure(page, 'mips'), '0.0');

      // Resume, then a graceful stop: the operation's progress, then stopped.
      await page.locator('[data-action=resume]').click();
      await until(
        'running',
        async () => (await page.getByTestId('state').innerText()) === 'running',
      );
      await page.locator('[data-action=stop]').click();
      await until(
        'stopped',
        async () => (await page.getByTestId('state').innerText()) === 'stopped',
        60_000,
      );
      assert.match(await page.getByTestId('op-status').innerText(), /Stop: .*Success/);
      await page.locator('[data-action=resume]').click();
      await until(
        "the API's refusal next to the actions",
        async () =>
          /^Resume: .+/.test(await page.getByTestId('op-status').innerText()) &&
          (await page.getByTestId('op-status').getAttribute('class'))!.includes('error'),
      );
      const resumeRefusal = await page.getByTestId('op-status').innerText();
      const direct = await api('PUT', '/v1/guests/web1/state', { action: 'resume' });
      const said = ((await direct.json()) as Json).error;
      assert.equal(resumeRefusal, `Resume: ${said}`, 'the message as the API gave it');

      // A snapshot (of the stopped guest: its disks): a bad name is refused with the API's
      // message, a good one is an operation that succeeds.
      page.once('dialog', (d) => void d.accept('Bad Name'));
      await page.locator('[data-action=snapshot]').click();
      await until('the snapshot name refused', async () =>
        /^Snapshot: name: /.test(await page.getByTestId('op-status').innerText()),
      );
      page.once('dialog', (d) => void d.accept('snap1'));
      await page.locator('[data-action=snapshot]').click();
      await until('the snapshot to succeed', async () =>
        /^Snapshot: .* — Success/.test(await page.getByTestId('op-status').innerText()),
      );
      const snaps = ((await (await api('GET', '/v1/guests/web1/snapshots')).json()) as Json)
        .metadata;
      assert.deepEqual(
        snaps.map((x: Json) => x.name),
        ['snap1'],
      );
      const events = await page.getByTestId('events').innerText();
      assert.match(events, /paused/);
      assert.match(events, /stopped/);
      assert.equal(events.split('\n').filter((l) => /\tcreated\t/.test(l)).length, 1, events);

      // Delete (its snapshot with it): back to the list, which no longer shows it.
      page.once('dialog', (d) => void d.accept());
      await page.locator('[data-action=delete]').click();
      await page.waitForURL(/#\/$/);
      await page.getByText('No guests yet').waitFor();
      assert.equal((await api('GET', '/v1/guests/web1')).status, 404);

      const elsewhere = web.requested.filter(
        (u) => !u.startsWith(`${web.base}/`) && !u.startsWith('data:'),
      );
      assert.deepEqual(elsewhere, [], 'nothing loaded from elsewhere');
      assert.ok(
        web.requested.some((u) => u.includes('/assets/')),
        'its own assets',
      );
    } finally {
      await second?.context().close();
      await page.context().close();
    }
  },
);
