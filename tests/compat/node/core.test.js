'use strict';
// Public channels end to end with pusher-js and the official Node `pusher` library.

const assert = require('node:assert/strict');
const { heraldSuite } = require('../lib/suite');
const { connectClient, serverLib, recordChannel, waitUntil } = require('../lib/clients');
const { AUDIT_EVENT, AUDIT_ROUTES } = require('../lib/fixtures');

const suite = heraldSuite();
const { test, clients } = suite;

async function client() {
  const c = await connectClient(suite.h);
  clients.push(c);
  return c;
}

/** Subscribes `c` to every audit channel and returns {channelName: EventLog}. */
async function subscribeAuditChannels(c) {
  const logs = {};
  for (const [name] of AUDIT_ROUTES) {
    logs[name] = recordChannel(await c.subscribe(name));
  }
  return logs;
}

test('pusher-js connects and gets a Pusher-shaped socket_id', async () => {
  const c = await client();
  assert.equal(c.state, 'connected');
  assert.match(c.socketId, /^\d+\.\d+$/);
  const other = await client();
  assert.notEqual(other.socketId, c.socketId, 'socket ids must be unique per connection');
});

test('Node library trigger reaches pusher-js on each audit channel with the payload intact', async () => {
  const c = await client();
  const logs = await subscribeAuditChannels(c);
  const pusher = serverLib(suite.h);
  for (const [channel, event] of AUDIT_ROUTES) {
    const res = await pusher.trigger(channel, event, AUDIT_EVENT);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    const got = await logs[channel].waitFor((e) => e.event === event, `${event} on ${channel}`);
    assert.deepEqual(got.data, AUDIT_EVENT);
  }
});

test('one trigger to several channels (`channels`) reaches all of them', async () => {
  const c = await client();
  const logs = await subscribeAuditChannels(c);
  const names = AUDIT_ROUTES.map(([name]) => name);
  const payload = { ...AUDIT_EVENT, object_id: 54 };
  const res = await serverLib(suite.h).trigger(names, 'model-change', payload);
  assert.equal(res.status, 200);
  for (const name of names) {
    const got = await logs[name].waitFor((e) => e.event === 'model-change' && e.data.object_id === 54, `model-change on ${name}`);
    assert.deepEqual(got.data, payload);
  }
});

test('triggerBatch delivers every event of the batch to its own channel', async () => {
  const c = await client();
  const logs = await subscribeAuditChannels(c);
  const batch = AUDIT_ROUTES.map(([channel, name], i) => ({ channel, name, data: { ...AUDIT_EVENT, object_id: 100 + i } }));
  const res = await serverLib(suite.h).triggerBatch(batch);
  assert.equal(res.status, 200);
  assert.equal(typeof (await res.json()), 'object');
  for (const [i, [channel, name]] of AUDIT_ROUTES.entries()) {
    const got = await logs[channel].waitFor((e) => e.event === name && e.data.object_id === 100 + i, `${name} on ${channel}`);
    assert.deepEqual(got.data, { ...AUDIT_EVENT, object_id: 100 + i });
  }
});

test('socket_id excludes exactly that connection', async () => {
  const a = await client();
  const b = await client();
  const logA = recordChannel(await a.subscribe('exclusion-test'));
  const logB = recordChannel(await b.subscribe('exclusion-test'));
  const pusher = serverLib(suite.h);
  await pusher.trigger('exclusion-test', 'excluded', { n: 1 }, { socket_id: a.socketId });
  await logB.waitFor((e) => e.event === 'excluded', 'excluded event at B');
  // A sentinel sent after the excluded event; once A has it, the excluded one would have arrived.
  await pusher.trigger('exclusion-test', 'sentinel', { n: 2 });
  await logA.waitFor((e) => e.event === 'sentinel', 'sentinel at A');
  assert.equal(logA.filter((e) => e.event === 'excluded').length, 0, 'the excluded socket received the event');
});

test('trigger with info=subscription_count answers the real count', async () => {
  const a = await client();
  const b = await client();
  await a.subscribe('counted-channel');
  await b.subscribe('counted-channel');
  const res = await serverLib(suite.h).trigger('counted-channel', 'ping', { x: 1 }, { info: 'subscription_count' });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { channels: { 'counted-channel': { subscription_count: 2 } } });
});

test('GET /channels and /channels/{name} report occupied channels, and go back to zero after disconnect', async () => {
  const a = await client();
  const b = await client();
  await a.subscribe('occupancy-one');
  await b.subscribe('occupancy-one');
  await b.subscribe('occupancy-two');
  const pusher = serverLib(suite.h);

  const list = await (await pusher.get({ path: '/channels' })).json();
  assert.ok(list.channels['occupancy-one'], `occupancy-one missing from ${JSON.stringify(list)}`);
  assert.ok(list.channels['occupancy-two'], `occupancy-two missing from ${JSON.stringify(list)}`);

  const prefixed = await (await pusher.get({ path: '/channels', params: { filter_by_prefix: 'occupancy-', info: 'subscription_count' } })).json();
  assert.deepEqual(prefixed, {
    channels: { 'occupancy-one': { subscription_count: 2 }, 'occupancy-two': { subscription_count: 1 } },
  });

  const one = await (await pusher.get({ path: '/channels/occupancy-one', params: { info: 'subscription_count' } })).json();
  assert.deepEqual(one, { occupied: true, subscription_count: 2 });

  const never = await (await pusher.get({ path: '/channels/never-subscribed' })).json();
  assert.equal(never.occupied, false);

  a.disconnect();
  b.disconnect();
  await waitUntil(async () => {
    const info = await (await pusher.get({ path: '/channels/occupancy-one', params: { info: 'subscription_count' } })).json();
    return info.occupied === false && !info.subscription_count;
  }, 'occupancy-one to be vacated');
  await waitUntil(async () => {
    const all = await (await pusher.get({ path: '/channels', params: { filter_by_prefix: 'occupancy-' } })).json();
    return Object.keys(all.channels).length === 0;
  }, '/channels to list no occupancy-* channel');
});

test('pusher-js unsubscribe stops delivery and frees the channel', async () => {
  const c = await client();
  await c.subscribe('unsub-test');
  const pusher = serverLib(suite.h);
  c.pusher.unsubscribe('unsub-test');
  await waitUntil(async () => !(await (await pusher.get({ path: '/channels/unsub-test' })).json()).occupied, 'unsub-test vacated');
  assert.equal(c.state, 'connected');
});
