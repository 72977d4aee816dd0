'use strict';
// The audit dashboard served by herald at /dashboard/, driven in real headless
// Chromium (playwright-core, /usr/bin/chromium) against the real herald binary, with events
// triggered by the official Python library. Screenshots of every page at 1280×800 and at
// phone width go to target/dashboard-screenshots/; axe-core runs in each page.

const { test: nodeTest, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startHerald, withHeraldLogs, REPO_ROOT, HERALD_BIN } = require('../lib/herald');
const { connectClient, closeAll } = require('../lib/clients');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const PYTHON = process.env.PYTHON || 'python3';
const TRIGGER_PY = path.join(__dirname, '..', 'lib', 'trigger.py');
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = path.join(process.env.CARGO_TARGET_DIR || path.join(REPO_ROOT, 'target'), 'dashboard-screenshots');
const TOKEN = 'dashboard-test-token-0123456789';
const APPS = [
  { id: '1', key: 'app-key', secret: 'app-secret', audit_token: TOKEN },
  { id: '2', key: 'other-key', secret: 'other-secret' }, // no audit token
];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let h;
let browser;
let context;
let page;
const clients = [];
const pageErrors = [];
const foreignRequests = [];
const test = withHeraldLogs(() => h, nodeTest);

/** An audit event as the brief's Django backend publishes it, to its three channels. */
function auditEvent(i, { model = 'service', action = 'created', user = 'test@example.com', name = `Service ${i}`, changes } = {}) {
  return {
    channels: ['audit-channel', `model-${model}`, `user-${user}`],
    event: 'model-change',
    data: {
      action, model, object_id: i, object_repr: name, user,
      timestamp: new Date().toISOString(),
      changes: changes || { name: { old: null, new: name }, price: { old: null, new: `${i}.00` } },
    },
  };
}

/** Triggers with the official Python library (a real `pusher` pip client in a subprocess). */
function pythonTrigger(events) {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [TRIGGER_PY, String(h.port), h.app.id, h.app.key, h.app.secret, JSON.stringify(events)], { timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python trigger failed: ${err.message}\n${stderr}`));
      else resolve(Number(stdout.trim()));
    });
  });
}

async function feedSeqs() {
  return page.$$eval('#feed-rows tr', (rows) => rows.map((r) => Number(r.dataset.seq)));
}

/** Waits until the feed lists exactly `seqs` (newest first). */
async function waitFeed(seqs, what, timeout = 15000) {
  const expected = seqs.join(',');
  await page
    .waitForFunction((want) => [...document.querySelectorAll('#feed-rows tr')].map((r) => r.dataset.seq).join(',') === want, expected, { timeout })
    .catch(async (e) => {
      throw new Error(`${what}: ${e.message}; feed has ${JSON.stringify(await feedSeqs())}`);
    });
}

/** Runs axe-core in the page; returns the serious and critical violations. */
async function axe() {
  // Evaluated over the DevTools protocol: the page's CSP (rightly) refuses injected scripts.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  // Our own dir, so that the restart test can start herald again on the same audit DB.
  h = await startHerald({ apps: APPS, dir: fs.mkdtempSync(path.join(os.tmpdir(), 'herald-dashboard-')) });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  // Offline by construction: every request the page makes goes to herald itself.
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.origin !== h.baseUrl && url.protocol !== 'blob:' && url.protocol !== 'data:') foreignRequests.push(req.url());
  });
});

after(async () => {
  await closeAll(clients);
  await browser?.close();
  await h?.stop();
  if (h) fs.rmSync(h.dir, { recursive: true, force: true });
});

test('GET /dashboard serves the embedded page with a strict CSP; the app list carries no secret', async () => {
  const res = await fetch(`${h.baseUrl}/dashboard/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-security-policy'), /connect-src 'self'/);
  assert.match(await res.text(), /<script defer src="app.js">/);
  const js = await fetch(`${h.baseUrl}/dashboard/app.js`);
  assert.equal(js.status, 200);
  const etag = js.headers.get('etag');
  assert.equal((await fetch(`${h.baseUrl}/dashboard/app.js`, { headers: { 'if-none-match': etag } })).status, 304);
  assert.equal((await fetch(`${h.baseUrl}/dashboard/nope.js`)).status, 404);
  const apps = await (await fetch(`${h.baseUrl}/dashboard/apps`)).text();
  assert.deepEqual(JSON.parse(apps).apps, [
    { id: '1', enabled: true, audit_token: true },
    { id: '2', enabled: true, audit_token: false },
  ]);
  for (const secret of [TOKEN, 'app-secret', 'other-secret', 'app-key']) assert.ok(!apps.includes(secret), `app list leaks ${secret}`);
  // The server view is the auditor's: no token, no view; the token opens it.
  assert.equal((await fetch(`${h.baseUrl}/apps/1/server`)).status, 401);
  const wrong = await fetch(`${h.baseUrl}/apps/1/server`, { headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /Invalid bearer token/);
  const none = await fetch(`${h.baseUrl}/apps/2/server`, { headers: { authorization: 'Bearer x' } });
  assert.match(await none.text(), /has no audit token/);
});

test('a wrong token gets a clear message; an app without a token says how to set one', async () => {
  await page.goto(`${h.baseUrl}/dashboard`);
  await page.waitForSelector('#token');
  await page.selectOption('#app-select', '2');
  await page.waitForSelector('#app-hint >> text=has no audit token');
  assert.match(await page.textContent('#app-hint'), /audit_token/);
  assert.equal(await page.isDisabled('#token'), true);
  await page.screenshot({ path: path.join(SHOTS, 'login-no-token-desktop.png'), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: path.join(SHOTS, 'login-no-token-phone.png'), fullPage: true });
  await page.setViewportSize(DESKTOP);
  await page.selectOption('#app-select', '1');
  await page.fill('#token', 'not-the-token');
  await page.press('#token', 'Enter');
  await page.waitForSelector('#login-message >> text=refused this token');
  assert.match(await page.textContent('#login-message'), /Invalid bearer token/);
  assert.equal(await page.$('#feed-rows'), null, 'nothing is shown without a valid token');
  await page.screenshot({ path: path.join(SHOTS, 'login-wrong-token-desktop.png'), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: path.join(SHOTS, 'login-wrong-token-phone.png'), fullPage: true });
  await page.setViewportSize(DESKTOP);
});

test('login with the token; events triggered with the Python library appear live; the server view counts subscribers', async () => {
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForSelector('#feed-status >> text=Live');
  assert.ok(await page.evaluate((t) => Object.values(sessionStorage).includes(t), TOKEN), 'token kept in sessionStorage');
  const listener = await connectClient(h);
  clients.push(listener);
  await listener.subscribe('audit-channel');
  await pythonTrigger([
    auditEvent(1),
    auditEvent(2, { model: 'invoice', action: 'updated', user: 'ana@example.com', name: 'Invoice 2', changes: { total: { old: '10.00', new: '12.50' }, status: ['draft', 'sent'] } }),
    auditEvent(3, { model: 'invoice', action: 'deleted', user: 'bob@example.com', name: 'Invoice 3 Widget' }),
  ]);
  await waitFeed([3, 2, 1], 'three events, newest first');
  assert.match(await page.textContent('#feed-rows tr[data-seq="2"]'), /ana@example\.com/);
  await page.waitForFunction(() => document.querySelector('#channels-table')?.textContent.includes('audit-channel'), null, { timeout: 10000 });
  const row = await page.textContent('#channels-table tbody tr');
  assert.match(row, /audit-channel\s*1/);
  assert.equal(await page.textContent('#node-connections'), '1');
});

test('search filters by model and by full text', async () => {
  await page.click('#nav >> text=Search');
  await page.waitForSelector('#f-model');
  await page.fill('#f-model', 'invoice');
  await page.press('#f-model', 'Enter');
  await page.waitForSelector('#result-count >> text=2 events');
  const models = await page.$$eval('#search-results tbody tr td:nth-child(4)', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(models, ['invoice', 'invoice']);
  await page.fill('#f-model', '');
  await page.fill('#f-q', 'widget');
  await page.press('#f-q', 'Enter');
  await page.waitForSelector('#result-count >> text=1 event');
  assert.deepEqual(await page.$$eval('#search-results tbody tr', (rows) => rows.map((r) => r.dataset.seq)), ['3']);
  await page.fill('#f-q', 'nothing-like-this');
  await page.press('#f-q', 'Enter');
  await page.waitForSelector('#search-results >> text=No events match');
});

test('the detail shows changes as a before/after diff, and the user link opens the user history', async () => {
  await page.goto(`${h.baseUrl}/dashboard/#/search?model=invoice`);
  await page.click('a[aria-label="Event 2 details"]');
  await page.waitForSelector('#changes-diff');
  const diff = await page.$$eval('#changes-diff tbody tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent.trim())));
  assert.deepEqual(diff, [
    ['status', 'draft', 'sent'],
    ['total', '10.00', '12.50'],
  ]);
  await page.click('#detail-user');
  await page.waitForSelector('#page-title >> text=User ana@example.com');
  await page.waitForSelector('table.events tbody tr');
  assert.deepEqual(await page.$$eval('table.events tbody tr', (rows) => rows.map((r) => r.dataset.seq)), ['2']);
});

test('export downloads the current filter as CSV and NDJSON with the right rows', async () => {
  await page.goto(`${h.baseUrl}/dashboard/#/search?model=invoice`);
  await page.waitForSelector('#result-count');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const csvText = fs.readFileSync(await csv.path(), 'utf8');
  const lines = csvText.trim().split(/\r?\n/);
  assert.equal(lines.length, 3, `header + 2 rows:\n${csvText}`);
  assert.ok(lines.slice(1).every((l) => l.includes('invoice')), csvText);
  assert.match(csv.suggestedFilename(), /\.csv$/);
  const [nd] = await Promise.all([page.waitForEvent('download'), page.click('#export-ndjson')]);
  const rows = fs.readFileSync(await nd.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.seq), [2, 3]);
  await page.waitForSelector('#export-status >> text=2 events');
});

test('after a herald restart the live feed resumes with nothing missing and nothing twice', async () => {
  await page.goto(`${h.baseUrl}/dashboard/#/live`);
  await waitFeed([3, 2, 1], 'the three earlier events');
  const { port, dir } = h;
  await closeAll(clients.splice(0));
  await h.stop();
  await page.waitForSelector('#feed-status >> text=Reconnecting', { timeout: 15000 });
  h = await startHerald({ apps: APPS, port, dir });
  await pythonTrigger([4, 5, 6, 7].map((i) => auditEvent(i, { model: 'order', user: 'carol@example.com' })));
  await waitFeed([7, 6, 5, 4, 3, 2, 1], 'every event exactly once, in order', 30000);
  await page.waitForSelector('#feed-status >> text=Live');
  // Paused, the feed takes nothing; resumed, it catches up on everything recorded meanwhile.
  await page.click('#pause-feed');
  await pythonTrigger([8, 9].map((i) => auditEvent(i)));
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await feedSeqs(), [7, 6, 5, 4, 3, 2, 1]);
  await page.click('#pause-feed');
  await waitFeed([9, 8, 7, 6, 5, 4, 3, 2, 1], 'caught up after resume');
});

test('every page: screenshots at 1280×800 and phone width, no serious axe violations, both themes', async () => {
  const pages = [
    ['live', '#/live', '#feed-rows tr'],
    ['statistics', '#/stats?days=7', 'svg.chart'],
    ['statistics-hourly', '#/stats?days=1&per=hour', 'svg.chart'],
    ['search', '#/search?model=invoice', '#result-count'],
    ['event-detail', '#/events/2', '#changes-diff'],
    ['user', `#/users/${encodeURIComponent('ana@example.com')}`, 'table.events'],
    ['model', '#/models/invoice', 'table.events'],
    ['object', '#/models/invoice/objects/2', 'table.events'],
    ['integrity', '#/integrity', '#checkpoints-table'],
  ];
  const problems = [];
  for (const [theme, viewports] of [['light', [DESKTOP, PHONE]], ['dark', [DESKTOP]]]) {
    await page.emulateMedia({ colorScheme: theme });
    for (const viewport of viewports) {
      await page.setViewportSize(viewport);
      for (const [name, hash, ready] of pages) {
        await page.goto(`${h.baseUrl}/dashboard/${hash}`);
        await page.waitForSelector(ready, { timeout: 10000 });
        await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
        const suffix = `${viewport === PHONE ? 'phone' : 'desktop'}${theme === 'dark' ? '-dark' : ''}`;
        await page.screenshot({ path: path.join(SHOTS, `${name}-${suffix}.png`), fullPage: true });
        if (viewport === PHONE) {
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          if (overflow > 1) problems.push(`${name} at phone width scrolls sideways by ${overflow}px`);
        }
        for (const v of await axe()) problems.push(`${name} (${suffix}): ${v.impact} ${v.id} — ${v.help} at ${v.nodes.join(', ')}`);
      }
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize(DESKTOP);
  assert.deepEqual(problems, []);
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  assert.deepEqual(foreignRequests, [], 'the dashboard loads nothing from elsewhere');
});

test('statistics: totals, breakdowns and the per-day and per-hour charts count every event', async () => {
  await page.goto(`${h.baseUrl}/dashboard/#/stats?days=7`);
  await page.waitForSelector('svg.chart');
  assert.match(await page.getAttribute('svg.chart', 'aria-label'), /^Events per day \(UTC\): 9 events/);
  const byModel = await page.$$eval('section[aria-label="By model"] tbody tr', (rows) => rows.map((r) => r.textContent.trim()));
  assert.deepEqual(byModel, ['order4', 'service3', 'invoice2']);
  await page.goto(`${h.baseUrl}/dashboard/#/stats?days=1&per=hour`);
  await page.waitForSelector('svg.chart');
  assert.match(await page.getAttribute('svg.chart', 'aria-label'), /^Events per hour \(local time\): 9 events over 2[45] bars/);
});

test('keyboard: the skip link moves focus to the content, the navigation is reachable by Tab', async () => {
  await page.goto('about:blank'); // a fresh load, not a hash change: focus starts at the top
  await page.goto(`${h.baseUrl}/dashboard/#/stats`);
  await page.waitForSelector('svg.chart');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  await page.focus('.skip-link');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Statistics');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#page-title >> text=Search');
});

test('integrity: verify reports the trail intact; the signed checkpoints are listed and saved as JSON', async () => {
  await page.goto(`${h.baseUrl}/dashboard/#/integrity`);
  await page.click('#verify-now');
  await page.waitForSelector('#verify-result >> text=Intact');
  assert.match(await page.textContent('#verify-result'), /9 events verified \(seq 1–9\)/);
  // herald signed a checkpoint when it shut down for the restart, after seq 3.
  const seqs = await page.$$eval('#checkpoints-table tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  assert.ok(seqs.includes('3'), `checkpoint at seq 3 listed: ${seqs}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-checkpoints')]);
  const downloadPath = await download.path();
  const saved = JSON.parse(fs.readFileSync(downloadPath, 'utf8'));
  assert.equal(saved.app_id, '1');
  assert.ok(saved.public_key, 'the public key is in the file');
  assert.deepEqual(saved.checkpoints.map((c) => c.seq), seqs.map(Number).reverse());
  // The saved file is what the CLI's offline verification reads.
  const keyFile = path.join(h.dir, 'auditor-copy.pub');
  fs.writeFileSync(keyFile, saved.public_key_pem);
  const out = await new Promise((resolve, reject) => {
    execFile(HERALD_BIN, ['audit', 'verify', '--db', `sqlite://${path.join(h.dir, 'audit.db')}`, '--app', '1', '--public-key', keyFile, '--checkpoints', downloadPath],
      { timeout: 20000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}${stderr}`)) : resolve(stdout)));
  });
  assert.match(out, /verified 9 events/);
});

test('the live feed limited to one model shows only its events, old and new', async () => {
  await page.goto(`${h.baseUrl}/dashboard/#/live`);
  await page.fill('#live-model', 'invoice');
  await page.press('#live-model', 'Enter');
  await waitFeed([3, 2], 'the two invoice events');
  await pythonTrigger([auditEvent(10, { model: 'invoice', action: 'updated' }), auditEvent(11, { model: 'service' })]);
  await waitFeed([10, 3, 2], 'the new invoice event, and not the service one');
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(await feedSeqs(), [10, 3, 2]);
});
