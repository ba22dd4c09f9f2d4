// dom.js - building the page from data without ever parsing data as HTML:
// every string becomes a text node or an attribute value.

// h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child, [more])
export function h(tag, props, ...children) {
  const el = tag.includes(':')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.split(':')[1])
    : document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (['value', 'checked', 'disabled', 'hidden', 'selected', 'indeterminate'].includes(k) &&
             !(el instanceof SVGElement)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Replaces el's children.
export function fill(el, ...children) {
  return append(clear(el), children);
}

let uid = 0;
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// Says text to screen readers (the page's polite live region).
export function announce(text) {
  const el = document.getElementById('announce');
  if (!el) return;
  el.textContent = '';
  setTimeout(() => { el.textContent = text; }, 30);
}

let toastTimer = null;
export function toast(text) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 3000);
}

// Copies text to the clipboard; falls back to a selection where the
// Clipboard API is not available (plain http on another host).
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    const ta = h('textarea', {class: 'offscreen', readonly: true, 'aria-hidden': 'true'});
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
    ta.remove();
    return ok;
  }
}

// A "Copy" button for the text that getText() gives.
export function copyButton(getText, label) {
  const b = h('button', {type: 'button', class: 'btn btn-small', 'aria-label': label}, 'Copy');
  b.addEventListener('click', async () => {
    const ok = await copyText(typeof getText === 'function' ? getText() : getText);
    b.textContent = ok ? 'Copied' : 'Copy failed';
    b.dataset.copied = ok ? 'yes' : 'no';
    announce(ok ? 'Copied to the clipboard' : 'Could not copy');
    setTimeout(() => { b.textContent = 'Copy'; }, 1800);
  });
  return b;
}

// An error box (role=alert) for an ApiError or any Error.
export function errorBox(err, what) {
  const box = h('div', {class: 'error', role: 'alert'});
  const msg = err && err.message ? err.message : String(err);
  append(box, [what ? h('strong', {}, what + ': ') : null, msg]);
  if (err && err.status) append(box, [' ', h('span', {class: 'muted'}, `(HTTP ${err.status}${err.code ? ', ' + err.code : ''})`)]);
  return box;
}

// A two-step button: the first press asks, the second does.
export function confirmButton(label, confirmLabel, action, cls) {
  const b = h('button', {type: 'button', class: cls || 'btn btn-danger btn-small'}, label);
  let armed = false;
  let timer = null;
  b.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      b.textContent = confirmLabel;
      b.classList.add('armed');
      timer = setTimeout(() => { armed = false; b.textContent = label; b.classList.remove('armed'); }, 4000);
      return;
    }
    clearTimeout(timer);
    armed = false;
    b.disabled = true;
    try { await action(); } finally {
      b.disabled = false;
      b.textContent = label;
      b.classList.remove('armed');
    }
  });
  return b;
}
