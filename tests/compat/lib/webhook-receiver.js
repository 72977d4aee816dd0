'use strict';
// A webhook receiver for the tests: a real HTTP server that checks every POST exactly as a
// backend would, with the official `pusher` library's `webhook()` (content type, JSON body,
// X-Pusher-Key, X-Pusher-Signature). Valid batches are recorded; invalid ones are counted
// and answered 401, so a test asserting `invalid === 0` fails on any wire difference.
//
// Failure modes a test can switch on: answer the next N POSTs with 500 (`failNext`), or
// stop listening and start again later on the same port (`down` / `up`).

const http = require('node:http');
const PusherServer = require('pusher');
const { EventLog, waitUntil } = require('./clients');

/**
 * @param {{id: string, key: string, secret: string}} app  the app whose secret signs the hooks
 * @param {{port?: number}} [opts]
 */
async function startReceiver(app, opts = {}) {
  const lib = new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
  const receiver = {
    /** Every delivered event, with the batch's time_ms as `time_ms`. */
    events: new EventLog(),
    /** Every valid POST body (JSON), in arrival order, and failed ones. */
    batches: [],
    posts: 0,
    invalid: 0,
    failuresLeft: 0,
    headers: [],
    port: opts.port || 0,
    server: null,
    get url() {
      return `http://127.0.0.1:${receiver.port}/hooks`;
    },
    failNext(n) {
      receiver.failuresLeft = n;
    },
    named(name, channel) {
      return receiver.events.filter((e) => e.name === name && (channel === undefined || e.channel === channel));
    },
    async down() {
      await new Promise((resolve) => {
        receiver.server.close(() => resolve());
        receiver.server.closeAllConnections();
      });
    },
    async up() {
      await listen();
    },
    stop() {
      return receiver.down();
    },
    /** Waits until no POST arrived for `quietMs` (settles after a burst). */
    async quiet(quietMs = 500, timeoutMs = 15000) {
      let seen = receiver.posts;
      let since = Date.now();
      await waitUntil(() => {
        if (receiver.posts !== seen) {
          seen = receiver.posts;
          since = Date.now();
        }
        return Date.now() - since >= quietMs;
      }, 'a quiet receiver', timeoutMs, 50);
    },
  };

  function handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      receiver.posts += 1;
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const webhook = lib.webhook({ headers: req.headers, rawBody });
      if (!webhook.isValid()) {
        receiver.invalid += 1;
        res.writeHead(401).end('invalid webhook');
        return;
      }
      receiver.headers.push(req.headers);
      if (receiver.failuresLeft > 0) {
        receiver.failuresLeft -= 1;
        receiver.batches.push({ failed: true, body: webhook.getData() });
        res.writeHead(500).end('try again');
        return;
      }
      const body = webhook.getData();
      receiver.batches.push({ failed: false, body });
      for (const e of webhook.getEvents()) receiver.events.push({ ...e, time_ms: webhook.getTime().getTime() });
      res.writeHead(200).end('ok');
    });
  }

  function listen() {
    return new Promise((resolve, reject) => {
      receiver.server = http.createServer(handle);
      receiver.server.on('error', reject);
      receiver.server.listen(receiver.port, '127.0.0.1', () => {
        receiver.port = receiver.server.address().port;
        resolve();
      });
    });
  }

  await listen();
  return receiver;
}

module.exports = { startReceiver };
