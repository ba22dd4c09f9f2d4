// API keys: make one (shown once), revoke one, see when each was last used.
import {del, get, post, session} from '../api.js';
import {confirmButton, copyButton, errorBox, fill, h} from '../dom.js';
import {ago, when} from '../format.js';

export function render(main) {
  const name = h('input', {id: 'key-name', type: 'text', maxlength: '100', placeholder: 'laptop, CI, …', autocomplete: 'off'});
  const made = h('div', {id: 'new-key', 'aria-live': 'polite'});
  const status = h('div');
  const tbody = h('tbody');
  const form = h('form', {class: 'card inline-form'},
    h('h2', {}, 'New key'),
    h('div', {class: 'row'}, h('div', {class: 'field'}, h('label', {for: 'key-name'}, 'Name (optional)'), name),
      h('button', {type: 'submit', class: 'btn btn-primary', id: 'key-create'}, 'Create key')),
    made);
  main.append(h('div', {class: 'page-head'}, h('h1', {}, 'API keys')),
    h('p', {class: 'hint'}, 'Every key works with all three APIs. A key is shown once, when it is made; i2v keeps only its hash.'),
    form, status,
    h('div', {class: 'table-wrap'}, h('table', {id: 'keys-table'},
      h('caption', {class: 'visually-hidden'}, 'Your API keys'),
      h('thead', {}, h('tr', {}, ['Key id', 'Name', 'Created', 'Last used', 'Status', ''].map((t) => h('th', {scope: 'col'}, t)))),
      tbody)));

  async function load() {
    try {
      const page = await get('/keys');
      fill(tbody, page.data.map((k) => h('tr', {dataset: {key: k.key_id}},
        h('td', {'data-label': 'Key id'}, h('code', {}, k.key_id), k.key_id === session.key_id ? h('span', {class: 'muted small'}, ' (this session)') : null),
        h('td', {'data-label': 'Name'}, k.name || '–'),
        h('td', {'data-label': 'Created'}, when(k.created_at)),
        h('td', {'data-label': 'Last used', title: k.last_used_at ? when(k.last_used_at) : 'never'}, ago(k.last_used_at)),
        h('td', {'data-label': 'Status'}, h('span', {class: `badge ${k.revoked ? 'state-failed' : 'state-succeeded'}`}, k.revoked ? 'revoked' : 'active')),
        h('td', {}, k.revoked ? null : confirmButton('Revoke', k.key_id === session.key_id ? 'Revoke and sign out?' : 'Really revoke?', async () => {
          try {
            await del('/keys/' + encodeURIComponent(k.key_id));
            await load();
          } catch (e) {
            if (e.status !== 401) fill(status, errorBox(e, 'Could not revoke'));
          }
        })))));
      fill(status);
    } catch (e) {
      fill(status, errorBox(e, 'Could not list the keys'));
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const k = await post('/keys', name.value.trim() ? {name: name.value.trim()} : undefined);
      name.value = '';
      fill(made, h('div', {class: 'once', role: 'alert'},
        h('p', {}, h('strong', {}, 'Your new key '), h('code', {}, k.key_id), ' – copy it now, it is not shown again:'),
        h('div', {class: 'id-row'}, h('code', {class: 'secret mono', id: 'new-key-value'}, k.api_key), copyButton(() => k.api_key, 'Copy the new key'))));
      await load();
    } catch (e) {
      fill(made, errorBox(e, 'Could not create the key'));
    }
  });
  load();
}
