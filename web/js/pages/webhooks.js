// Webhooks: the signing secret (show, copy, rotate) and the delivery log
// with redelivery.
import {get, post, qs} from '../api.js';
import {confirmButton, copyButton, errorBox, fill, h} from '../dom.js';
import {when} from '../format.js';

export function render(main) {
  const secretBox = h('section', {class: 'card', 'aria-labelledby': 'secret-h'});
  const filter = h('input', {id: 'hook-filter', type: 'text', placeholder: 'a generation id', autocomplete: 'off'});
  const status = h('div');
  const tbody = h('tbody');
  const more = h('button', {type: 'button', class: 'btn', hidden: true}, 'Load more');
  let cursor = null;
  main.append(h('div', {class: 'page-head'}, h('h1', {}, 'Webhooks')),
    h('p', {class: 'hint'}, 'Generations made with a webhook URL are POSTed there when they end, signed the Standard Webhooks way with this secret.'),
    secretBox,
    h('section', {class: 'card', 'aria-labelledby': 'log-h'},
      h('h2', {id: 'log-h'}, 'Deliveries'),
      h('form', {class: 'toolbar', onsubmit: (ev) => { ev.preventDefault(); cursor = null; fill(tbody); load(); }},
        h('label', {for: 'hook-filter'}, 'Generation '), filter, h('button', {type: 'submit', class: 'btn btn-small'}, 'Filter')),
      status,
      h('div', {class: 'table-wrap'}, h('table', {},
        h('caption', {class: 'visually-hidden'}, 'Webhook deliveries'),
        h('thead', {}, h('tr', {}, ['Created', 'Generation', 'Event', 'URL', 'State', 'Attempts', 'Last status', 'Next attempt', ''].map((t) => h('th', {scope: 'col'}, t)))),
        tbody)),
      more));

  function showSecret(secret) {
    const code = h('code', {class: 'secret mono', id: 'hook-secret'}, '•'.repeat(24));
    let shown = false;
    const toggle = h('button', {type: 'button', class: 'btn btn-small', 'aria-pressed': 'false'}, 'Show');
    toggle.addEventListener('click', () => {
      shown = !shown;
      code.textContent = shown ? secret : '•'.repeat(24);
      toggle.textContent = shown ? 'Hide' : 'Show';
      toggle.setAttribute('aria-pressed', String(shown));
    });
    fill(secretBox, h('h2', {id: 'secret-h'}, 'Signing secret'),
      h('div', {class: 'id-row'}, code, toggle, copyButton(() => secret, 'Copy the webhook secret'),
        confirmButton('Rotate', 'Rotate now? The old secret stops working', async () => {
          try {
            const ans = await post('/webhooks/secret');
            showSecret(ans.secret);
          } catch (e) {
            secretBox.append(errorBox(e, 'Could not rotate'));
          }
        })));
  }

  function row(d) {
    return h('tr', {},
      h('td', {'data-label': 'Created'}, when(d.created_at)),
      h('td', {'data-label': 'Generation'}, d.generation_id ? h('a', {href: `#/generations/${d.generation_id}`, class: 'mono'}, String(d.generation_id).slice(0, 8)) : '–'),
      h('td', {'data-label': 'Event'}, d.event_type || '–'),
      h('td', {'data-label': 'URL', class: 'url'}, d.url || '–'),
      h('td', {'data-label': 'State'}, h('span', {class: `badge hook-${d.state}`}, d.state)),
      h('td', {'data-label': 'Attempts'}, String(d.attempts)),
      h('td', {'data-label': 'Last status'}, d.last_status ? String(d.last_status) : (d.last_error || '–')),
      h('td', {'data-label': 'Next attempt'}, when(d.next_attempt_at)),
      h('td', {}, h('button', {type: 'button', class: 'btn btn-small', onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          const nd = await post(`/webhooks/deliveries/${encodeURIComponent(d.id)}/redeliver`);
          ev.target.closest('tr').replaceWith(row(nd));
        } catch (e) {
          fill(status, errorBox(e, 'Could not redeliver'));
          ev.target.disabled = false;
        }
      }}, 'Redeliver')));
  }

  async function load() {
    more.disabled = true;
    try {
      const page = await get('/webhooks/deliveries' + qs({limit: 20, cursor, generation: filter.value.trim()}));
      for (const d of page.data) tbody.append(row(d));
      if (!tbody.children.length) tbody.append(h('tr', {}, h('td', {colspan: '9', class: 'muted'}, 'No deliveries.')));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      fill(status);
    } catch (e) {
      fill(status, errorBox(e, 'Could not load the deliveries'));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', load);

  fill(secretBox, h('h2', {id: 'secret-h'}, 'Signing secret'), h('p', {class: 'muted'}, 'Loading…'));
  get('/webhooks').then((w) => showSecret(w.secret))
    .catch((e) => fill(secretBox, h('h2', {id: 'secret-h'}, 'Signing secret'), errorBox(e, 'Could not load the secret')));
  load();
}
