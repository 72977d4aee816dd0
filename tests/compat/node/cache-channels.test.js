'use strict';
// Cache channels keep the last triggered event and replay it right after
// subscription_succeeded; `pusher:cache_miss` when nothing is cached.

const assert = require('node:assert/strict');
const { heraldSuite } = require('../lib/suite');
const { connectClient, serverLib, recordChannel, authorizerFrom } = require('../lib/clients');
const { AUDIT_EVENT } = require('../lib/fixtures');

const suite = heraldSuite();
const { test, clients } = suite;

/** Subscribes and records everything the channel emits, from subscription_succeeded on. */
async function subscribeRecording(name, options = {}) {
  const c = await connectClient(suite.h, options);
  clients.push(c);
  const channel = c.pusher.subscribe(name);
  const log = recordChannel(channel);
  await log.waitFor((e) => e.event === 'pusher:subscription_succeeded', `subscription to ${name}`);
  return { c, log };
}

test('a new subscriber gets the last cached event right after subscribing', async () => {
  const pusher = serverLib(suite.h);
  await pusher.trigger('cache-audit', 'model-change', { ...AUDIT_EVENT, object_id: 1 });
  await pusher.trigger('cache-audit', 'model-change', { ...AUDIT_EVENT, object_id: 2 });
  const { log } = await subscribeRecording('cache-audit');
  const got = await log.waitFor((e) => e.event === 'model-change', 'cached model-change');
  assert.deepEqual(got.data, { ...AUDIT_EVENT, object_id: 2 });
  const idx = log.items.findIndex((e) => e.event === 'model-change');
  assert.equal(log.items[idx - 1].event, 'pusher:subscription_succeeded', 'the cached event must follow subscription_succeeded');
  // A sentinel proves there was no second (older) cached event and no cache_miss.
  await pusher.trigger('cache-audit', 'sentinel', {});
  await log.waitFor((e) => e.event === 'sentinel', 'sentinel');
  assert.equal(log.filter((e) => e.event === 'model-change').length, 1);
  assert.equal(log.filter((e) => e.event === 'pusher:cache_miss').length, 0);
});

test('an empty cache channel sends pusher:cache_miss', async () => {
  const { log } = await subscribeRecording('cache-never-triggered');
  await log.waitFor((e) => e.event === 'pusher:cache_miss', 'pusher:cache_miss');
});

test('GET /channels/{cache} ?info=cache returns the cached data and a ttl', async () => {
  const pusher = serverLib(suite.h);
  await pusher.trigger('cache-info', 'latest', { v: 42 });
  const info = await (await pusher.get({ path: '/channels/cache-info', params: { info: 'cache' } })).json();
  assert.ok(info.cache, `no cache in ${JSON.stringify(info)}`);
  assert.deepEqual(JSON.parse(info.cache.data), { v: 42 });
  assert.ok(typeof info.cache.ttl === 'number' && info.cache.ttl > 0 && info.cache.ttl <= 1800, `ttl ${info.cache.ttl}`);
});

test('private-cache- channels cache too (with private auth)', async () => {
  const pusher = serverLib(suite.h);
  await pusher.trigger('private-cache-orders', 'order', { id: 9 });
  const { log } = await subscribeRecording('private-cache-orders', { channelAuthorization: authorizerFrom(pusher) });
  const got = await log.waitFor((e) => e.event === 'order', 'cached order');
  assert.deepEqual(got.data, { id: 9 });
});

test('a channel that merely contains "cache-" is not a cache channel', async () => {
  const pusher = serverLib(suite.h);
  await pusher.trigger('my-cache-channel', 'ev', { x: 1 });
  const { log } = await subscribeRecording('my-cache-channel');
  await pusher.trigger('my-cache-channel', 'sentinel', {});
  await log.waitFor((e) => e.event === 'sentinel', 'sentinel');
  assert.equal(log.filter((e) => e.event === 'ev' || e.event === 'pusher:cache_miss').length, 0, 'unanchored cache- prefix');
});

