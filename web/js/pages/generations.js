// Generations: a live table of the account's generations (Server-Sent
// Events, or polling where the stream is not offered), filtered by state,
// with more pages on demand. genTable() is shared with the overview.
import {get, qs} from '../api.js';
import {announce, errorBox, fill, h} from '../dom.js';
import {credits, short, size, when} from '../format.js';
import {watchAll} from '../live.js';

const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

export function stateBadge(state) {
  return h('span', {class: `badge state-${state}`}, state);
}

export function progressCell(g) {
  const pct = g.state === 'succeeded' ? 100 : g.progress;
  return h('div', {class: 'progress-cell'},
    h('progress', {max: '100', value: String(pct), 'aria-label': `Progress of ${short(g.id)}`}),
    h('span', {class: 'pct'}, `${pct}%`));
}

// A table of generations kept up to date: returns {el, update(g), setRows(list), rows}
export function genTable({caption, limit, state}) {
  const tbody = h('tbody');
  const rows = new Map(); // id -> {tr, g}
  const empty = h('p', {class: 'muted empty'}, 'No generations yet. ', h('a', {href: '#/create'}, 'Create one'), '.');
  const table = h('table', {class: 'gens'},
    h('caption', {class: 'visually-hidden'}, caption || 'Generations'),
    h('thead', {}, h('tr', {},
      h('th', {scope: 'col'}, 'Generation'), h('th', {scope: 'col'}, 'State'),
      h('th', {scope: 'col'}, 'Progress'), h('th', {scope: 'col'}, 'Queue'),
      h('th', {scope: 'col'}, 'Move'), h('th', {scope: 'col'}, 'Size'),
      h('th', {scope: 'col'}, 'Price'))),
    tbody);
  const wrap = h('div', {class: 'table-wrap'}, table, empty);

  function cells(g) {
    return [
      h('td', {'data-label': 'Generation'}, h('a', {href: `#/generations/${g.id}`, class: 'mono'}, short(g.id)),
        h('div', {class: 'muted small'}, when(g.created_at))),
      h('td', {'data-label': 'State'}, stateBadge(g.state), g.cancel_requested && g.state === 'running' ? h('span', {class: 'muted small'}, ' cancelling') : null),
      h('td', {'data-label': 'Progress'}, progressCell(g)),
      h('td', {'data-label': 'Queue'}, g.queue_position === null || g.queue_position === undefined ? '–' : String(g.queue_position)),
      h('td', {'data-label': 'Move'}, g.input ? g.input.move : '–'),
      h('td', {'data-label': 'Size'}, size(g)),
      h('td', {'data-label': 'Price'}, credits(g.price)),
    ];
  }

  function keep(g) {
    return !state || g.state === state;
  }

  function update(g) {
    const old = rows.get(g.id);
    if (!keep(g)) {
      if (old) { old.tr.remove(); rows.delete(g.id); }
      empty.hidden = rows.size > 0;
      return;
    }
    if (old) {
      if (old.g.state !== g.state) announce(`Generation ${short(g.id)} is ${g.state}`);
      old.g = g;
      fill(old.tr, cells(g));
      old.tr.dataset.state = g.state;
      return;
    }
    const tr = h('tr', {dataset: {id: g.id, state: g.state}}, cells(g));
    // newest first: before the first row created earlier
    let before = null;
    for (const el of tbody.children) {
      const r = rows.get(el.dataset.id);
      if (r && r.g.created_at < g.created_at) { before = el; break; }
    }
    tbody.insertBefore(tr, before);
    rows.set(g.id, {tr, g});
    if (limit && rows.size > limit) {
      const last = tbody.lastElementChild;
      rows.delete(last.dataset.id);
      last.remove();
    }
    empty.hidden = rows.size > 0;
  }

  return {el: wrap, update, rows, setEmptyText: (t) => fill(empty, t)};
}

export function render(main, {query}) {
  const state = STATES.includes(query.get('state')) ? query.get('state') : '';
  const mode = h('span', {class: 'mode', id: 'live-mode'}, 'connecting…');
  const select = h('select', {id: 'state-filter'},
    h('option', {value: ''}, 'All states'),
    STATES.map((s) => h('option', {value: s, selected: s === state}, s)));
  select.addEventListener('change', () => {
    location.hash = '#/generations' + (select.value ? '?state=' + select.value : '');
  });
  const status = h('div');
  const table = genTable({state});
  const more = h('button', {type: 'button', class: 'btn', hidden: true}, 'Load more');
  let cursor = null;

  async function loadPage() {
    more.disabled = true;
    try {
      const page = await get('/generations' + qs({state, limit: 20, cursor}));
      for (const g of page.data) table.update(g);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      fill(status);
    } catch (e) {
      fill(status, errorBox(e, 'Could not list the generations'));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', loadPage);

  main.append(
    h('div', {class: 'page-head'}, h('h1', {}, 'Generations'),
      h('a', {href: '#/create', class: 'btn btn-primary'}, 'Create a video')),
    h('div', {class: 'toolbar'},
      h('label', {for: 'state-filter'}, 'State '), select,
      h('span', {class: 'muted small'}, 'Updates: '), mode),
    status, table.el, more);

  loadPage();
  return watchAll((g) => {
    // a live event for a generation not on the loaded pages is new: show it
    table.update(g);
  }, (m, err) => {
    if (m === 'error') fill(status, errorBox(err, 'Could not refresh'));
    else {
      mode.textContent = m === 'live' ? 'live (Server-Sent Events)' : 'every 2 s (polling)';
      mode.dataset.mode = m;
    }
  }, {limit: 50, state});
}
