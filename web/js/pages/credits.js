// Credits: the balance, a chart of use per day (drawn here as SVG) and the
// ledger: every top-up, charge and refund.
import {get, qs} from '../api.js';
import {errorBox, fill, h} from '../dom.js';
import {credits, signed, when} from '../format.js';

const DAY = 86400000;

function dayKey(t) {
  const d = new Date(t);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

// Use per day (charges less refunds) and the balance at each day's end,
// for the `days` days up to now, from ledger rows (any order).
export function perDay(rows, days, now = Date.now()) {
  const start = new Date(now - (days - 1) * DAY);
  start.setHours(0, 0, 0, 0);
  const asc = rows.slice().sort((x, y) => x.id - y.id);
  const out = [];
  let j = 0;
  let balance = null;
  for (let i = 0; i < days; i++) {
    const from = new Date(start);
    from.setDate(start.getDate() + i);
    const to = new Date(start);
    to.setDate(start.getDate() + i + 1);
    let used = 0;
    while (j < asc.length && new Date(asc[j].created_at) < to) {
      const r = asc[j];
      if (new Date(r.created_at) >= from && r.kind !== 'topup') used -= r.amount;
      balance = r.balance_after;
      j++;
    }
    out.push({day: dayKey(from.getTime()), used: Math.max(0, used), balance});
  }
  return out;
}

function chart(data) {
  const W = 640;
  const H = 220;
  const pad = {l: 44, r: 12, t: 14, b: 30};
  const maxUsed = Math.max(1, ...data.map((d) => d.used));
  const maxBal = Math.max(1, ...data.map((d) => d.balance || 0));
  const bw = (W - pad.l - pad.r) / data.length;
  const y = (v) => pad.t + (H - pad.t - pad.b) * (1 - v / maxUsed);
  const yb = (v) => pad.t + (H - pad.t - pad.b) * (1 - v / maxBal);
  const total = data.reduce((a, d) => a + d.used, 0);
  const svg = h('svg:svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': 'chart-title chart-desc'},
    h('svg:title', {id: 'chart-title'}, 'Credits used per day'),
    h('svg:desc', {id: 'chart-desc'}, `${total} credits used in the last ${data.length} days; the most in one day: ${maxUsed === 1 && total === 0 ? 0 : maxUsed}.`));
  for (const v of [0, maxUsed / 2, maxUsed]) {
    svg.append(h('svg:line', {x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'grid'}),
      h('svg:text', {x: pad.l - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end'}, String(Math.round(v))));
  }
  data.forEach((d, i) => {
    if (d.used > 0) {
      svg.append(h('svg:rect', {x: pad.l + i * bw + bw * 0.15, y: y(d.used), width: Math.max(1, bw * 0.7), height: y(0) - y(d.used), class: 'bar'},
        h('svg:title', {}, `${d.day}: ${d.used} credits used`)));
    }
  });
  const pts = data.map((d, i) => (d.balance === null ? null : `${pad.l + i * bw + bw / 2},${yb(d.balance)}`)).filter(Boolean);
  if (pts.length > 1) svg.append(h('svg:polyline', {points: pts.join(' '), class: 'balance-line'}));
  const labels = [0, Math.floor(data.length / 2), data.length - 1];
  for (const i of labels) {
    svg.append(h('svg:text', {x: pad.l + i * bw + bw / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle'}, data[i].day.slice(5)));
  }
  return svg;
}

export function render(main) {
  const summary = h('div', {class: 'cards'});
  const chartBox = h('section', {class: 'card', 'aria-labelledby': 'use-h'}, h('h2', {id: 'use-h'}, 'Use over the last 30 days'), h('p', {class: 'muted'}, 'Loading…'));
  const status = h('div');
  const tbody = h('tbody');
  const more = h('button', {type: 'button', class: 'btn', hidden: true}, 'Load more');
  let cursor = null;
  main.append(h('div', {class: 'page-head'}, h('h1', {}, 'Credits')), summary, chartBox,
    h('section', {class: 'card', 'aria-labelledby': 'ledger-h'}, h('h2', {id: 'ledger-h'}, 'Ledger'), status,
      h('div', {class: 'table-wrap'}, h('table', {id: 'ledger-table'},
        h('caption', {class: 'visually-hidden'}, 'Ledger, newest first'),
        h('thead', {}, h('tr', {}, ['When', 'Kind', 'Amount', 'Balance after', 'Generation', 'Note'].map((t) => h('th', {scope: 'col'}, t)))),
        tbody)), more));

  function row(r) {
    return h('tr', {dataset: {kind: r.kind}},
      h('td', {'data-label': 'When'}, when(r.created_at)),
      h('td', {'data-label': 'Kind'}, h('span', {class: `badge kind-${r.kind}`}, r.kind)),
      h('td', {'data-label': 'Amount', class: r.amount < 0 ? 'neg num' : 'pos num'}, signed(r.amount)),
      h('td', {'data-label': 'Balance after', class: 'num'}, r.balance_after.toLocaleString('en')),
      h('td', {'data-label': 'Generation'}, r.generation_id ? h('a', {href: `#/generations/${r.generation_id}`, class: 'mono'}, r.generation_id.slice(0, 8)) : '–'),
      h('td', {'data-label': 'Note'}, r.note || ''));
  }

  async function loadPage() {
    more.disabled = true;
    try {
      const page = await get('/ledger' + qs({limit: 50, cursor}));
      for (const r of page.data) tbody.append(row(r));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      fill(status, errorBox(e, 'Could not load the ledger'));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', loadPage);

  async function loadChart() {
    try {
      const rows = [];
      let c = null;
      const since = Date.now() - 31 * DAY;
      for (let i = 0; i < 20; i++) { // at most 2,000 rows
        const page = await get('/ledger' + qs({limit: 100, cursor: c}));
        rows.push(...page.data);
        c = page.next_cursor;
        if (!c || (page.data.length && new Date(page.data[page.data.length - 1].created_at).getTime() < since)) break;
      }
      const data = perDay(rows, 30);
      const used = data.reduce((a, d) => a + d.used, 0);
      fill(chartBox, h('h2', {id: 'use-h'}, 'Use over the last 30 days'), chart(data),
        h('p', {class: 'legend small'}, h('span', {class: 'swatch bar-swatch'}), ' credits used per day (charges less refunds)  ',
          h('span', {class: 'swatch line-swatch'}), ' balance at the end of the day'),
        h('p', {class: 'muted small'}, `${credits(used)} used in 30 days.`));
    } catch (e) {
      fill(chartBox, h('h2', {id: 'use-h'}, 'Use over the last 30 days'), errorBox(e, 'Could not draw the chart'));
    }
  }

  get('/account').then((a) => fill(summary,
    h('section', {class: 'card stat'}, h('h2', {}, 'Balance'), h('p', {class: 'stat-value'}, credits(a.balance))),
    h('section', {class: 'card stat'}, h('h2', {}, 'Remaining videos'), h('p', {class: 'stat-value'}, String(a.remaining_videos)),
      h('p', {class: 'hint'}, `at ${credits(a.video_price)} per 5-second video`)),
    h('section', {class: 'card stat'}, h('h2', {}, 'Top-ups'), h('p', {class: 'hint'}, 'Credits are added by the operator (', h('code', {}, 'i2v admin credits add'), ').'))))
    .catch((e) => fill(summary, errorBox(e, 'Could not load the account')));
  loadPage();
  loadChart();
}
