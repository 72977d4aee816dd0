'use strict';
// pusher-js's own browser build in real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) connects to herald and receives an event
// triggered with the official Node library. playwright-core gives Chromium a fresh temporary
// profile (user data dir) of its own for each launch.

const { test: nodeTest, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const { chromium } = require('playwright-core');
const { startHerald, withHeraldLogs } = require('../lib/herald');
const { serverLib } = require('../lib/clients');
const { AUDIT_EVENT } = require('../lib/fixtures');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const PUSHER_JS = require.resolve('pusher-js/dist/web/pusher.min.js');

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>herald browser test</title>
<script src="/pusher.min.js"></script></head>
<body><pre id="log"></pre>
<script>
  window.received = [];
  window.states = [];
  const params = new URLSearchParams(location.search);
  const pusher = new Pusher(params.get('key'), {
    cluster: 'mt1', wsHost: '127.0.0.1', wsPort: Number(params.get('port')),
    forceTLS: false, enabledTransports: ['ws'], disableStats: true,
  });
  pusher.connection.bind('state_change', (s) => window.states.push(s.current));
  window.socketId = () => pusher.connection.socket_id;
  const channel = pusher.subscribe('audit-channel');
  channel.bind('pusher:subscription_succeeded', () => { window.subscribed = true; });
  channel.bind('model-change', (data) => {
    window.received.push(data);
    document.getElementById('log').textContent += JSON.stringify(data) + '\\n';
  });
</script></body></html>`;

let h;
let web;
let browser;
const test = withHeraldLogs(() => h, nodeTest);

before(async () => {
  h = await startHerald();
  web = http.createServer((req, res) => {
    if (req.url.startsWith('/pusher.min.js')) {
      res.writeHead(200, { 'content-type': 'application/javascript' });
      fs.createReadStream(PUSHER_JS).pipe(res);
    } else if (req.url.startsWith('/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (web ? web.close(resolve) : resolve()));
  await h?.stop();
});

test('pusher-js in headless Chromium receives a Node-library trigger on audit-channel', async () => {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  const { port } = web.address();
  await page.goto(`http://127.0.0.1:${port}/index.html?key=${h.app.key}&port=${h.port}`);
  await page.waitForFunction(() => window.subscribed === true, null, { timeout: 10000 });
  const socketId = await page.evaluate(() => window.socketId());
  assert.match(socketId, /^\d+\.\d+$/);

  const res = await serverLib(h).trigger('audit-channel', 'model-change', AUDIT_EVENT);
  assert.equal(res.status, 200);
  await page.waitForFunction(() => window.received.length > 0, null, { timeout: 5000 });
  const received = await page.evaluate(() => window.received);
  assert.deepEqual(received, [AUDIT_EVENT]);
  assert.deepEqual(await page.evaluate(() => window.states), ['connecting', 'connected']);
  assert.deepEqual(pageErrors, []);
  await page.close();
});
