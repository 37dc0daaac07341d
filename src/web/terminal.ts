// The guest's console in the page: xterm.js over the console WebSocket. It opens with the
// replayed scrollback, typing goes to the guest, and any number of pages watch the same output:
// the console takes one writer, so a page that finds another writing watches (write=false) and
// can take the input over (force=true). A virtio console (hvc0) carries the window size: each
// size the terminal takes goes to the guest (PUT /v1/guests/NAME/console). The serial console
// (ttyS0) carries none: "Set size" types `stty rows R cols C` into the guest's shell.

import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { call, type ApiError } from './api.js';
import { h, fill } from './dom.js';

/** The console's close code when another client is its writer (apiStreams.ts). */
const REFUSED_WRITER = 4009;

export function terminalPanel(
  name: string,
  kind: 'serial' | 'virtio',
): { el: HTMLElement; stop: () => void } {
  const screen = h('div', { class: 'terminal', 'data-testid': 'terminal' });
  const mode = h('span', { class: 'mode', 'data-testid': 'console-mode' }, 'connecting…');
  const takeOver = h('button', { type: 'button', hidden: true }, 'Take over typing');
  const setSize = h(
    'button',
    { type: 'button', title: 'types stty rows R cols C', hidden: kind === 'virtio' },
    'Set size',
  );
  const sizeNote = h('span', { class: 'note', 'data-testid': 'console-size' });
  const term = new Terminal({ convertEol: false, scrollback: 5000, fontSize: 13 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  let ws: WebSocket | null = null;
  let writer = false;
  let stopped = false;
  const encoder = new TextEncoder();

  const open = (query: string, replay: boolean): void => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const sock = new WebSocket(
      `${proto}//${location.host}/v1/guests/${name}/console?${query}&replay=${replay}`,
    );
    sock.binaryType = 'arraybuffer';
    ws = sock;
    writer = query !== 'write=false';
    sock.onopen = () => {
      fill(mode, writer ? 'typing goes to the guest' : 'watching: another page is typing');
      takeOver.hidden = writer;
      if (replay) term.reset();
    };
    sock.onmessage = (m) => term.write(new Uint8Array(m.data as ArrayBuffer));
    sock.onclose = (e) => {
      if (stopped || ws !== sock) return;
      if (e.code === REFUSED_WRITER) return open('write=false', true);
      fill(mode, `console closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`);
      takeOver.hidden = true;
    };
  };
  term.onData((d) => {
    if (ws?.readyState === WebSocket.OPEN && writer) ws.send(encoder.encode(d));
  });
  takeOver.addEventListener('click', () => {
    const old = ws;
    ws = null;
    old?.close();
    open('force=true', false);
  });
  setSize.addEventListener('click', () => {
    if (ws?.readyState === WebSocket.OPEN && writer) {
      ws.send(encoder.encode(`stty rows ${term.rows} cols ${term.cols}\r`));
    }
  });
  // The virtio console: the terminal's size reaches the guest, the last one once it settles.
  let sizeTimer: number | undefined;
  const sendSize = (): void => {
    clearTimeout(sizeTimer);
    sizeTimer = window.setTimeout(() => {
      const size = { cols: term.cols, rows: term.rows };
      call('PUT', `/v1/guests/${name}/console`, size).then(
        () => fill(sizeNote, `window ${size.cols}×${size.rows}`),
        (e: ApiError) => fill(sizeNote, `window size not set: ${e.message}`),
      );
    }, 150);
  };
  if (kind === 'virtio') term.onResize(sendSize);
  const onResize = (): void => fit.fit();
  window.addEventListener('resize', onResize);
  queueMicrotask(() => {
    term.open(screen);
    fit.fit();
    if (kind === 'virtio') sendSize();
    open('write=true', true);
  });
  const el = h(
    'div',
    { class: 'console' },
    h('div', { class: 'console-bar' }, mode, takeOver, setSize, sizeNote),
    screen,
  );
  return {
    el,
    stop: () => {
      stopped = true;
      clearTimeout(sizeTimer);
      window.removeEventListener('resize', onResize);
      ws?.close();
      term.dispose();
    },
  };
}
