// The web console: a login page, then the guest list, a page per guest and the create form,
// routed by the URL's hash (#/, #/guests/NAME, #/create). Speaks to the daemon only through its
// public API (api.ts).

import './style.css';
import { call, setCsrf, whenLoggedOut } from './api.js';
import { h, fill } from './dom.js';
import { loginView } from './login.js';
import { guestListView } from './guestList.js';
import { guestPageView } from './guestPage.js';
import { createView } from './createForm.js';

const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;
/** What the current view must stop (timers, sockets) when another replaces it. */
let stopView: () => void = () => {};

function show(view: { el: HTMLElement; stop?: () => void }): void {
  stopView();
  stopView = view.stop ?? (() => {});
  fill(app, view.el);
}

async function logout(): Promise<void> {
  await call('POST', '/web/logout').catch(() => {});
  setCsrf(null);
  route();
}

let loggedIn = false;

function route(): void {
  if (!loggedIn) {
    fill(nav);
    return show(
      loginView(() => {
        loggedIn = true;
        route();
      }),
    );
  }
  fill(
    nav,
    h('a', { href: '#/' }, 'Guests'),
    h('a', { href: '#/create', 'data-testid': 'nav-create' }, 'Create'),
    h('button', { type: 'button', onclick: () => void logout() }, 'Log out'),
  );
  const m = /^#\/guests\/([a-z0-9-]+)$/.exec(location.hash);
  if (m) return show(guestPageView(m[1]));
  if (location.hash === '#/create') return show(createView());
  show(guestListView());
}

whenLoggedOut(() => {
  if (!loggedIn) return;
  loggedIn = false;
  setCsrf(null);
  route();
});
window.addEventListener('hashchange', route);

// A session cookie from an earlier login (HttpOnly: only the daemon reads it) may still be good.
call('GET', '/web/session').then(
  (s) => {
    setCsrf(s.csrf);
    loggedIn = true;
    route();
  },
  () => {
    loggedIn = false;
    route();
  },
);
