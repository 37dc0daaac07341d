// The web console's browser tests' harness: a real daemon (TCP API with TLS, a token) on a
// temporary state folder, and Debian's chromium (headless, driven by playwright-core at
// /usr/bin/chromium, --no-sandbox as root; no browser download). Pages log in through the
// login page; the terminal is read as xterm.js renders it; the API is called with the bearer
// token, as the CLI would. Screenshots go to test-artifacts/web/ (git-ignored).

import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureDefaultAssets } from '../../src/images/assets.js';
import { DaemonProcess, killAndRemove, until } from '../host/harness.js';

const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'test-artifacts',
  'web',
);

export class WebConsole {
  readonly dir = mkdtempSync(join(tmpdir(), 'bwe-'));
  daemon: DaemonProcess | null = null;
  browser: Browser | null = null;
  base = '';
  token = '';
  /** Every URL the pages asked for: the console loads nothing from elsewhere (works offline). */
  readonly requested: string[] = [];

  async start(): Promise<void> {
    mkdirSync(ARTIFACTS, { recursive: true });
    await ensureDefaultAssets({ progress: false }); // cached after the first time
    const socket = join(this.dir, 'api.sock');
    const daemon = new DaemonProcess(this.dir, socket, ['--listen', '127.0.0.1:0']);
    this.daemon = await daemon.ready();
    const m = await until(
      'the daemon to print its address',
      () => /serving https:\/\/127\.0\.0\.1:(\d+) /.exec(daemon.output),
      10_000,
    );
    this.base = `https://127.0.0.1:${m[1]}`;
    this.token = readFileSync(join(this.dir, 'token'), 'utf8').trim();
    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
  }

  async stop(): Promise<void> {
    await this.browser?.close();
    await this.daemon?.stop(30_000).catch(() => {});
    killAndRemove(this.dir);
  }

  /** A new browser context (its own cookies) on the console's login page. */
  async newPage(): Promise<Page> {
    const ctx = await this.browser!.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 1000 },
    });
    const page = await ctx.newPage();
    page.on('request', (r) => this.requested.push(r.url()));
    await page.goto(`${this.base}/`);
    return page;
  }

  /** Calls the API with the bearer token, as the CLI would. */
  api(method: string, path: string, body?: unknown): Promise<Response> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        `${this.base}${path}`,
        {
          method,
          rejectUnauthorized: false,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(data ? { 'content-type': 'application/json' } : {}),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d));
          res.on('end', () => resolve(new Response(text, { status: res.statusCode })));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }
}

export async function logIn(page: Page, token: string): Promise<void> {
  await page.getByTestId('token').fill(token);
  await page.getByTestId('login').click();
}

/** The terminal's text as xterm.js renders it, one line per row (no-break spaces as spaces). */
export const screenText = (page: Page): Promise<string> =>
  page
    .locator('.xterm-rows > div')
    .allTextContents()
    .then((rows) => rows.map((r) => r.replace(/\u00a0/g, ' ').trimEnd()).join('\n'));

/** Waits for the terminal to show `re`; a failure shows the screen. */
export async function waitScreen(page: Page, what: string, re: RegExp, ms: number): Promise<void> {
  try {
    await until(what, async () => re.test(await screenText(page)), ms, 200);
  } catch (e) {
    throw new Error(
      `${(e as Error).message}; the screen: ${JSON.stringify(await screenText(page))}`,
    );
  }
}

export const figure = (page: Page, key: string): Promise<string> =>
  page.locator(`[data-figure="${key}"]`).innerText();
