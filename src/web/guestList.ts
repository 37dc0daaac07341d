// The guest list: each guest's state (live from the events stream) and figures (its state
// resource, read every 2 s while it has a VMM), without reloading the page.

import { get, type ApiError, type Json } from './api.js';
import { h, fill } from './dom.js';
import { FigureReader, watchEvents, type Figures } from './figures.js';
import { bytes, mips, percent, rate } from './format.js';

const POLL_MS = 2000;

export function guestListView(): { el: HTMLElement; stop: () => void } {
  const body = h('tbody');
  const error = h('p', { class: 'error', role: 'alert' });
  const readers = new Map<string, FigureReader>();
  let guests: Json[] = [];
  const figures = new Map<string, Figures>();

  const row = (g: Json): HTMLElement => {
    const f = figures.get(g.name);
    const cell = (text: string, key: string) => h('td', { 'data-col': key }, text);
    return h(
      'tr',
      { 'data-guest': g.name },
      h('td', {}, h('a', { href: `#/guests/${g.name}` }, g.name)),
      h(
        'td',
        { 'data-col': 'state' },
        h('span', { class: `state ${g.state}` }, g.state),
        g.reason ? h('small', {}, ` ${g.reason}`) : null,
      ),
      cell(percent(f?.cpuPercent), 'cpu'),
      cell(bytes(f?.rssBytes), 'rss'),
      cell(mips(f?.mips), 'mips'),
      cell(`${rate(f?.diskReadBps)} / ${rate(f?.diskWriteBps)}`, 'disk'),
      cell(`${rate(f?.netRxBps)} / ${rate(f?.netTxBps)}`, 'net'),
    );
  };
  const render = (): void => {
    fill(body, ...guests.map(row));
    if (guests.length === 0) {
      fill(body, h('tr', {}, h('td', { colspan: 7 }, 'No guests yet: create one.')));
    }
  };
  const reload = (): Promise<void> =>
    get('/v1/guests').then(
      (list: Json[]) => {
        guests = list;
        error.textContent = '';
        render();
      },
      (e: ApiError) => {
        error.textContent = e.message;
      },
    );
  const poll = async (): Promise<void> => {
    await Promise.all(
      guests
        .filter((g) => g.pid !== null)
        .map(async (g) => {
          const s = await get(`/v1/guests/${g.name}/state`).catch(() => null);
          if (!s) return;
          let r = readers.get(g.name);
          if (!r) readers.set(g.name, (r = new FigureReader()));
          figures.set(g.name, r.read(s));
          g.state = s.state;
        }),
    );
    render();
  };

  void reload().then(poll);
  const stopEvents = watchEvents(
    () => '',
    () => void reload(),
  );
  const timer = window.setInterval(() => void poll(), POLL_MS);
  const el = h(
    'section',
    {},
    h('h1', {}, 'Guests'),
    error,
    h(
      'table',
      { class: 'guests', 'data-testid': 'guest-list' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Name', 'State', 'CPU', 'Resident', 'MIPS', 'Disk read / write', 'Net rx / tx'].map(
            (t) => h('th', {}, t),
          ),
        ),
      ),
      body,
    ),
  );
  return {
    el,
    stop: () => {
      stopEvents();
      clearInterval(timer);
    },
  };
}
