'use strict';
// Client events sent with pusher-js's channel.trigger: relayed to the other
// subscribers (never echoed), with user_id on presence, refused when the app disables them,
// and rate-limited with a 4301 pusher:error that does not disconnect.

const { test: nodeTest, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHerald, withHeraldLogs } = require('../lib/herald');
const { connectClient, serverLib, recordChannel, closeAll, authorizerFrom, waitUntil } = require('../lib/clients');

let h; // client events enabled
let hOff; // default configuration: client events off, like Pusher
const test = withHeraldLogs(() => h, nodeTest);
const clients = [];
before(async () => {
  [h, hOff] = await Promise.all([startHerald({ env: { HERALD_APP_CLIENT_EVENTS: 'true' } }), startHerald()]);
});
after(async () => {
  await closeAll(clients);
  await Promise.all([h?.stop(), hOff?.stop()]);
});

async function authed(server, presence) {
  const c = await connectClient(server, { channelAuthorization: authorizerFrom(serverLib(server), presence) });
  clients.push(c);
  return c;
}

/** Both clients subscribe to `name`; returns their channel objects and logs. */
async function pair(server, name, presenceA, presenceB) {
  const a = await authed(server, presenceA);
  const b = await authed(server, presenceB);
  const chA = await a.subscribe(name);
  const chB = await b.subscribe(name);
  return { a, b, chA, chB, logA: recordChannel(chA), logB: recordChannel(chB) };
}

/** Triggers a sentinel via HTTP and waits until `log` has it: everything sent earlier has landed. */
async function barrier(server, channel, log, tag) {
  await serverLib(server).trigger(channel, `sentinel-${tag}`, {});
  await log.waitFor((e) => e.event === `sentinel-${tag}`, `sentinel-${tag}`);
}

test('private channel: relayed to the other subscriber, not echoed to the sender', async () => {
  const { a, chA, logA, logB } = await pair(h, 'private-chat');
  assert.equal(chA.trigger('client-typing', { x: 1, who: 'a' }), true);
  const got = await logB.waitFor((e) => e.event === 'client-typing', 'client-typing at B');
  assert.deepEqual(got.data, { x: 1, who: 'a' });
  await barrier(h, 'private-chat', logA, 'echo');
  assert.equal(logA.filter((e) => e.event === 'client-typing').length, 0, 'client event echoed to its sender');
  assert.equal(a.errors.filter((e) => e.type === 'PusherError').length, 0);
});

test('presence channel: relayed with the sender\'s user_id', async () => {
  const { chA, chB } = await pair(h, 'presence-chat', { user_id: 'sender-1', user_info: {} }, { user_id: 'receiver-2', user_info: {} });
  const received = new Promise((resolve) => chB.bind('client-hello', (data, metadata) => resolve({ data, metadata })));
  chA.trigger('client-hello', { hi: true });
  const got = await Promise.race([received, new Promise((_, reject) => setTimeout(() => reject(new Error('no client-hello at B')), 5000))]);
  assert.deepEqual(got.data, { hi: true });
  assert.equal(got.metadata && got.metadata.user_id, 'sender-1', 'presence client event without the sender\'s user_id');
});

test('public channel: client events are refused and not relayed', async () => {
  const a = await connectClient(h);
  const b = await connectClient(h);
  clients.push(a, b);
  const chA = await a.subscribe('public-chat');
  const logB = recordChannel(await b.subscribe('public-chat'));
  chA.trigger('client-nope', { x: 1 });
  await a.errors.waitFor((e) => e.type === 'PusherError', 'pusher:error for a client event on a public channel');
  await barrier(h, 'public-chat', logB, 'public');
  assert.equal(logB.filter((e) => e.event === 'client-nope').length, 0);
  assert.equal(a.state, 'connected');
});

test('client event on a channel the sender is not subscribed to is not relayed', async () => {
  const { logB } = await pair(h, 'private-members-only');
  const outsider = await authed(h);
  outsider.pusher.send_event('client-intrude', { x: 1 }, 'private-members-only');
  await outsider.errors.waitFor((e) => e.type === 'PusherError', 'pusher:error for an unsubscribed sender');
  await barrier(h, 'private-members-only', logB, 'outsider');
  assert.equal(logB.filter((e) => e.event === 'client-intrude').length, 0);
});

test('app with client events disabled (the default): pusher:error, nothing relayed', async () => {
  const { a, chA, logB } = await pair(hOff, 'private-disabled');
  chA.trigger('client-blocked', { x: 1 });
  const err = await a.errors.waitFor((e) => e.type === 'PusherError', 'pusher:error for disabled client events');
  assert.match(String(err.data.message), /client event/i);
  await barrier(hOff, 'private-disabled', logB, 'disabled');
  assert.equal(logB.filter((e) => e.event === 'client-blocked').length, 0);
  assert.equal(a.state, 'connected');
});

test('more than 10 per second: pusher:error 4301, the socket stays connected', async () => {
  const { a, chA, logB } = await pair(h, 'private-flood');
  const socketId = a.socketId;
  for (let i = 0; i < 30; i++) chA.trigger('client-flood', { i });
  const err = await a.errors.waitFor((e) => e.type === 'PusherError' && e.data && e.data.code === 4301, 'a 4301 pusher:error');
  assert.ok(err.data.message, '4301 without a message');
  await barrier(h, 'private-flood', logB, 'flood');
  const relayed = logB.filter((e) => e.event === 'client-flood').length;
  assert.ok(relayed >= 1 && relayed < 30, `relayed ${relayed} of 30 (expected the excess to be dropped)`);
  assert.equal(a.state, 'connected');
  assert.equal(a.socketId, socketId, 'the sender was disconnected and reconnected');
  assert.equal(a.states.filter((s) => s.previous === 'connected').length, 0, `the connection dropped: ${JSON.stringify(a.states.items)}`);
  // Once the window has passed the sender may publish again.
  await waitUntil(async () => {
    chA.trigger('client-after-flood', { ok: true });
    return logB.filter((e) => e.event === 'client-after-flood').length > 0;
  }, 'a client event accepted after the rate-limit window', 5000, 500);
});

test('client event data over 10 KB is refused and not relayed', async () => {
  const { a, chA, logB } = await pair(h, 'private-big-client-event');
  chA.trigger('client-big', { blob: 'x'.repeat(11000) });
  await a.errors.waitFor((e) => e.type === 'PusherError', 'pusher:error for an oversized client event');
  chA.trigger('client-small', { ok: true });
  await logB.waitFor((e) => e.event === 'client-small', 'the small event after the big one');
  assert.equal(logB.filter((e) => e.event === 'client-big').length, 0, 'an oversized client event was relayed');
  assert.equal(a.state, 'connected');
});
