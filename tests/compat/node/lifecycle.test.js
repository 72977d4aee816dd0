'use strict';
// Connection lifecycle as pusher-js experiences it: health endpoints, the handshake's
// activity_timeout driving pusher-js's ping/pong keepalive, invalid channel names refused
// without dropping the socket, and a graceful shutdown that sends 4200 (pusher-js: retry).

const assert = require('node:assert/strict');
const { startHerald } = require('../lib/herald');
const { heraldSuite } = require('../lib/suite');
const { connectClient, serverLib, recordChannel, waitUntil } = require('../lib/clients');

const suite = heraldSuite({ env: { HERALD_ACTIVITY_TIMEOUT: '1' } });
const { test, clients } = suite;

test('GET / and GET /ready answer 200', async () => {
  for (const path of ['/', '/ready']) {
    const res = await fetch(`${suite.h.baseUrl}${path}`);
    assert.equal(res.status, 200, path);
  }
});

test('an idle pusher-js stays connected through ping/pong with a 1 s activity_timeout', async () => {
  // pongTimeout 1 s: pusher-js drops the connection if a ping of its own goes unanswered.
  const c = await connectClient(suite.h, { pongTimeout: 1000 });
  clients.push(c);
  assert.equal(c.pusher.connection.activityTimeout, 1000, 'pusher-js did not adopt the handshake\'s activity_timeout');
  const log = recordChannel(await c.subscribe('keepalive'));
  // Idle for several activity periods: pusher-js pings after 1 s of silence each time.
  await new Promise((r) => setTimeout(r, 3500));
  assert.ok(c.messages.filter((m) => m.event === 'pusher:pong' || m.event === 'pusher:ping').length >= 2, `no keepalive traffic: ${JSON.stringify(c.messages.items.map((m) => m.event))}`);
  assert.equal(c.states.filter((s) => s.previous === 'connected').length, 0, `the idle connection dropped: ${JSON.stringify(c.states.items)}`);
  await serverLib(suite.h).trigger('keepalive', 'after-idle', { ok: 1 });
  await log.waitFor((e) => e.event === 'after-idle', 'an event after idling');
});

test('invalid channel names are refused and the socket stays usable', async () => {
  const c = await connectClient(suite.h);
  clients.push(c);
  for (const name of ['has space', 'bad!char', 'x'.repeat(201)]) {
    const log = recordChannel(c.pusher.subscribe(name));
    await waitUntil(
      () => log.filter((e) => e.event.startsWith('pusher:subscription_')).length > 0 || c.errors.filter((e) => e.type === 'PusherError').length > 0,
      `a refusal for ${JSON.stringify(name.slice(0, 20))}`,
    );
    assert.equal(log.filter((e) => e.event === 'pusher:subscription_succeeded').length, 0, `${name.slice(0, 20)} was accepted`);
    c.pusher.unsubscribe(name);
  }
  const ok = recordChannel(await c.subscribe('valid-=@,.;_-name'));
  await serverLib(suite.h).trigger('valid-=@,.;_-name', 'fine', {});
  await ok.waitFor((e) => e.event === 'fine', 'event on a name using every allowed punctuation');
  assert.equal(c.states.filter((s) => s.previous === 'connected').length, 0);
});

test('SIGTERM: clients get 4200 (pusher-js retries) and herald exits cleanly', async () => {
  const own = await startHerald();
  const c = await connectClient(own);
  clients.push(c);
  await c.subscribe('shutdown-test');
  const exit = await own.stop();
  assert.equal(exit.code, 0, `herald exit ${JSON.stringify(exit)}\n${own.logs()}`);
  await c.errors.waitFor((e) => e?.error?.data?.code === 4200, 'a 4200 close');
  await c.states.waitFor((s) => s.previous === 'connected', 'pusher-js to leave connected');
  c.disconnect();
});
