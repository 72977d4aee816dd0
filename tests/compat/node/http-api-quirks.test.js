'use strict';
// What the other official libraries send differently (spec §5 "What each library
// actually sends"), reproduced by signing with the official Node library's own
// createSignedQueryString / token, plus batch `info` and batch-level exclusion.

const assert = require('node:assert/strict');
const { heraldSuite } = require('../lib/suite');
const { connectClient, createClient, serverLib, recordChannel, authorizerFrom } = require('../lib/clients');

const suite = heraldSuite({
    apps: [
      { id: '1', key: 'app-key', secret: 'app-secret', enabled: true },
      { id: '2', key: 'disabled-key', secret: 'disabled-secret', enabled: false },
    ],
  });
const { test, clients } = suite;

async function client(options) {
  const c = await connectClient(suite.h, options);
  clients.push(c);
  return c;
}

test('PHP-style body with a singular "channel" is accepted and delivered', async () => {
  const c = await client();
  const log = recordChannel(await c.subscribe('php-style'));
  const pusher = serverLib(suite.h);
  const path = `/apps/${suite.h.app.id}/events`;
  const body = JSON.stringify({ name: 'from-php', data: '{"ok":true}', channel: 'php-style' });
  const qs = pusher.createSignedQueryString({ method: 'POST', path, body });
  const res = await fetch(`${suite.h.baseUrl}${path}?${qs}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(res.status, 200, await res.text());
  const got = await log.waitFor((e) => e.event === 'from-php', 'from-php');
  assert.deepEqual(got.data, { ok: true });
});

test('percent-encoded query values (as Guzzle/Ruby send them) verify against the decoded string', async () => {
  const c = await client({ channelAuthorization: authorizerFrom(serverLib(suite.h), { user_id: 'q1', user_info: {} }) });
  await c.subscribe('presence-quirk');
  const pusher = serverLib(suite.h);
  const path = `/apps/${suite.h.app.id}/channels/presence-quirk`;
  const params = { auth_key: suite.h.app.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0', info: 'user_count,subscription_count' };
  const toSign = Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join('&');
  const signature = pusher.config.token.sign(`GET\n${path}\n${toSign}`);
  const encoded = Object.keys(params).sort().map((k) => `${k}=${encodeURIComponent(params[k])}`).join('&');
  assert.ok(encoded.includes('%2C'), 'test precondition: the comma is escaped');
  const res = await fetch(`${suite.h.baseUrl}${path}?${encoded}&auth_signature=${signature}`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const info = JSON.parse(text);
  assert.equal(info.occupied, true);
  assert.equal(info.user_count, 1);
});

test('batch info returns index-aligned real counts', async () => {
  const a = await client();
  const b = await client();
  await a.subscribe('batch-info-1');
  await b.subscribe('batch-info-1');
  await a.subscribe('batch-info-2');
  const res = await serverLib(suite.h).triggerBatch([
    { channel: 'batch-info-1', name: 'e', data: {}, info: 'subscription_count' },
    { channel: 'batch-info-2', name: 'e', data: {} },
    { channel: 'batch-info-2', name: 'e', data: {}, info: 'subscription_count' },
  ]);
  assert.deepEqual(await res.json(), { batch: [{ subscription_count: 2 }, {}, { subscription_count: 1 }] });
});

test('socket_id inside a batch event excludes that connection', async () => {
  const a = await client();
  const b = await client();
  const logA = recordChannel(await a.subscribe('batch-exclusion'));
  const logB = recordChannel(await b.subscribe('batch-exclusion'));
  await serverLib(suite.h).triggerBatch([{ channel: 'batch-exclusion', name: 'not-for-a', data: {}, socket_id: a.socketId }]);
  await logB.waitFor((e) => e.event === 'not-for-a', 'the event at B');
  await serverLib(suite.h).trigger('batch-exclusion', 'sentinel', {});
  await logA.waitFor((e) => e.event === 'sentinel', 'sentinel at A');
  assert.equal(logA.filter((e) => e.event === 'not-for-a').length, 0);
});

test('a batch of more than 10 events → 400 and nothing is delivered', async () => {
  const c = await client();
  const log = recordChannel(await c.subscribe('batch-limit'));
  const batch = Array.from({ length: 11 }, (_, i) => ({ channel: 'batch-limit', name: `e${i}`, data: {} }));
  const err = await serverLib(suite.h).triggerBatch(batch).catch((e) => e);
  assert.equal(err.status, 400, `expected 400, got ${err.status}: ${err.body}`);
  await serverLib(suite.h).trigger('batch-limit', 'sentinel', {});
  await log.waitFor((e) => e.event === 'sentinel', 'sentinel');
  assert.equal(log.filter((e) => /^e\d+$/.test(e.event)).length, 0, 'part of a rejected batch was delivered');
});

test('a disabled app: pusher-js is refused with 4003, the HTTP API answers 403', async () => {
  const c = createClient(suite.h, { key: 'disabled-key' });
  clients.push(c);
  await c.errors.waitFor((e) => e?.error?.data?.code === 4003, 'a 4003 close');
  await c.states.waitFor((s) => s.current === 'disconnected' || s.current === 'failed', 'disconnected');
  const err = await serverLib(suite.h, { appId: '2', key: 'disabled-key', secret: 'disabled-secret' }).trigger('x', 'e', {}).catch((e) => e);
  assert.equal(err.status, 403, `expected 403, got ${err.status}: ${err.body}`);
});
