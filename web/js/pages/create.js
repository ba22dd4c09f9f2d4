// Create (the playground): a photo by upload (drag and drop or a file) or
// URL, an optional last photo (first-last), the move, prompt, duration,
// size, model, audio and webhook; the price before submitting
// (/generations/quote); and the same request as ready-to-copy curl for the
// native API, Image to Video API v1 and Animation API v2.
import {get, post, session} from '../api.js';
import {append, copyButton, errorBox, fill, h, newId} from '../dom.js';
import {credits} from '../format.js';

const MOVES = [
  ['', 'Automatic, or as the prompt says'],
  ['AUTO_EFFECTS', 'AUTO_EFFECTS – the planner chooses'],
  ['AUTO_REVERSE', 'AUTO_REVERSE – that move backwards'],
  ['ZOOM_IN', 'ZOOM_IN'], ['ZOOM_OUT', 'ZOOM_OUT'],
  ['PAN_LEFT', 'PAN_LEFT'], ['PAN_RIGHT', 'PAN_RIGHT'], ['PAN_UP', 'PAN_UP'], ['PAN_DOWN', 'PAN_DOWN'],
  ['CAMERA_PUSH_OUT', 'CAMERA_PUSH_OUT'],
  ['DOLLY_IN', 'DOLLY_IN – walk into the room (3D)'], ['DOLLY_OUT', 'DOLLY_OUT – walk back (3D)'],
  ['TRUCK_LEFT', 'TRUCK_LEFT – step sideways left (3D)'], ['TRUCK_RIGHT', 'TRUCK_RIGHT – step sideways right (3D)'],
  ['ORBIT', 'ORBIT – a gentle arc (3D)'],
];
// API v1 has no move field: its prompt names the move.
const V1_WORDS = {ZOOM_IN: 'zoom in', ZOOM_OUT: 'zoom out', PAN_LEFT: 'pan left', PAN_RIGHT: 'pan right',
  PAN_UP: 'pan up', PAN_DOWN: 'pan down', CAMERA_PUSH_OUT: 'push out', DOLLY_IN: 'dolly in',
  DOLLY_OUT: 'dolly out', TRUCK_LEFT: 'truck left', TRUCK_RIGHT: 'truck right', ORBIT: 'orbit'};
const V2_OPTIONS = ['ZOOM_IN', 'ZOOM_OUT', 'PAN_RIGHT', 'PAN_LEFT', 'PAN_UP', 'PAN_DOWN', 'CAMERA_PUSH_OUT', 'AUTO_EFFECTS', 'AUTO_REVERSE'];
const SIZES = [
  ['480p', '480p (854×480)'], ['720p', '720p (1280×720)'], ['1080p', '1080p (1920×1080)'],
  ['landscape', 'Landscape 1280×768 (format)'], ['portrait', 'Portrait 768×1280 (format)'],
  ['custom', 'Exact size…'],
];

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

function curl(url, headers, body) {
  const lines = [`curl -s ${shq(url)}`];
  for (const [k, v] of headers) lines.push(`  -H ${k === 'Authorization' || k === 'APIKEY' || k === 'x-api-key' ? `"${k}: ${v}"` : shq(`${k}: ${v}`)}`);
  lines.push(`  -H 'Content-Type: application/json'`);
  lines.push(`  -d ${shq(JSON.stringify(body, null, 2))}`);
  return lines.join(' \\\n');
}

// A photo: drop or choose a file (uploaded at once), or type a URL.
function photoPicker(label, required, onChange) {
  const id = newId('photo');
  const url = h('input', {id: `${id}-url`, type: 'url', inputmode: 'url', placeholder: 'https://…', 'aria-describedby': `${id}-status`, autocomplete: 'off'});
  const file = h('input', {id: `${id}-file`, type: 'file', accept: 'image/jpeg,image/png,image/webp,image/heic,image/heif', class: 'file-input'});
  const preview = h('img', {class: 'preview', alt: '', hidden: true});
  const status = h('div', {id: `${id}-status`, class: 'small', 'aria-live': 'polite'});
  const drop = h('div', {class: 'drop', id: `${id}-drop`},
    preview,
    h('p', {}, 'Drop a photo here, or '),
    file, h('label', {for: `${id}-file`, class: 'btn btn-small'}, 'choose a file'),
    h('p', {class: 'muted small'}, 'JPEG, PNG, WebP or HEIC; uploaded to this server for your generations only.'));

  async function upload(f) {
    if (!f) return;
    preview.src = URL.createObjectURL(f);
    preview.hidden = false;
    fill(status, `Uploading ${f.name} (${Math.round(f.size / 1024)} KiB)…`);
    drop.classList.add('busy');
    try {
      const up = await post('/uploads', undefined, {raw: f, contentType: f.type || 'application/octet-stream'});
      url.value = up.url;
      fill(status, h('span', {class: 'ok'}, `Uploaded: ${up.width}×${up.height} ${up.format}`), up.expires_at ? ` (kept until ${new Date(up.expires_at).toLocaleString()})` : '');
      onChange();
    } catch (e) {
      fill(status, errorBox(e, 'Upload failed'));
    } finally {
      drop.classList.remove('busy');
    }
  }
  file.addEventListener('change', () => upload(file.files[0]));
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    const f = ev.dataTransfer && ev.dataTransfer.files[0];
    if (f) upload(f);
  });
  // a typed URL is previewed as the browser loads it (not through i2v)
  let typed = null;
  preview.addEventListener('error', () => { preview.hidden = true; });
  preview.addEventListener('load', () => { preview.hidden = false; });
  url.addEventListener('input', () => {
    preview.hidden = true;
    fill(status);
    clearTimeout(typed);
    const v = url.value.trim();
    if (/^https?:\/\/\S+$/i.test(v)) typed = setTimeout(() => { preview.src = v; }, 400);
    onChange();
  });
  const el = h('fieldset', {class: 'photo'},
    h('legend', {}, label, required ? '' : ' (optional)'), drop,
    h('label', {for: `${id}-url`}, 'or its URL'), url, status);
  return {el, url, value: () => url.value.trim(),
    set: (v) => { url.value = v || ''; url.dispatchEvent(new Event('input', {bubbles: true})); }};
}

export function render(main, {query}) {
  const onChange = () => schedule();
  const first = photoPicker('Photo', true, onChange);
  const last = photoPicker('Last photo, for first-last (the video ends exactly on it)', false, onChange);
  const move = h('select', {id: 'move'}, MOVES.map(([v, t]) => h('option', {value: v}, t)));
  const prompt = h('textarea', {id: 'prompt', rows: '3', maxlength: '2000', 'aria-describedby': 'prompt-count',
    placeholder: 'slow zoom in, warm light'});
  const count = h('span', {id: 'prompt-count', class: 'muted small'}, '0 / 2000');
  const duration = h('input', {id: 'duration', type: 'number', min: '1', max: '30', step: '1', value: '5', inputmode: 'numeric'});
  const sizeSel = h('select', {id: 'size'}, SIZES.map(([v, t]) => h('option', {value: v, selected: v === '720p'}, t)));
  const custom = h('input', {id: 'custom-size', type: 'text', placeholder: '1280x720', pattern: '[0-9]+x[0-9]+', hidden: true, 'aria-label': 'Exact size, WIDTHxHEIGHT'});
  const flash = h('input', {type: 'radio', name: 'model', id: 'model-flash', value: 'flash', checked: true});
  const base = h('input', {type: 'radio', name: 'model', id: 'model-base', value: 'base'});
  const audio = h('input', {type: 'checkbox', id: 'audio', disabled: true});
  const webhook = h('input', {id: 'webhook', type: 'url', placeholder: 'https://example.com/hook (optional)', autocomplete: 'off'});
  const price = h('div', {id: 'price', class: 'price', 'aria-live': 'polite'}, 'Price: –');
  const submit = h('button', {type: 'submit', class: 'btn btn-primary', id: 'create-btn'}, 'Create video');
  const result = h('div', {id: 'create-status'});
  const curls = h('section', {class: 'card curls', 'aria-labelledby': 'curl-h'});

  const form = h('form', {class: 'create-form', novalidate: true},
    h('div', {class: 'card'}, first.el, last.el),
    h('div', {class: 'card form-grid'},
      h('div', {class: 'field field-wide'}, h('label', {for: 'move'}, 'Move'), move),
      h('div', {class: 'field field-wide'}, h('label', {for: 'prompt'}, 'Prompt'), prompt, count),
      h('div', {class: 'field'}, h('label', {for: 'duration'}, 'Duration (seconds, 1–30)'), duration),
      h('div', {class: 'field'}, h('label', {for: 'size'}, 'Resolution or format'), sizeSel, custom),
      h('fieldset', {class: 'field'}, h('legend', {}, 'Model'),
        h('div', {class: 'radio'}, flash, h('label', {for: 'model-flash'}, 'flash (fast)')),
        h('div', {class: 'radio'}, base, h('label', {for: 'model-base'}, 'base (finer, can add audio)'))),
      h('div', {class: 'field'}, h('div', {class: 'check'}, audio, h('label', {for: 'audio'}, 'Ambient soundtrack (base only)'))),
      h('div', {class: 'field field-wide'}, h('label', {for: 'webhook'}, 'Webhook URL'), webhook)),
    h('div', {class: 'card submit-row'}, price, submit, result));

  main.append(h('div', {class: 'page-head'}, h('h1', {}, 'Create a video')), form, curls);

  function body(forQuote) {
    const b = {};
    b.image_url = first.value() || (forQuote ? 'https://example.com/photo.jpg' : '');
    if (last.value()) b.last_image_url = last.value();
    if (move.value) b.move = move.value;
    if (prompt.value) b.prompt = prompt.value;
    const d = Number(duration.value);
    b.duration = Number.isInteger(d) && duration.value !== '' ? d : duration.value;
    const s = sizeSel.value;
    if (['480p', '720p', '1080p'].includes(s)) b.resolution = s;
    else if (s === 'custom') b.size = custom.value.trim();
    else b.format = s;
    b.model = base.checked ? 'base' : 'flash';
    if (audio.checked && base.checked) b.audio = true;
    if (webhook.value.trim()) b.webhook = webhook.value.trim();
    return b;
  }

  const fields = {image_url: first.url, last_image_url: last.url, move, prompt, duration, resolution: sizeSel,
    format: sizeSel, size: custom, model: flash, audio, webhook};
  function markField(name) {
    for (const [k, el] of Object.entries(fields)) {
      if (k === name) el.setAttribute('aria-invalid', 'true'); else el.removeAttribute('aria-invalid');
    }
  }

  let timer = null;
  let seq = 0;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }
  async function refresh() {
    count.textContent = `${prompt.value.length} / 2000`;
    audio.disabled = !base.checked;
    if (!base.checked) audio.checked = false;
    custom.hidden = sizeSel.value !== 'custom';
    showCurls();
    const mine = ++seq;
    try {
      const q = await post('/generations/quote', body(true));
      if (mine !== seq) return;
      markField(null);
      fill(price, h('strong', {}, `Price: ${credits(q.price)}`), ' · balance ', credits(q.balance),
        q.enough === false || q.balance < q.price ? h('span', {class: 'error-text'}, ' – not enough credits') : ` · ${credits(q.balance - q.price)} left after`);
      price.dataset.price = String(q.price);
    } catch (e) {
      if (mine !== seq) return;
      markField(e.field);
      fill(price, h('span', {class: 'error-text'}, 'Cannot price this: ', e.message));
      delete price.dataset.price;
    }
  }

  function showCurls() {
    const b = body(false);
    if (!b.image_url) b.image_url = 'https://example.com/room.jpg';
    const origin = location.origin;
    // native
    const native = curl(`${origin}/api/i2v/v1/generations`, [['Authorization', 'Bearer $I2V_KEY']], b);
    // Image to Video API v1
    const v1notes = [];
    const v1 = {imageUrl: b.image_url};
    if (b.last_image_url) v1.lastImageUrl = b.last_image_url;
    v1.duration = b.duration === 10 ? 10 : 5;
    if (b.duration !== 5 && b.duration !== 10) v1notes.push(`duration: API v1 takes 5 or 10 seconds (shown with ${v1.duration})`);
    v1.resolution = b.resolution || '720p';
    if (!b.resolution) v1notes.push('format and exact sizes: API v1 takes a resolution (shown with 720p)');
    v1.modelType = b.model === 'base' ? 'Base' : 'Flash';
    if (b.audio) v1.generateAudio = true;
    let p1 = b.prompt || '';
    if (b.move && V1_WORDS[b.move]) p1 = V1_WORDS[b.move] + (p1 ? ', ' + p1 : '');
    else if (b.move === 'AUTO_REVERSE') v1notes.push('AUTO_REVERSE: API v1 has no way to ask for it');
    if (p1) v1.prompt = p1;
    if (b.move && V1_WORDS[b.move]) v1notes.push(`move: API v1 reads it from the prompt ("${V1_WORDS[b.move]}" added)`);
    if (b.webhook) v1notes.push('webhook: API v1 takes none (poll the result)');
    // Animation API v2
    const v2notes = [];
    const v2 = {user_id: session.user_id || 'YOUR_USER_ID', image_urls: [b.image_url]};
    v2.option = V2_OPTIONS.includes(b.move) ? b.move : 'AUTO_EFFECTS';
    if (b.move && !V2_OPTIONS.includes(b.move)) v2notes.push(`${b.move}: not an option of API v2 (shown with AUTO_EFFECTS)`);
    if (b.prompt) {
      v2.prompt = b.prompt;
      if (v2.option.startsWith('AUTO_')) v2notes.push('prompt: API v2 ignores it with an AUTO_ option');
    }
    if (b.format === 'portrait') v2.format = 'portrait';
    if (b.resolution || b.size) v2notes.push('size: API v2 makes 1280×768, or 768×1280 with format "portrait"');
    if (b.duration === 10) v2.duration = 10;
    else if (b.duration !== 5) v2notes.push('duration: API v2 takes 5 or 10 seconds (shown with 5)');
    if (b.last_image_url) v2notes.push('last photo: API v2 has no first-last mode');
    if (b.model === 'base' || b.audio) v2notes.push('model and audio: API v2 always uses flash, without audio');
    if (b.webhook) v2.webhook = b.webhook;
    const v1text = curl(`${origin}/api/v1/imageToVideo/generate`, [['APIKEY', '$I2V_KEY']], v1);
    const v2text = curl(`${origin}/api/animation/v2/generate`, [['x-api-key', '$I2V_KEY']], v2);
    const block = (idp, title, text, notes) => h('div', {class: 'curl'},
      h('div', {class: 'curl-head'}, h('h3', {id: `${idp}-h`}, title), copyButton(() => text, `Copy the ${title} request`)),
      h('pre', {tabindex: '0', 'aria-labelledby': `${idp}-h`}, h('code', {id: `${idp}-code`}, text)),
      notes.length ? h('ul', {class: 'notes small'}, notes.map((n) => h('li', {}, n))) : null);
    fill(curls, h('h2', {id: 'curl-h'}, 'The same request with curl'),
      h('p', {class: 'hint'}, 'Set ', h('code', {}, 'I2V_KEY'), ' to one of your API keys first.'),
      block('curl-native', 'Native API', native, []),
      block('curl-v1', 'Image to Video API v1', v1text, v1notes),
      block('curl-v2', 'Animation API v2', v2text, v2notes));
  }

  form.addEventListener('input', schedule);
  form.addEventListener('change', schedule);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const b = body(false);
    if (!b.image_url) {
      markField('image_url');
      fill(result, errorBox(new Error('image_url: add a photo (upload one or give its URL)'), 'Not created'));
      first.url.focus();
      return;
    }
    submit.disabled = true;
    fill(result, h('p', {class: 'muted'}, 'Creating…'));
    try {
      const key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
      const g = await post('/generations', b, {headers: {'Idempotency-Key': key}});
      location.hash = `#/generations/${g.id}`;
    } catch (e) {
      markField(e.field);
      fill(result, errorBox(e, 'Not created'));
      if (e.field && fields[e.field]) fields[e.field].focus();
    } finally {
      submit.disabled = false;
    }
  });

  // "Run again": the form filled from another generation's input
  const from = query.get('from');
  if (from) {
    get('/generations/' + encodeURIComponent(from)).then((g) => {
      const i = g.input || {};
      first.set((i.image_urls || [])[0]);
      last.set(i.last_image_url);
      move.value = i.move || '';
      prompt.value = i.prompt || '';
      duration.value = String(i.duration || 5);
      if (i.resolution) sizeSel.value = i.resolution;
      else if (i.size === '1280x768') sizeSel.value = 'landscape';
      else if (i.size === '768x1280') sizeSel.value = 'portrait';
      else if (i.size) { sizeSel.value = 'custom'; custom.value = i.size; }
      (i.model === 'base' ? base : flash).checked = true;
      audio.checked = !!i.audio;
      webhook.value = i.webhook || '';
      append(result, h('p', {class: 'muted'}, 'Filled in from generation ', h('code', {}, g.id), '.'));
      refresh();
    }).catch((e) => fill(result, errorBox(e, 'Could not load the generation to run again')));
  } else {
    refresh();
  }
  return () => clearTimeout(timer);
}
