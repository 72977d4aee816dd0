'use strict';
// The per-app opt-in `subscription_count` feature, seen through pusher-js's
// `pusher:subscription_count` channel event and `channel.subscriptionCount`.

const assert = require('node:assert/strict');
const { heraldSuite } = require('../lib/suite');
const { connectClient, serverLib, recordChannel } = require('../lib/clients');

const COUNTED = { id: '11', key: 'counted-key', secret: 'counted-secret', enabled: true, subscription_count: true };
const PLAIN = { id: '12', key: 'plain-key', secret: 'plain-secret', enabled: true, subscription_count: false };

const suite = heraldSuite({ apps: [COUNTED, PLAIN] });
const { test, clients } = suite;

async function join(app, name) {
  const c = await connectClient(suite.h, { key: app.key });
  clients.push(c);
  const channel = c.pusher.subscribe(name);
  const log = recordChannel(channel);
  await log.waitFor((e) => e.event === 'pusher:subscription_succeeded', `subscription to ${name}`);
  return { c, channel, log };
}

const countIs = (n) => (e) => e.event === 'pusher:subscription_count' && e.data.subscription_count === n;

test('opted-in app: every subscribe/unsubscribe updates the count for all subscribers', async () => {
  const a = await join(COUNTED, 'counted-room');
  await a.log.waitFor(countIs(1), 'count 1 at A');
  const b = await join(COUNTED, 'counted-room');
  await a.log.waitFor(countIs(2), 'count 2 at A');
  await b.log.waitFor(countIs(2), 'count 2 at B');
  assert.equal(a.channel.subscriptionCount, 2);
  b.c.pusher.unsubscribe('counted-room');
  const back = await a.log.waitFor((e) => countIs(1)(e) && a.log.items.indexOf(e) > a.log.items.findIndex(countIs(2)), 'count back to 1 at A');
  assert.ok(back);
  assert.equal(a.channel.subscriptionCount, 1);
});

test('app without the opt-in: no pusher:subscription_count events', async () => {
  const a = await join(PLAIN, 'plain-room');
  await join(PLAIN, 'plain-room');
  const pusher = serverLib(suite.h, { appId: PLAIN.id, key: PLAIN.key, secret: PLAIN.secret });
  await pusher.trigger('plain-room', 'sentinel', {});
  await a.log.waitFor((e) => e.event === 'sentinel', 'sentinel');
  assert.equal(a.log.filter((e) => e.event === 'pusher:subscription_count').length, 0);
});
