// The built package in real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): pusher-js through connect() + subscribeAudit() receives events
// triggered with the official Python library; AuditClient iterates pages and follows the
// live stream across a herald restart, ending with every event exactly once.
//
// The page is served by a small server that also forwards /herald/* to herald, as a
// reverse proxy in front of both would (the audit API sends no CORS headers). pusher-js is
// loaded as its own browser build, and an import map gives the package's `import 'pusher-js'`
// that global.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { herald, TOKEN } from './helpers.mjs';

const require = createRequire(import.meta.url);
const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PUSHER_JS = require.resolve('pusher-js/dist/web/pusher.min.js');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const PYTHON = process.env.PYTHON || 'python3';

const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<script src="/pusher.min.js"></script>
<script type="importmap">{"imports": {"pusher-js": "/pusher-shim.js"}}</script>
<script type="module">
  import * as herald from '/dist/index.js';
  window.herald = herald;
  window.ready = true;
</script></head><body></body></html>`;

/** Triggers audit events with the official Python library (pip `pusher`), like a Django backend. */
async function pythonTrigger(port, first, count) {
  const script = `
import sys, pusher
client = pusher.Pusher(app_id="1", key="app-key", secret="app-secret", host="127.0.0.1", port=int(sys.argv[1]), ssl=False)
for i in range(int(sys.argv[2]), int(sys.argv[2]) + int(sys.argv[3])):
    client.trigger("audit-channel", "model-change",
                   {"action": "updated", "model": "service", "object_id": i, "user": "test@example.com",
                    "changes": {"price": ["1.00", str(i)]}})
`;
  await promisify(execFile)(PYTHON, ['-c', script, String(port), String(first), String(count)]);
}

let h;
let dir;
let web;
let browser;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-browser-'));
  h = await herald({}, { dir });
  web = http.createServer((req, res) => {
    if (req.url.startsWith('/herald/')) {
      const upstream = http.request(
        {
          host: '127.0.0.1',
          port: h.port,
          path: req.url.slice('/herald'.length),
          method: req.method,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
      return;
    }
    const send = (type, body) => res.writeHead(200, { 'content-type': type }).end(body);
    if (req.url === '/') return send('text/html; charset=utf-8', PAGE);
    if (req.url === '/pusher.min.js') return send('application/javascript', fs.readFileSync(PUSHER_JS));
    if (req.url === '/pusher-shim.js') return send('application/javascript', 'export default window.Pusher;');
    const file = path.join(PACKAGE, path.normalize(req.url));
    if (req.url.startsWith('/dist/') && file.startsWith(path.join(PACKAGE, 'dist')) && fs.existsSync(file)) {
      return send('application/javascript', fs.readFileSync(file));
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (web ? web.close(resolve) : resolve()));
  await h?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('in Chromium: live Python-triggered events, pages, and a stream that survives a herald restart', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(`http://127.0.0.1:${web.address().port}/`);
  await page.waitForFunction(() => window.ready === true);

  // pusher-js via connect(), typed events via subscribeAudit().
  await page.evaluate(
    ({ port, token }) => {
      const { AuditClient, connect, subscribeAudit } = window.herald;
      window.live = [];
      window.subscribed = false;
      const pusher = connect({ key: 'app-key', host: '127.0.0.1', port });
      pusher.connection.bind('connected', () => {
        subscribeAudit(pusher, {}, (event, source) => window.live.push({ event, source }));
        pusher.channel('audit-channel').bind('pusher:subscription_succeeded', () => {
          window.subscribed = true;
        });
      });
      window.audit = new AuditClient({ baseUrl: `${location.origin}/herald`, appId: '1', token });
      window.streamed = [];
      window.streamError = null;
      window.stream = window.audit.stream({ after: 0, maxBackoffMs: 250 });
      (async () => {
        try {
          for await (const e of window.stream) window.streamed.push(e.seq);
        } catch (err) {
          window.streamError = String(err);
        }
      })();
    },
    { port: h.port, token: TOKEN },
  );
  await page.waitForFunction(() => window.subscribed === true, null, { timeout: 10_000 });

  await pythonTrigger(h.port, 1, 5);
  await page.waitForFunction(() => window.live.length === 5 && window.streamed.length === 5, null, { timeout: 10_000 });
  const live = await page.evaluate(() => window.live);
  assert.deepEqual(
    live.map((l) => l.event.object_id),
    ['1', '2', '3', '4', '5'],
  );
  assert.deepEqual(live[4].event.changes, { price: { old: '1.00', new: '5' } });
  assert.deepEqual(live[0].source, { channel: 'audit-channel', event: 'model-change' });

  // Pages, through the async iterator.
  const pages = await page.evaluate(async () => {
    const out = [];
    for await (const p of window.audit.pages({ limit: 2, ordering: 'seq', user: 'test@example.com' })) {
      out.push(p.results.map((e) => e.seq));
    }
    return out;
  });
  assert.deepEqual(pages, [[1, 2], [3, 4], [5]]);

  // Restart herald (same port, same audit database) while the stream is open.
  await h.stop();
  await pythonTrigger(h.port, 6, 1).then(
    () => assert.fail('herald was stopped, the trigger should have failed'),
    () => {},
  );
  h = await herald({}, { dir, port: h.port });
  await pythonTrigger(h.port, 6, 5);
  await page.waitForFunction(() => window.streamed.length >= 10, null, { timeout: 20_000 });
  await new Promise((r) => setTimeout(r, 300)); // would reveal a duplicate arriving late
  const streamed = await page.evaluate(() => window.streamed);
  assert.deepEqual(streamed, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok((await page.evaluate(() => window.stream.reconnects)) >= 1);
  assert.equal(await page.evaluate(() => window.streamError), null);
  assert.deepEqual(errors, []);
  await page.close();
});
