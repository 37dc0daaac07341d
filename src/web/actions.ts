// A guest's actions as the API offers them: start, stop (graceful, forced), restart, pause,
// resume (PUT /v1/guests/NAME/state), snapshot, clone, migrate (to another host's daemon: its
// address, token and certificate fingerprint) and delete; each shows its operation's progress
// and the API's error message as it gave it.

import { call, follow, type ApiError, type Json } from './api.js';
import { h, fill } from './dom.js';

interface Action {
  label: string;
  id: string;
  run: () => Promise<Json>;
}

export function actionsPanel(name: string, changed: () => void): HTMLElement {
  const status = h('p', { class: 'op', role: 'status', 'data-testid': 'op-status' });
  const state = (body: Json) => () => call('PUT', `/v1/guests/${name}/state`, body);
  const ask = (what: string, path: string) => async () => {
    const n = window.prompt(`Name of the ${what}`);
    if (!n) return null;
    return call('POST', `/v1/guests/${name}/${path}`, { name: n.trim() });
  };
  // The migration's destination, asked in a small form under the buttons.
  const dest = {
    url: h('input', { name: 'url', placeholder: 'https://HOST:PORT', size: 28 }),
    token: h('input', { name: 'token', type: 'password', placeholder: 'its token' }),
    fingerprint: h('input', { name: 'fingerprint', placeholder: 'AB:CD:… (SHA-256)', size: 40 }),
    copyStorage: h('input', { type: 'checkbox', name: 'copyStorage' }),
  };
  const migrate: Action = {
    id: 'migrate-go',
    label: 'Migrate',
    run: () =>
      call('POST', `/v1/guests/${name}/migrate`, {
        url: dest.url.value.trim(),
        token: dest.token.value.trim(),
        fingerprint: dest.fingerprint.value.trim(),
        ...(dest.copyStorage.checked ? { copyStorage: true } : {}),
      }),
  };
  const migrateForm = h(
    'form',
    { class: 'migrate', hidden: true, 'data-testid': 'migrate-form' },
    dest.url,
    dest.token,
    dest.fingerprint,
    h('label', {}, dest.copyStorage, 'copy its disks'),
    h('button', { type: 'submit', 'data-action': 'migrate-go' }, 'Migrate'),
  );
  migrateForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void perform(migrate);
  });
  const actions: Action[] = [
    { id: 'start', label: 'Start', run: state({ action: 'start' }) },
    { id: 'stop', label: 'Stop', run: state({ action: 'stop' }) },
    { id: 'force-stop', label: 'Force stop', run: state({ action: 'stop', force: true }) },
    { id: 'restart', label: 'Restart', run: state({ action: 'restart' }) },
    { id: 'pause', label: 'Pause', run: state({ action: 'pause' }) },
    { id: 'resume', label: 'Resume', run: state({ action: 'resume' }) },
    { id: 'snapshot', label: 'Snapshot', run: ask('snapshot', 'snapshots') },
    { id: 'clone', label: 'Clone', run: ask('clone', 'clone') },
    {
      id: 'migrate',
      label: 'Migrate…',
      run: async () => {
        migrateForm.hidden = !migrateForm.hidden;
        return null;
      },
    },
    {
      id: 'delete',
      label: 'Delete',
      run: async () => {
        if (!window.confirm(`Delete ${name}? Its snapshots go too.`)) return null;
        const r = await call('DELETE', `/v1/guests/${name}?force=true`);
        location.hash = '#/';
        return r;
      },
    },
  ];
  const buttons = actions.map((a) =>
    h(
      'button',
      {
        type: 'button',
        'data-action': a.id,
        onclick: () => void perform(a),
      },
      a.label,
    ),
  );
  const busy = (b: boolean) => buttons.forEach((x) => (x.disabled = b));

  async function perform(a: Action): Promise<void> {
    busy(true);
    status.className = 'op';
    fill(status, `${a.label}: sent…`);
    try {
      const answer = await a.run();
      if (answer === null) return fill(status);
      if (answer.type === 'async') {
        const op = await follow(answer.operation, (o) =>
          fill(
            status,
            `${a.label}: ${o.description} — ${o.status}`,
            o.metadata ? h('small', {}, ` ${JSON.stringify(o.metadata)}`) : null,
          ),
        );
        if (op.status !== 'Success') {
          status.className = 'op error';
          fill(status, `${a.label}: ${op.status}: ${op.err}`);
        }
      } else {
        fill(status, `${a.label}: done`);
      }
    } catch (e) {
      status.className = 'op error';
      fill(status, `${a.label}: ${(e as ApiError).message}`);
    } finally {
      busy(false);
      changed();
    }
  }
  return h(
    'div',
    { class: 'actions' },
    h('div', { class: 'buttons' }, ...buttons),
    migrateForm,
    status,
  );
}
