// Overview: who you are (the user_id the seed APIs ask for, with a copy
// button), what you have (balance, remaining videos) and what you made
// lately (a live table).
import {get, session} from '../api.js';
import {copyButton, errorBox, fill, h} from '../dom.js';
import {credits} from '../format.js';
import {watchAll} from '../live.js';
import {genTable} from './generations.js';

export function render(main) {
  const account = h('div', {class: 'cards'}, h('p', {class: 'muted'}, 'Loading the account…'));
  const recent = genTable({caption: 'Recent generations', limit: 8});
  const status = h('div');
  main.append(
    h('div', {class: 'page-head'}, h('h1', {}, 'Overview'),
      h('a', {href: '#/create', class: 'btn btn-primary'}, 'Create a video')),
    account,
    h('section', {'aria-labelledby': 'recent-h'},
      h('div', {class: 'section-head'}, h('h2', {id: 'recent-h'}, 'Recent generations'),
        h('a', {href: '#/generations'}, 'All generations')),
      status, recent.el));

  get('/account').then((a) => {
    const uid = h('code', {id: 'user-id', class: 'mono big-id'}, a.user_id);
    fill(account,
      h('section', {class: 'card card-wide', 'aria-labelledby': 'uid-h'},
        h('h2', {id: 'uid-h'}, 'Your user_id'),
        h('div', {class: 'id-row'}, uid, copyButton(() => a.user_id, 'Copy your user_id')),
        h('p', {class: 'hint'}, 'Animation API v2 asks for it in every request (', h('code', {}, 'user_id'), '). Signed in as ',
          h('strong', {}, a.name || 'unnamed'), ' with key ', h('code', {}, session.key_id || '?'), '.')),
      h('section', {class: 'card stat', 'aria-labelledby': 'bal-h'},
        h('h2', {id: 'bal-h'}, 'Balance'),
        h('p', {class: 'stat-value', id: 'balance'}, credits(a.balance)),
        h('p', {class: 'hint'}, h('a', {href: '#/credits'}, 'Ledger and use'))),
      h('section', {class: 'card stat', 'aria-labelledby': 'rem-h'},
        h('h2', {id: 'rem-h'}, 'Remaining videos'),
        h('p', {class: 'stat-value', id: 'remaining'}, String(a.remaining_videos)),
        h('p', {class: 'hint'}, `at ${credits(a.video_price)} per 5-second video`)),
      h('section', {class: 'card stat', 'aria-labelledby': 'api-h'},
        h('h2', {id: 'api-h'}, 'Native API'),
        h('div', {class: 'id-row'}, h('code', {class: 'mono', id: 'api-base'}, location.origin + '/api/i2v/v1'),
          copyButton(() => location.origin + '/api/i2v/v1', 'Copy the API address')),
        h('p', {class: 'hint'}, 'Bearer keys from ', h('a', {href: '#/keys'}, 'Keys'), '; the seed APIs too.')));
  }).catch((e) => fill(account, errorBox(e, 'Could not load the account')));

  return watchAll((g) => recent.update(g), (m, err) => {
    if (m === 'error') fill(status, errorBox(err, 'Could not refresh'));
    else fill(status);
  }, {limit: 8});
}
