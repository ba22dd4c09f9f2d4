// app.js - the Developer Space's shell: the session, the hash router
// (#/, #/generations, #/generations/ID, #/create, #/keys, #/credits,
// #/webhooks, #/signin) and one module per page. Each page's render(main,
// params) may return a function that stops what it started (streams,
// timers) when another page is shown.

import {loadSession, session, signOut, whenSignedOut} from './api.js';
import {errorBox, fill, h} from './dom.js';
import * as signin from './pages/signin.js';
import * as overview from './pages/overview.js';
import * as generations from './pages/generations.js';
import * as generation from './pages/generation.js';
import * as create from './pages/create.js';
import * as keys from './pages/keys.js';
import * as credits from './pages/credits.js';
import * as webhooks from './pages/webhooks.js';

const routes = [
  [/^\/?$/, overview, 'overview'],
  [/^\/generations\/?$/, generations, 'generations'],
  [/^\/generations\/([A-Za-z0-9_-]{1,64})$/, generation, 'generations'],
  [/^\/create\/?$/, create, 'create'],
  [/^\/keys\/?$/, keys, 'keys'],
  [/^\/credits\/?$/, credits, 'credits'],
  [/^\/webhooks\/?$/, webhooks, 'webhooks'],
  [/^\/signin\/?$/, signin, null],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signoutBtn = document.getElementById('signout');
let stopPage = null;
let known = false; // the session was checked

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  return {path, query: new URLSearchParams(query || '')};
}

function showChrome(signedIn) {
  nav.hidden = !signedIn;
  signoutBtn.hidden = !signedIn;
}

async function route() {
  if (stopPage) { try { stopPage(); } catch (e) { /* nothing to stop */ } stopPage = null; }
  const {path, query} = parseHash();
  if (!known) {
    try {
      await loadSession();
    } catch (e) {
      fill(main, h('h1', {}, 'i2v Developer Space'), errorBox(e, 'The server did not answer'));
      return;
    }
    known = true;
  }
  const signedIn = !!session.user_id;
  showChrome(signedIn);
  let found = routes.find(([re]) => re.test(path));
  if (!found) {
    fill(main, h('h1', {}, 'Not found'), h('p', {}, 'There is no such page. ', h('a', {href: '#/'}, 'Back to the overview')));
    return;
  }
  if (!signedIn && found[1] !== signin) {
    sessionStorage.setItem('i2v-after-signin', location.hash || '#/');
    found = routes.find(([, m]) => m === signin);
  } else if (signedIn && found[1] === signin) {
    location.replace('#/');
    return;
  }
  const [re, page, name] = found;
  const params = (re.exec(path) || []).slice(1);
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  main.dataset.page = page === signin ? 'signin' : name + (params.length ? '-detail' : '');
  try {
    stopPage = page.render(main, {params, query}) || null;
  } catch (e) {
    fill(main, errorBox(e, 'This page failed'));
  }
  const h1 = main.querySelector('h1');
  document.title = (h1 ? h1.textContent + ' – ' : '') + 'i2v Developer Space';
}

whenSignedOut(() => {
  showChrome(false);
  if (parseHash().path !== '/signin') {
    sessionStorage.setItem('i2v-after-signin', location.hash || '#/');
    location.hash = '#/signin';
  }
});

signoutBtn.addEventListener('click', async () => {
  try { await signOut(); } catch (e) { /* the cookie is gone either way */ }
  showChrome(false);
  location.hash = '#/signin';
});

// Focus the page's heading after a navigation, for keyboard and screen reader users.
window.addEventListener('hashchange', async () => {
  await route();
  const h1 = main.querySelector('h1');
  if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus(); }
});
route();
