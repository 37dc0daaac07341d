// A page per guest: its state and live figures, its actions, its console, charts of the last
// hour of its figures, its events with their reasons, and its spec.

import { get, type ApiError, type Json } from './api.js';
import { h, fill } from './dom.js';
import { FigureReader, watchEvents } from './figures.js';
import { bytes, count, mips, percent, rate } from './format.js';
import { actionsPanel } from './actions.js';
import { chartsPanel } from './charts.js';
import { terminalPanel } from './terminal.js';

const POLL_MS = 1000;

export function guestPageView(name: string): { el: HTMLElement; stop: () => void } {
  const stateEl = h('span', { class: 'state', 'data-testid': 'state' }, '…');
  const reason = h('small', { 'data-testid': 'reason' });
  const figs = h('dl', { class: 'figures', 'data-testid': 'figures' });
  const error = h('p', { class: 'error', role: 'alert' });
  const spec = h('pre', { class: 'spec', 'data-testid': 'spec' });
  const events = h('tbody');
  const reader = new FigureReader();
  let term: ReturnType<typeof terminalPanel> | null = null;
  const termBox = h('div');
  let consoleKind: 'serial' | 'virtio' | null = null; // from the spec, once read

  const figure = (label: string, key: string, text: string) => [
    h('dt', {}, label),
    h('dd', { 'data-figure': key }, text),
  ];
  const refresh = async (): Promise<void> => {
    let s: Json;
    try {
      s = await get(`/v1/guests/${name}/state`);
    } catch (e) {
      error.textContent = (e as ApiError).message;
      return;
    }
    error.textContent = '';
    const f = reader.read(s);
    stateEl.className = `state ${s.state}`;
    stateEl.textContent = s.state;
    reason.textContent = s.reason ? ` ${s.reason}` : '';
    fill(
      figs,
      ...figure('CPU', 'cpu', percent(f.cpuPercent)),
      ...figure('Resident memory', 'rss', bytes(f.rssBytes)),
      ...figure('Guest MIPS', 'mips', mips(f.mips)),
      ...figure('Instructions', 'instructions', count(f.instructions)),
      ...figure('Disk read / write', 'disk', `${rate(f.diskReadBps)} / ${rate(f.diskWriteBps)}`),
      ...figure('Net rx / tx', 'net', `${rate(f.netRxBps)} / ${rate(f.netTxBps)}`),
      ...figure(
        'Uptime',
        'uptime',
        s.uptimeSeconds === null ? '–' : `${Math.round(s.uptimeSeconds)} s`,
      ),
    );
    // The console while there is a VMM to attach to.
    const live = s.pid !== null && s.state !== 'stopping';
    if (live && !term && consoleKind) {
      term = terminalPanel(name, consoleKind);
      fill(termBox, term.el);
    } else if (!live && term) {
      term.stop();
      term = null;
      fill(termBox, h('p', { class: 'note' }, 'The console opens while the guest runs.'));
    }
  };
  let lastEvent = 0;
  const addEvent = (e: Json): void => {
    if (e.id <= lastEvent) return; // seen already (the stream reopened)
    lastEvent = e.id;
    events.prepend(
      h(
        'tr',
        {},
        h('td', {}, new Date(e.time).toLocaleTimeString()),
        h('td', {}, e.type),
        h('td', {}, e.reason ?? ''),
        h('td', {}, e.detail ?? ''),
      ),
    );
  };
  void get(`/v1/guests/${name}`).then(
    (g) => {
      spec.textContent = JSON.stringify(g.spec, null, 2);
      consoleKind = g.spec.console === 'virtio' ? 'virtio' : 'serial';
      void refresh();
    },
    (e: ApiError) => (error.textContent = e.message),
  );
  // The stored events, then the stream from the last of them on (none lost, none twice).
  let stopped = false;
  let stopEvents = (): void => {};
  void get(`/v1/events?guest=${name}&limit=200`)
    .then((list: Json[]) => list.forEach(addEvent))
    .catch((e: ApiError) => (error.textContent = e.message))
    .finally(() => {
      if (stopped) return;
      stopEvents = watchEvents(
        () => `?guest=${name}&since=${lastEvent}`,
        (e) => {
          addEvent(e);
          void refresh();
        },
      );
    });
  const charts = chartsPanel(name);
  void refresh();
  const timer = window.setInterval(() => void refresh(), POLL_MS);

  const el = h(
    'section',
    { class: 'guest' },
    h('h1', {}, name, ' ', stateEl, reason),
    error,
    actionsPanel(name, () => void refresh()),
    figs,
    h('h2', {}, 'Console'),
    termBox,
    h('h2', {}, 'Last hour'),
    charts.el,
    h('h2', {}, 'Events'),
    h(
      'table',
      { class: 'events', 'data-testid': 'events' },
      h(
        'thead',
        {},
        h('tr', {}, ...['Time', 'Event', 'Reason', 'Detail'].map((t) => h('th', {}, t))),
      ),
      events,
    ),
    h('h2', {}, 'Spec'),
    spec,
  );
  return {
    el,
    stop: () => {
      stopped = true;
      clearInterval(timer);
      stopEvents();
      charts.stop();
      term?.stop();
    },
  };
}
