// live.js - generations as they change: Server-Sent Events first
// (/events for all of the account's, /generations/{id}/events for one),
// and, where the stream cannot be opened, polling every 2 seconds.

import {BASE, get, qs} from './api.js';
import {isFinal} from './format.js';

const POLL_MS = 2000;

// Calls onGen(generation) for every change of the account's generations
// and onMode('live' | 'polling') when the way changes. Returns stop().
export function watchAll(onGen, onMode, pollParams = {limit: 50}) {
  let stopped = false;
  let es = null;
  let timer = null;
  let opened = false;

  async function poll() {
    if (stopped) return;
    try {
      const page = await get('/generations' + qs(pollParams));
      if (!stopped) for (const g of page.data) onGen(g);
    } catch (e) {
      if (onMode) onMode('error', e);
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  function startPolling() {
    if (es) { es.close(); es = null; }
    if (onMode) onMode('polling');
    poll();
  }

  if (typeof EventSource === 'function') {
    es = new EventSource(BASE + '/events');
    es.addEventListener('open', () => { opened = true; if (onMode) onMode('live'); });
    es.addEventListener('generation', (ev) => {
      try { onGen(JSON.parse(ev.data)); } catch (e) { /* a malformed event is skipped */ }
    });
    es.addEventListener('error', () => {
      // never opened (no such endpoint, refused) or closed for good: poll
      if (!stopped && (!opened || es.readyState === EventSource.CLOSED)) startPolling();
    });
  } else {
    startPolling();
  }
  return () => {
    stopped = true;
    if (es) es.close();
    clearTimeout(timer);
  };
}

// The same for one generation; ends by itself after its final state.
export function watchOne(id, onGen, onMode) {
  let stopped = false;
  let es = null;
  let timer = null;
  let opened = false;
  const path = '/generations/' + encodeURIComponent(id);

  async function poll() {
    if (stopped) return;
    try {
      const g = await get(path);
      if (stopped) return;
      onGen(g);
      if (isFinal(g)) return;
    } catch (e) {
      if (onMode) onMode('error', e);
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  if (typeof EventSource === 'function') {
    es = new EventSource(BASE + path + '/events');
    es.addEventListener('open', () => { opened = true; if (onMode) onMode('live'); });
    es.addEventListener('generation', (ev) => {
      let g;
      try { g = JSON.parse(ev.data); } catch (e) { return; }
      onGen(g);
      if (isFinal(g)) { es.close(); }
    });
    es.addEventListener('error', () => {
      if (stopped) return;
      if (!opened || es.readyState === EventSource.CLOSED) {
        es.close();
        es = null;
        if (onMode) onMode('polling');
        poll();
      }
    });
  } else {
    poll();
  }
  return () => {
    stopped = true;
    if (es) es.close();
    clearTimeout(timer);
  };
}
