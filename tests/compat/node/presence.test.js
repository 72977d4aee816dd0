'use strict';
// Presence channels through pusher-js's Members API, with auth signed by the
// official Node library, and the HTTP API's presence views.

const assert = require('node:assert/strict');
const { startHerald } = require('../lib/herald');
const { heraldSuite } = require('../lib/suite');
const { connectClient, serverLib, recordChannel, waitUntil, authorizerFrom } = require('../lib/clients');

const suite = heraldSuite();
const { test, clients } = suite;

/** A pusher-js client that joins presence channels as `userId` with `info`. */
async function member(userId, info = { name: `User ${userId}` }) {
  const c = await connectClient(suite.h, { channelAuthorization: authorizerFrom(serverLib(suite.h), { user_id: userId, user_info: info }) });
  clients.push(c);
  return c;
}

/** Waits for the server's refusal: pusher:subscription_error on the channel or a pusher:error. */
async function waitForRejection(c, log) {
  await waitUntil(
    () => log.filter((e) => e.event === 'pusher:subscription_error' || e.event === 'pusher:subscription_succeeded').length > 0 ||
      c.errors.filter((e) => e.type === 'PusherError').length > 0,
    'a subscription outcome',
  );
}

function memberIds(channel) {
  const ids = [];
  channel.members.each((m) => ids.push(m.id));
  return ids.sort();
}

test('subscription_succeeded carries all members, the subscriber included, with user_info', async () => {
  const a = await member('alice', { name: 'Alice', role: 'admin' });
  const chA = await a.subscribe('presence-room-1');
  assert.equal(chA.members.count, 1);
  assert.equal(chA.members.me.id, 'alice');
  assert.deepEqual(chA.members.me.info, { name: 'Alice', role: 'admin' });

  const b = await member('bob', { name: 'Bob' });
  const chB = await b.subscribe('presence-room-1');
  assert.equal(chB.members.count, 2);
  assert.deepEqual(memberIds(chB), ['alice', 'bob']);
  assert.deepEqual(chB.members.get('alice').info, { name: 'Alice', role: 'admin' });
});

test('member_added / member_removed fire once per user, however many sockets that user has', async () => {
  const a = await member('watcher');
  const chA = await a.subscribe('presence-room-2');
  const logA = recordChannel(chA);
  const pusher = serverLib(suite.h);

  const b1 = await member('multi');
  await b1.subscribe('presence-room-2');
  const added = await logA.waitFor((e) => e.event === 'pusher:member_added', 'member_added for multi');
  assert.equal(added.data.id, 'multi');
  assert.deepEqual(added.data.info, { name: 'User multi' });

  const b2 = await member('multi');
  const chB2 = await b2.subscribe('presence-room-2');
  assert.equal(chB2.members.count, 2, 'a second socket of the same user counted twice');
  // Sentinel: once A has an event triggered after b2 joined, any extra member_added is in.
  await pusher.trigger('presence-room-2', 'sentinel-1', {});
  await logA.waitFor((e) => e.event === 'sentinel-1', 'sentinel-1');
  assert.equal(logA.filter((e) => e.event === 'pusher:member_added').length, 1, 'member_added sent for a user already present');
  assert.equal(chA.members.count, 2);

  // b2 also sits on a public channel: when that channel is vacated, herald has processed b2's disconnect.
  await b2.subscribe('presence-room-2-probe');
  b2.disconnect();
  await waitUntil(async () => !(await (await pusher.get({ path: '/channels/presence-room-2-probe' })).json()).occupied, 'b2 gone');
  await pusher.trigger('presence-room-2', 'sentinel-2', {});
  await logA.waitFor((e) => e.event === 'sentinel-2', 'sentinel-2');
  assert.equal(logA.filter((e) => e.event === 'pusher:member_removed').length, 0, 'member_removed while the user still had a socket');
  assert.equal(chA.members.count, 2);

  b1.disconnect();
  const removed = await logA.waitFor((e) => e.event === 'pusher:member_removed', 'member_removed for multi');
  assert.equal(removed.data.id, 'multi');
  assert.equal(chA.members.count, 1);
});

test('unsubscribe (not only disconnect) removes the member', async () => {
  const a = await member('stayer');
  const logA = recordChannel(await a.subscribe('presence-room-3'));
  const b = await member('leaver');
  await b.subscribe('presence-room-3');
  await logA.waitFor((e) => e.event === 'pusher:member_added', 'member_added');
  b.pusher.unsubscribe('presence-room-3');
  const removed = await logA.waitFor((e) => e.event === 'pusher:member_removed', 'member_removed after unsubscribe');
  assert.equal(removed.data.id, 'leaver');
  assert.equal(b.state, 'connected');
});

test('numeric user_id is reported as a string', async () => {
  const a = await connectClient(suite.h, { channelAuthorization: authorizerFrom(serverLib(suite.h), { user_id: 10, user_info: { name: 'Mr. Pusher' } }) });
  clients.push(a);
  const ch = await a.subscribe('presence-numeric');
  const users = await (await serverLib(suite.h).get({ path: '/channels/presence-numeric/users' })).json();
  assert.deepEqual(users, { users: [{ id: '10' }] });
  assert.equal(ch.members.count, 1);
  assert.ok(ch.members.get('10'), 'member 10 missing');
});

test('HTTP API: /users, info=user_count on channel and channel list, and 400 for non-presence', async () => {
  const pusher = serverLib(suite.h);
  const x = await member('u1');
  const y = await member('u2');
  const y2 = await member('u2');
  for (const c of [x, y, y2]) await c.subscribe('presence-api');

  const users = await (await pusher.get({ path: '/channels/presence-api/users' })).json();
  assert.deepEqual(users.users.map((u) => u.id).sort(), ['u1', 'u2']);

  const info = await (await pusher.get({ path: '/channels/presence-api', params: { info: 'user_count' } })).json();
  assert.equal(info.occupied, true);
  assert.equal(info.user_count, 2);

  const list = await (await pusher.get({ path: '/channels', params: { filter_by_prefix: 'presence-api', info: 'user_count' } })).json();
  assert.deepEqual(list, { channels: { 'presence-api': { user_count: 2 } } });

  const trig = await (await pusher.trigger('presence-api', 'e', {}, { info: 'user_count' })).json();
  assert.equal(trig.channels['presence-api'].user_count, 2);

  const c = await connectClient(suite.h);
  clients.push(c);
  await c.subscribe('public-not-presence');
  const nonPresence = await pusher.get({ path: '/channels/public-not-presence/users' }).catch((e) => e);
  assert.equal(nonPresence.status, 400, 'GET /users on a public channel');
  const badCount = await pusher.get({ path: '/channels/public-not-presence', params: { info: 'user_count' } }).catch((e) => e);
  assert.equal(badCount.status, 400, 'info=user_count on a public channel');
  const badList = await pusher.get({ path: '/channels', params: { info: 'user_count' } }).catch((e) => e);
  assert.equal(badList.status, 400, 'info=user_count without a presence- prefix filter');
});

test('presence auth with tampered channel_data is rejected', async () => {
  const server = serverLib(suite.h);
  const c = await connectClient(suite.h, {
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => {
        const signed = server.authorizeChannel(socketId, channelName, { user_id: 'mallory', user_info: {} });
        cb(null, { auth: signed.auth, channel_data: JSON.stringify({ user_id: 'admin', user_info: {} }) });
      },
    },
  });
  clients.push(c);
  const ch = c.pusher.subscribe('presence-tamper');
  const log = recordChannel(ch);
  await waitForRejection(c, log);
  assert.equal(log.filter((e) => e.event === 'pusher:subscription_succeeded').length, 0, 'tampered channel_data accepted');
  assert.equal(c.state, 'connected');
});

test('user_info over the configured limit is rejected with an error', async () => {
  const c = await member('big', { blob: 'x'.repeat(2000) });
  const log = recordChannel(c.pusher.subscribe('presence-big-info'));
  await waitForRejection(c, log);
  assert.equal(log.filter((e) => e.event === 'pusher:subscription_succeeded').length, 0, '2 KB user_info accepted (limit 1 KB)');
  assert.equal(c.state, 'connected');
});

test('max_presence_members from TOML caps a channel, with an error for the next user', async () => {
  const capped = await startHerald({ apps: [{ id: '5', key: 'capped-key', secret: 'capped-secret', enabled: true, max_presence_members: 2 }] });
  try {
    const join = async (userId) => {
      const c = await connectClient(capped, { channelAuthorization: authorizerFrom(serverLib(capped), { user_id: userId, user_info: {} }) });
      clients.push(c);
      return c;
    };
    const a = await join('cap-1');
    await a.subscribe('presence-capped');
    await (await join('cap-2')).subscribe('presence-capped');
    // Another socket of a user already present does not add a member.
    await (await join('cap-2')).subscribe('presence-capped');
    const third = await join('cap-3');
    const log = recordChannel(third.pusher.subscribe('presence-capped'));
    await waitForRejection(third, log);
    assert.equal(log.filter((e) => e.event === 'pusher:subscription_succeeded').length, 0, 'a third member was admitted with max_presence_members = 2');
    assert.equal(third.state, 'connected');
    const users = await (await serverLib(capped).get({ path: '/channels/presence-capped/users' })).json();
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['cap-1', 'cap-2']);
  } finally {
    await capped.stop();
  }
});
