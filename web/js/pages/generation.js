// One generation: live state and progress, the video (seekable), its
// cover, downloads, the plan's prompt, the input, timings, webhook
// attempts; cancel, delete its outputs, run it again.
import {get, post, del, qs} from '../api.js';
import {announce, confirmButton, copyButton, errorBox, fill, h} from '../dom.js';
import {credits, isFinal, seconds, short, size, when} from '../format.js';
import {watchOne} from '../live.js';
import {progressCell, stateBadge} from './generations.js';

function dl(pairs) {
  return h('dl', {class: 'facts'}, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function valueText(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

export function render(main, {params}) {
  const id = params[0];
  const head = h('div', {class: 'page-head'}, h('h1', {}, 'Generation ', h('span', {class: 'mono'}, short(id))));
  const status = h('div', {'aria-live': 'polite'});
  const top = h('div', {class: 'gen-top'});
  const media = h('section', {class: 'card media', 'aria-labelledby': 'media-h'});
  const details = h('div', {class: 'gen-details'});
  const hooks = h('section', {class: 'card', 'aria-labelledby': 'hooks-h'});
  main.append(h('p', {}, h('a', {href: '#/generations'}, '← All generations')), head, status, top, media, details, hooks);

  let current = null;
  let mediaFor = null; // the outputs the player shows

  function actions(g) {
    const out = [];
    if (!isFinal(g)) {
      out.push(h('button', {type: 'button', class: 'btn btn-danger', id: 'cancel-btn',
        disabled: g.cancel_requested, onclick: async (ev) => {
          ev.target.disabled = true;
          try {
            const ans = await post(`/generations/${g.id}/cancel`);
            show(ans);
            announce(ans.state === 'cancelled' ? 'Cancelled and refunded' : 'Cancelling…');
          } catch (e) {
            fill(status, errorBox(e, 'Could not cancel'));
            ev.target.disabled = false;
          }
        }}, g.cancel_requested ? 'Cancelling…' : 'Cancel'));
    } else if (g.outputs) {
      out.push(confirmButton('Delete outputs', 'Really delete the files?', async () => {
        try { show(await del(`/generations/${g.id}`)); announce('Outputs deleted'); } catch (e) { fill(status, errorBox(e, 'Could not delete')); }
      }, 'btn btn-danger'));
    }
    out.push(h('a', {class: 'btn', href: `#/create?from=${encodeURIComponent(g.id)}`}, 'Run again'));
    return h('div', {class: 'actions'}, out);
  }

  function showMedia(g) {
    const key = g.outputs ? g.outputs.video : (g.outputs_deleted_at ? 'deleted' : g.state);
    if (key === mediaFor) return;
    mediaFor = key;
    if (g.outputs) {
      const video = h('video', {id: 'player', controls: true, preload: 'metadata', playsinline: true,
        poster: g.outputs.cover, src: g.outputs.video, 'aria-label': 'The generated video'});
      fill(media, h('h2', {id: 'media-h'}, 'Video'), video,
        h('div', {class: 'downloads'},
          h('a', {class: 'btn', href: g.outputs.video, download: `${g.id}.mp4`}, 'Download video (MP4)'),
          h('a', {class: 'btn', href: g.outputs.cover, download: `${g.id}.jpg`}, 'Download cover (JPEG)')),
        h('figure', {class: 'cover'}, h('img', {src: g.outputs.cover, alt: 'Cover: the first frame', loading: 'lazy'}),
          h('figcaption', {class: 'muted small'}, `Cover, ${g.outputs.width}×${g.outputs.height}`)));
    } else if (g.outputs_deleted_at) {
      fill(media, h('h2', {id: 'media-h'}, 'Video'), h('p', {class: 'muted'}, `The outputs were deleted ${when(g.outputs_deleted_at)}.`));
    } else if (g.state === 'failed' || g.state === 'cancelled') {
      fill(media, h('h2', {id: 'media-h'}, 'Video'), h('p', {class: 'muted'}, 'No video: this generation ', g.state === 'failed' ? 'failed' : 'was cancelled', ' and was refunded.'));
    } else {
      fill(media, h('h2', {id: 'media-h'}, 'Video'), h('p', {class: 'muted'}, 'The video appears here when it is ready.'));
    }
  }

  function show(g) {
    const was = current;
    current = g;
    if (was && was.state !== g.state) announce(`Generation is ${g.state}`);
    fill(top,
      h('section', {class: 'card', 'aria-labelledby': 'state-h'},
        h('h2', {id: 'state-h', class: 'visually-hidden'}, 'State'),
        h('div', {class: 'state-row'}, stateBadge(g.state), progressCell(g),
          g.queue_position !== null && g.queue_position !== undefined && g.state === 'queued'
            ? h('span', {class: 'muted'}, `${g.queue_position} ahead in the queue`) : null),
        g.error ? h('p', {class: 'error-text'}, 'Error: ', g.error) : null,
        actions(g)));
    showMedia(g);
    const sig = [g.state, g.prompt, g.started_at, g.finished_at, g.outputs_deleted_at].join('|');
    if (was && details.dataset.sig === sig) return;
    details.dataset.sig = sig;
    const i = g.input || {};
    fill(details,
      h('section', {class: 'card', 'aria-labelledby': 'ids-h'}, h('h2', {id: 'ids-h'}, 'Ids'),
        dl([
          ['id', h('span', {}, h('code', {class: 'mono'}, g.id), ' ', copyButton(g.id, 'Copy the id'))],
          ['task_id (API v1)', h('code', {class: 'mono'}, String(g.task_id))],
          ['project_id', h('code', {class: 'mono'}, g.project_id)],
          ['made through', g.source === 'native' ? 'the native API' : `API ${g.source}`],
          ['price', credits(g.price)],
        ])),
      h('section', {class: 'card', 'aria-labelledby': 'plan-h'}, h('h2', {id: 'plan-h'}, 'The plan'),
        g.prompt ? h('p', {class: 'plan', id: 'plan-prompt'}, g.prompt) : h('p', {class: 'muted'}, 'The planner has not run yet.'),
        h('h3', {}, 'Your prompt'),
        i.prompt ? h('p', {class: 'user-prompt', id: 'user-prompt'}, i.prompt) : h('p', {class: 'muted'}, 'none')),
      h('section', {class: 'card', 'aria-labelledby': 'input-h'}, h('h2', {id: 'input-h'}, 'Input'),
        h('ol', {class: 'photos'}, (i.image_urls || []).map((u) => h('li', {},
          h('img', {src: u, alt: '', loading: 'lazy', class: 'thumb'}), h('span', {class: 'url'}, u)))),
        dl([
          i.last_image_url ? ['last photo', h('span', {class: 'url'}, i.last_image_url)] : null,
          ['move', valueText(i.move)], ['duration', `${i.duration} s`],
          ['size', size(g)], ['model', valueText(i.model)], ['audio', valueText(i.audio)],
          ['webhook', i.webhook ? h('span', {class: 'url'}, i.webhook) : '–'],
        ])),
      h('section', {class: 'card', 'aria-labelledby': 'time-h'}, h('h2', {id: 'time-h'}, 'Timings'),
        dl([
          ['created', when(g.created_at)], ['started', when(g.started_at)], ['finished', when(g.finished_at)],
          ['waited in the queue', seconds(g.created_at, g.started_at)],
          ['rendering', seconds(g.started_at, g.finished_at)],
          ['in all', seconds(g.created_at, g.finished_at)],
        ])));
    if (isFinal(g) && (!was || !isFinal(was))) loadHooks(g);
    else if (!isFinal(g) && !was) fill(hooks, h('h2', {id: 'hooks-h'}, 'Webhook attempts'), h('p', {class: 'muted'}, 'A webhook is sent when the generation ends.'));
  }

  async function loadHooks(g) {
    fill(hooks, h('h2', {id: 'hooks-h'}, 'Webhook attempts'), h('p', {class: 'muted'}, 'Loading…'));
    if (!g.input || !g.input.webhook) {
      fill(hooks, h('h2', {id: 'hooks-h'}, 'Webhook attempts'), h('p', {class: 'muted'}, 'No webhook was asked for.'));
      return;
    }
    try {
      const page = await get('/webhooks/deliveries' + qs({generation: g.id, limit: 20}));
      fill(hooks, h('h2', {id: 'hooks-h'}, 'Webhook attempts'),
        page.data.length ? h('div', {class: 'table-wrap'}, h('table', {},
          h('thead', {}, h('tr', {}, ['Event', 'State', 'Attempts', 'Last status', 'Next attempt', 'Delivered'].map((t) => h('th', {scope: 'col'}, t)))),
          h('tbody', {}, page.data.map((d) => h('tr', {},
            h('td', {}, d.event_type), h('td', {}, d.state), h('td', {}, String(d.attempts)),
            h('td', {}, d.last_status ? String(d.last_status) : (d.last_error || '–')),
            h('td', {}, when(d.next_attempt_at)), h('td', {}, when(d.delivered_at)))))))
          : h('p', {class: 'muted'}, 'No delivery yet.'),
        h('p', {}, h('a', {href: '#/webhooks'}, 'All deliveries')));
    } catch (e) {
      fill(hooks, h('h2', {id: 'hooks-h'}, 'Webhook attempts'), errorBox(e, 'Could not load the deliveries'));
    }
  }

  let stop = () => {};
  get('/generations/' + encodeURIComponent(id)).then((g) => {
    show(g);
    if (!isFinal(g)) {
      stop = watchOne(g.id, show, (m, err) => {
        if (m === 'error') fill(status, errorBox(err, 'Could not refresh'));
      });
    }
  }).catch((e) => fill(status, errorBox(e, e.status === 404 ? 'No such generation' : 'Could not load it')));
  return () => stop();
}
