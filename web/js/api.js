// api.js - the native API (/api/i2v/v1) as the browser calls it: the
// session cookie goes by itself; every change carries the session's CSRF
// token. Errors become ApiError with the API's code, message and field.

export const BASE = '/api/i2v/v1';

export class ApiError extends Error {
  constructor(status, body, text) {
    const e = body && body.error ? body.error : null;
    let message = e && e.message ? e.message : null;
    if (!message) {
      if (status === 0) message = 'the server could not be reached';
      else if (status === 404) message = 'this server does not offer this endpoint (404)';
      else message = (text || '').slice(0, 200) || `HTTP ${status}`;
    }
    super(message);
    this.status = status;
    this.code = e ? e.code : null;
    this.field = e ? e.field : null;
  }
}

export const session = {user_id: null, key_id: null, csrf_token: null, expires_at: null};
let onSignedOut = () => {};
export function whenSignedOut(fn) { onSignedOut = fn; }

export async function call(method, path, body, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (method !== 'GET' && method !== 'HEAD' && session.csrf_token) headers['X-CSRF-Token'] = session.csrf_token;
  let payload;
  if (opts.raw !== undefined) {
    payload = opts.raw;
    if (opts.contentType) headers['Content-Type'] = opts.contentType;
  } else if (body !== undefined && body !== null) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(BASE + path, {method, headers, body: payload, credentials: 'same-origin', cache: 'no-store'});
  } catch (e) {
    throw new ApiError(0, null, '');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!res.ok) {
    const err = new ApiError(res.status, data, text);
    if (res.status === 401 && path !== '/session') {
      Object.assign(session, {user_id: null, key_id: null, csrf_token: null});
      onSignedOut(err);
    }
    throw err;
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body, opts) => call('POST', path, body, opts);
export const del = (path) => call('DELETE', path);

export async function loadSession() {
  try {
    Object.assign(session, await call('GET', '/session'));
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

export async function signIn(key) {
  Object.assign(session, await call('POST', '/session', {key}));
}

export async function signOut() {
  try { await call('DELETE', '/session'); } finally {
    Object.assign(session, {user_id: null, key_id: null, csrf_token: null, expires_at: null});
  }
}

// A query string from an object, skipping empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}
