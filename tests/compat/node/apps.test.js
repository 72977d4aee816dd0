'use strict';
// Apps configured from herald.toml (non-numeric ids, isolation between apps) and
// pusher-js's reaction to an unknown key (4001: refused, no reconnect loop).

const assert = require('node:assert/strict');
const { heraldSuite } = require('../lib/suite');
const { connectClient, createClient, serverLib, recordChannel, waitUntil } = require('../lib/clients');
const { AUDIT_EVENT } = require('../lib/fixtures');

const APP_A = { id: 'app-id', key: 'other-key', secret: 'other-secret', enabled: true, client_events: true };
const APP_B = { id: '42', key: 'second-key', secret: 'second-secret', enabled: true };

const suite = heraldSuite({ apps: [APP_A, APP_B] });
const { test, clients } = suite;

function libFor(app) {
  return serverLib(suite.h, { appId: app.id, key: app.key, secret: app.secret });
}

test('a non-numeric app id from TOML works with the Node library and pusher-js', async () => {
  const c = await connectClient(suite.h, { key: APP_A.key });
  clients.push(c);
  const log = recordChannel(await c.subscribe('audit-channel'));
  const pusher = libFor(APP_A);
  const res = await pusher.trigger('audit-channel', 'model-change', AUDIT_EVENT, { info: 'subscription_count' });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { channels: { 'audit-channel': { subscription_count: 1 } } });
  const got = await log.waitFor((e) => e.event === 'model-change', 'model-change');
  assert.deepEqual(got.data, AUDIT_EVENT);
  const channels = await (await pusher.get({ path: '/channels' })).json();
  assert.ok(channels.channels['audit-channel'], JSON.stringify(channels));
});

test('apps are isolated: same channel name, different app, no cross-delivery', async () => {
  const a = await connectClient(suite.h, { key: APP_A.key });
  const b = await connectClient(suite.h, { key: APP_B.key });
  clients.push(a, b);
  const logA = recordChannel(await a.subscribe('shared-name'));
  const logB = recordChannel(await b.subscribe('shared-name'));
  await libFor(APP_B).trigger('shared-name', 'for-b', { app: 'B' });
  await logB.waitFor((e) => e.event === 'for-b', 'for-b at app B');
  await libFor(APP_A).trigger('shared-name', 'for-a', { app: 'A' });
  await logA.waitFor((e) => e.event === 'for-a', 'for-a at app A');
  assert.equal(logA.filter((e) => e.event === 'for-b').length, 0, 'app A received app B\'s event');
  assert.equal(logB.filter((e) => e.event === 'for-a').length, 0, 'app B received app A\'s event');
  // A key/secret pair of one app cannot publish into another app's id.
  const crossed = await serverLib(suite.h, { appId: APP_B.id, key: APP_A.key, secret: APP_A.secret }).trigger('shared-name', 'x', {}).catch((e) => e);
  assert.ok(crossed.status === 401 || crossed.status === 403 || crossed.status === 404, `cross-app trigger answered ${crossed.status}`);
});

test('an unknown key makes pusher-js stop with 4001 and not reconnect', async () => {
  const c = createClient(suite.h, { key: 'no-such-key' });
  clients.push(c);
  const err = await c.errors.waitFor((e) => e?.error?.data?.code === 4001, 'a 4001 error');
  assert.equal(err.error.type, 'PusherError');
  await c.states.waitFor((s) => s.current === 'disconnected' || s.current === 'failed', 'disconnected/failed');
  const connectingSoFar = c.states.filter((s) => s.current === 'connecting').length;
  // pusher-js would retry after 1 s (backoff) or at once (retry) if the close code said so;
  // give it well over that and make sure it never tried again.
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(c.states.filter((s) => s.current === 'connecting').length, connectingSoFar, `reconnect loop: ${JSON.stringify(c.states.items)}`);
  assert.ok(['disconnected', 'failed'].includes(c.state), `state is ${c.state}`);
  assert.equal(c.states.filter((s) => s.current === 'connected').length, 0);
});
