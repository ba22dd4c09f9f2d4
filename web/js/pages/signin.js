// The sign-in page: an API key exchanged for a session cookie.
import {signIn} from '../api.js';
import {errorBox, fill, h} from '../dom.js';

export function render(main) {
  const input = h('input', {id: 'signin-key', name: 'key', type: 'password', autocomplete: 'off',
    spellcheck: 'false', required: true, 'aria-describedby': 'signin-help'});
  const status = h('div', {id: 'signin-status', 'aria-live': 'assertive'});
  const btn = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Sign in');
  const form = h('form', {class: 'card signin', novalidate: true},
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Sign in with one of your API keys. The browser keeps a session for it (an HttpOnly cookie); the key itself is not stored.'),
    h('label', {for: 'signin-key'}, 'API key'),
    input,
    h('p', {id: 'signin-help', class: 'hint'}, 'A key starts with i2v_. An operator makes the first one with ', h('code', {}, 'i2v admin user create'), '.'),
    btn, status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) {
      fill(status, errorBox(new Error('enter an API key'), 'key'));
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    btn.disabled = true;
    fill(status, h('p', {class: 'muted'}, 'Signing in…'));
    try {
      await signIn(key);
      input.value = '';
      const next = sessionStorage.getItem('i2v-after-signin') || '#/';
      sessionStorage.removeItem('i2v-after-signin');
      const target = next === '#/signin' ? '#/' : next;
      if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
      else location.hash = target;
    } catch (e) {
      input.setAttribute('aria-invalid', 'true');
      const what = e.status === 429 ? 'Too many attempts' : e.status === 401 ? 'Not signed in' : 'Sign-in failed';
      fill(status, errorBox(e, what));
      input.focus();
    } finally {
      btn.disabled = false;
    }
  });
  main.append(form);
  input.focus();
}
