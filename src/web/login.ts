// The login page: the daemon's token (from its token file) for a session cookie.

import { call, setCsrf, type ApiError } from './api.js';
import { h } from './dom.js';

export function loginView(done: () => void): { el: HTMLElement } {
  const token = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'current-password',
    required: true,
    'data-testid': 'token',
  });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'login-error' });
  const form = h(
    'form',
    { class: 'login' },
    h('h1', {}, 'Log in'),
    h(
      'label',
      {},
      'Token',
      token,
      h('small', {}, 'the daemon’s token, from the file STATE/token on its host'),
    ),
    h('button', { type: 'submit', 'data-testid': 'login' }, 'Log in'),
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.textContent = '';
    call('POST', '/web/login', { token: token.value.trim() }).then(
      (s) => {
        setCsrf(s.csrf);
        done();
      },
      (err: ApiError) => {
        error.textContent = err.message;
        token.select();
      },
    );
  });
  queueMicrotask(() => token.focus());
  return { el: form };
}
