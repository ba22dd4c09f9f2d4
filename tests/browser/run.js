// run.js - drives Debian's Chromium through the Developer Space of a running
// `i2v serve` and prints one JSON line per scenario:
//   {"scenario": NAME, "ok": true|false, ...what it saw, "error": MESSAGE}
// tests/e2e/test_browser.py starts the server, makes the user, runs this
// and asserts on what each scenario saw.
//
// usage: node run.js CONFIG.json
//   CONFIG: {"base", "key", "user_id", "photo_url", "photo_file", "hook_url",
//            "screenshots"}
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const {chromium} = require('playwright-core');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const XSS = '"><img src=x onerror=alert(1)>';
const shots = cfg.screenshots;
fs.mkdirSync(shots, {recursive: true});

function emit(o) {
  process.stdout.write(JSON.stringify(o) + '\n');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function scenario(name, fn) {
  const t0 = Date.now();
  try {
    const seen = (await fn()) || {};
    emit(Object.assign({scenario: name, ok: true, ms: Date.now() - t0}, seen));
  } catch (e) {
    emit({scenario: name, ok: false, ms: Date.now() - t0, error: String(e && e.stack || e)});
  }
}

async function shot(page, name) {
  await page.screenshot({path: path.join(shots, name + '.png'), fullPage: true});
}

// Waits until fn() (in the page) is truthy; returns its value.
async function until(page, fn, arg, timeout = 30000) {
  const h = await page.waitForFunction(fn, arg, {timeout, polling: 100});
  return h.jsonValue();
}

async function createThroughForm(page, {url, prompt, duration, resolution, move}) {
  await page.goto(cfg.base + '/#/create');
  await page.waitForSelector('#create-btn');
  await page.locator('fieldset.photo').first().locator('input[type=url]').fill(url);
  if (move) await page.selectOption('#move', move);
  await page.fill('#prompt', prompt || '');
  await page.fill('#duration', String(duration));
  await page.selectOption('#size', resolution);
  await until(page, () => document.querySelector('#price').dataset.price);
  const price = Number(await page.getAttribute('#price', 'data-price'));
  await page.click('#create-btn');
  await page.waitForURL(/#\/generations\/[0-9a-f-]{36}$/, {timeout: 15000});
  const id = page.url().split('/').pop();
  return {id, price};
}

(async () => {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'i2v-chromium-'));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', '--mute-audio',
      `--disk-cache-dir=${path.join(userDir, 'cache')}`],
  });
  const context = await browser.newContext({viewport: {width: 1280, height: 860}});
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: cfg.base});
  const page = await context.newPage();
  const dialogs = [];
  const violations = [];
  const consoleErrors = [];
  page.on('dialog', async (d) => { dialogs.push({type: d.type(), message: d.message()}); await d.dismiss(); });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const noteViolations = async () => {
    try { violations.push(...await page.evaluate(() => window.__violations.splice(0))); } catch (e) { /* navigating */ }
  };

  await scenario('csp', async () => {
    const res = await page.goto(cfg.base + '/');
    const headers = res.headers();
    await page.waitForSelector('#signin-key');
    return {
      status: res.status(),
      csp: headers['content-security-policy'] || null,
      nosniff: headers['x-content-type-options'] || null,
      referrer: headers['referrer-policy'] || null,
      inline_scripts: await page.evaluate(() => [...document.scripts].filter((s) => !s.src).length),
      style_attributes: await page.evaluate(() => document.querySelectorAll('[style]').length),
      inline_styles: await page.evaluate(() => document.querySelectorAll('style').length),
    };
  });

  await scenario('signin', async () => {
    await shot(page, 'signin');
    await page.fill('#signin-key', 'i2v_not-a-real-key-000000000000');
    await page.click('form.signin button[type=submit]');
    const wrong = await until(page, () => { const e = document.querySelector('#signin-status .error'); return e && e.textContent; });
    await page.fill('#signin-key', cfg.key);
    await page.keyboard.press('Enter');
    const uid = await until(page, () => { const e = document.querySelector('#user-id'); return e && e.textContent; });
    const cookies = await context.cookies();
    const c = cookies.find((x) => x.name === 'i2v_session');
    return {wrong_key_error: wrong, user_id: uid, cookie_http_only: c ? c.httpOnly : null,
      cookie_same_site: c ? c.sameSite : null,
      cookie_visible_to_js: await page.evaluate(() => document.cookie.includes('i2v_session'))};
  });

  await scenario('copy_user_id', async () => {
    await page.click('button[aria-label="Copy your user_id"]');
    await until(page, () => document.querySelector('button[aria-label="Copy your user_id"]').dataset.copied);
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    return {clipboard: clip, button: await page.getAttribute('button[aria-label="Copy your user_id"]', 'data-copied')};
  });

  await scenario('upload', async () => {
    await page.goto(cfg.base + '/#/create');
    await page.waitForSelector('#create-btn');
    const input = page.locator('fieldset.photo').first().locator('input[type=file]');
    await input.setInputFiles(cfg.photo_file);
    const status = page.locator('fieldset.photo').first().locator('[aria-live]');
    await until(page, () => {
      const s = document.querySelector('fieldset.photo [aria-live]');
      return s && (s.querySelector('.ok') || s.querySelector('.error')) ? true : null;
    });
    const url = await page.locator('fieldset.photo').first().locator('input[type=url]').inputValue();
    return {status: (await status.textContent()).trim(), url};
  });

  let madeId = null;
  await scenario('create_and_watch', async () => {
    const {id, price} = await createThroughForm(page, {url: cfg.photo_url, prompt: 'slow zoom in, warm light',
      duration: cfg.duration || 6, resolution: '480p', move: 'ZOOM_IN'});
    madeId = id;
    await page.evaluate(() => { window.__sameDocument = 'yes'; });
    const seen = [];
    const states = [];
    const deadline = Date.now() + 180000;
    let final = null;
    while (Date.now() < deadline) {
      const s = await page.evaluate(() => {
        const p = document.querySelector('.state-row progress');
        const b = document.querySelector('.state-row .badge');
        return {progress: p ? Number(p.value) : null, state: b ? b.textContent : null};
      });
      if (s.progress !== null && seen[seen.length - 1] !== s.progress) seen.push(s.progress);
      if (s.state && states[states.length - 1] !== s.state) states.push(s.state);
      if (['succeeded', 'failed', 'cancelled'].includes(s.state)) { final = s.state; break; }
      await sleep(150);
    }
    const same = await page.evaluate(() => window.__sameDocument);
    await page.waitForSelector('#player', {timeout: 10000});
    await shot(page, 'generation');
    return {id, price, progress_seen: seen, states_seen: states, final, same_document: same,
      plan: await page.textContent('#plan-prompt').catch(() => null),
      mode: await page.evaluate(() => document.querySelector('#live-mode') ? document.querySelector('#live-mode').textContent : null)};
  });

  await scenario('play_video', async () => {
    const canPlay = await page.evaluate(() => document.querySelector('#player').canPlayType('video/mp4; codecs="avc1.42E01E"'));
    await page.evaluate(() => { const v = document.querySelector('#player'); v.muted = true; return v.play(); });
    const t1 = await until(page, () => { const v = document.querySelector('#player'); return v.currentTime > 0.5 ? v.currentTime : null; }, null, 20000);
    // seek: the server answers Range requests, so the player can jump
    const seeked = await page.evaluate(() => new Promise((resolve) => {
      const v = document.querySelector('#player');
      v.pause();
      v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
      v.currentTime = Math.max(0.2, v.duration - 1.5);
      setTimeout(() => resolve(null), 8000);
    }));
    const duration = await page.evaluate(() => document.querySelector('#player').duration);
    const src = await page.getAttribute('#player', 'src');
    return {can_play: canPlay, current_time: t1, seeked_to: seeked, duration, src};
  });

  await scenario('cancel', async () => {
    const {id} = await createThroughForm(page, {url: cfg.photo_url, prompt: 'pan left', duration: 30,
      resolution: '1080p', move: 'PAN_LEFT'});
    await page.waitForSelector('#cancel-btn');
    await until(page, () => { const b = document.querySelector('.state-row .badge'); return b && ['queued', 'running'].includes(b.textContent) ? b.textContent : null; });
    const before = await page.textContent('.state-row .badge');
    await page.click('#cancel-btn');
    const after = await until(page, () => { const b = document.querySelector('.state-row .badge'); return b && b.textContent === 'cancelled' ? b.textContent : null; }, null, 20000);
    const error = await page.textContent('.error-text').catch(() => null);
    return {id, before, after, error};
  });

  await scenario('xss', async () => {
    const {id} = await createThroughForm(page, {url: cfg.photo_url, prompt: XSS, duration: 1, resolution: '480p'});
    await page.waitForSelector('#user-prompt');
    const shown = await page.textContent('#user-prompt');
    await page.goto(cfg.base + '/#/generations');
    await page.waitForSelector(`tr[data-id="${id}"]`);
    await page.goto(cfg.base + '/#/create?from=' + id);
    await until(page, () => document.querySelector('#prompt').value);
    const curl = await page.textContent('#curl-native-code');
    await sleep(500);
    return {id, shown, prompt_in_form: await page.inputValue('#prompt'), curl_has_prompt: curl.includes('onerror=alert(1)'),
      injected_imgs: await page.evaluate(() => [...document.querySelectorAll('img')].filter((i) => i.getAttribute('src') === 'x').length),
      dialogs: dialogs.slice()};
  });

  await scenario('keys', async () => {
    await page.goto(cfg.base + '/#/keys');
    await page.waitForSelector('#keys-table tbody tr');
    await page.fill('#key-name', 'browser test');
    await page.click('#key-create');
    const key = await until(page, () => { const e = document.querySelector('#new-key-value'); return e && e.textContent; });
    const keyId = key.slice(0, 12);
    await page.waitForSelector(`tr[data-key="${keyId}"]`);
    await shot(page, 'keys');
    const row = page.locator(`tr[data-key="${keyId}"]`);
    await row.locator('button', {hasText: 'Revoke'}).click();
    await row.locator('button').click(); // the second press confirms
    await until(page, (k) => { const r = document.querySelector(`tr[data-key="${k}"]`); return r && r.textContent.includes('revoked'); }, keyId);
    return {key, key_id: keyId, row: (await page.locator(`tr[data-key="${keyId}"]`).textContent())};
  });

  await scenario('ledger', async () => {
    await page.goto(cfg.base + '/#/credits');
    await page.waitForSelector('#ledger-table tbody tr');
    await page.waitForSelector('svg.chart');
    await shot(page, 'credits');
    const rows = await page.evaluate(() => [...document.querySelectorAll('#ledger-table tbody tr')].map((tr) => ({
      kind: tr.dataset.kind, amount: tr.children[2].textContent, balance_after: tr.children[3].textContent})));
    const bars = await page.evaluate(() => document.querySelectorAll('svg.chart rect.bar').length);
    return {rows, bars};
  });

  await scenario('csrf', async () => {
    const r = await page.evaluate(async () => {
      const without = await fetch('/api/i2v/v1/keys', {method: 'POST', credentials: 'same-origin'});
      const s = await (await fetch('/api/i2v/v1/session')).json();
      const wrong = await fetch('/api/i2v/v1/keys', {method: 'POST', headers: {'X-CSRF-Token': '0'.repeat(64)}});
      const withToken = await fetch('/api/i2v/v1/generations/quote', {method: 'POST',
        headers: {'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json'},
        body: JSON.stringify({image_url: 'https://example.com/a.jpg'})});
      return {without_status: without.status, without_body: await without.json(), wrong_status: wrong.status,
        with_status: withToken.status};
    });
    return r;
  });

  await scenario('pages', async () => {
    const out = {};
    for (const [name, hash, sel] of [['overview', '#/', '#user-id'], ['generations', '#/generations', 'table.gens tbody tr'],
      ['create', '#/create', '#curl-v2-code'], ['webhooks', '#/webhooks', '#secret-h']]) {
      await page.goto(cfg.base + '/' + hash);
      await page.waitForSelector(sel);
      if (name === 'create') { // a filled form, as the README shows it
        await page.locator('fieldset.photo').first().locator('input[type=url]').fill(cfg.photo_url);
        await page.selectOption('#move', 'DOLLY_IN');
        await page.fill('#prompt', 'slow walk into the living room, warm evening light');
        await page.selectOption('#size', '1080p');
        await page.waitForSelector('fieldset.photo img.preview:not([hidden])');
        await until(page, () => document.querySelector('#price').dataset.price);
      }
      await sleep(400);
      await shot(page, name);
      out[name] = await page.evaluate(() => ({h1: document.querySelector('h1').textContent, errors: [...document.querySelectorAll('.error')].map((e) => e.textContent)}));
    }
    return out;
  });

  await scenario('phone', async () => {
    const phone = await browser.newContext({viewport: {width: 375, height: 740}, deviceScaleFactor: 2, isMobile: true, hasTouch: true});
    await phone.addCookies((await context.cookies()).filter((c) => c.name === 'i2v_session'));
    const p = await phone.newPage();
    const widths = {};
    for (const [name, hash, sel] of [['overview', '#/', '#user-id'], ['generations', '#/generations', 'table.gens tbody tr'],
      ['generation', '#/generations/' + madeId, '#player'], ['create', '#/create', '#curl-v2-code'], ['keys', '#/keys', '#keys-table tbody tr'],
      ['credits', '#/credits', 'svg.chart'], ['webhooks', '#/webhooks', '#secret-h']]) {
      await p.goto(cfg.base + '/' + hash);
      await p.waitForSelector(sel);
      await sleep(400);
      widths[name] = await p.evaluate(() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth, inner: window.innerWidth}));
      await p.screenshot({path: path.join(shots, 'phone-' + name + '.png'), fullPage: true});
    }
    await phone.close();
    return {widths};
  });

  await scenario('keyboard', async () => {
    await page.goto(cfg.base + '/#/');
    await page.reload();
    await page.waitForSelector('#user-id');
    // Tab from the top: the skip link first, then the navigation
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => document.activeElement.textContent);
    const labelled = await page.evaluate(async () => {
      location.hash = '#/create';
      await new Promise((r) => setTimeout(r, 600));
      return [...document.querySelectorAll('input, select, textarea')].filter((el) => el.type !== 'file' && el.type !== 'hidden')
        .map((el) => ({id: el.id, label: !!(el.labels && el.labels.length) || el.hasAttribute('aria-label')}));
    });
    return {first_tab: first, unlabelled: labelled.filter((l) => !l.label).map((l) => l.id)};
  });

  await noteViolations();
  await scenario('signout', async () => {
    await page.goto(cfg.base + '/#/');
    await page.waitForSelector('#signout:not([hidden])');
    await page.click('#signout');
    await page.waitForSelector('#signin-key');
    const after = await page.evaluate(async () => (await fetch('/api/i2v/v1/session')).status);
    const cookies = (await context.cookies()).filter((c) => c.name === 'i2v_session');
    return {session_status: after, cookies_left: cookies.length};
  });

  await noteViolations();
  emit({scenario: 'summary', ok: true, dialogs, csp_violations: violations, console_errors: consoleErrors});
  await browser.close();
  fs.rmSync(userDir, {recursive: true, force: true});
})().catch((e) => {
  emit({scenario: 'fatal', ok: false, error: String(e && e.stack || e)});
  process.exit(1);
});
