'use strict';
// User sign-in (pusher.signin() with a userAuthentication handler that signs with the
// official Node library's authenticateUser), sendToUser, terminateUserConnections, the
// watchlist, and the optional "authorized connections only" timeout (4009).

const assert = require('node:assert/strict');
const { startHerald } = require('../lib/herald');
const { heraldSuite } = require('../lib/suite');
const {
  connectClient, createClient, serverLib, recordChannel, waitUntil, authorizerFrom, userAuthenticatorFrom, EventLog,
} = require('../lib/clients');

const suite = heraldSuite();
const { test, clients } = suite;

/** Connects, signs in as `userData.id`, and waits until #server-to-user-{id} is subscribed. */
async function signedIn(userData, server = suite.h) {
  const c = await connectClient(server, { userAuthentication: userAuthenticatorFrom(serverLib(server), userData) });
  clients.push(c);
  c.userEvents = new EventLog();
  c.pusher.user.bind_global((event, data) => c.userEvents.push({ event, data }));
  c.watchlist = new EventLog();
  c.pusher.user.watchlist.bind('online', (e) => c.watchlist.push({ name: 'online', user_ids: e.user_ids }));
  c.pusher.user.watchlist.bind('offline', (e) => c.watchlist.push({ name: 'offline', user_ids: e.user_ids }));
  c.pusher.signin();
  await waitUntil(() => c.pusher.user.serverToUserChannel && c.pusher.user.serverToUserChannel.subscribed, `sign-in of ${userData.id}`);
  assert.equal(c.pusher.user.user_data.id, userData.id);
  return c;
}

test('sign-in succeeds and sendToUser reaches every socket of that user only', async () => {
  const u1a = await signedIn({ id: 'user-1', user_info: { name: 'One' } });
  const u1b = await signedIn({ id: 'user-1', user_info: { name: 'One' } });
  const u2 = await signedIn({ id: 'user-2' });
  const res = await serverLib(suite.h).sendToUser('user-1', 'notification', { text: 'hello', n: 1 });
  assert.equal(res.status, 200);
  for (const c of [u1a, u1b]) {
    const got = await c.userEvents.waitFor((e) => e.event === 'notification', 'notification');
    assert.deepEqual(got.data, { text: 'hello', n: 1 });
  }
  await serverLib(suite.h).sendToUser('user-2', 'sentinel', {});
  await u2.userEvents.waitFor((e) => e.event === 'sentinel', 'sentinel at user-2');
  assert.equal(u2.userEvents.filter((e) => e.event === 'notification').length, 0, 'user-2 got user-1\'s event');
});

test('sign-in with a bad signature is refused and the user channel is not joined', async () => {
  const c = await connectClient(suite.h, {
    userAuthentication: {
      customHandler: ({ socketId }, cb) => cb(null, { auth: `${suite.h.app.key}:${'0'.repeat(64)}`, user_data: JSON.stringify({ id: 'forger' }) }),
    },
  });
  clients.push(c);
  c.pusher.signin();
  const err = await c.errors.waitFor((e) => e.type === 'PusherError' || e.type === 'WebSocketError', 'an error for a forged sign-in');
  const code = err.type === 'PusherError' ? err.data && err.data.code : err.error && err.error.data && err.error.data.code;
  if (code === 4009) {
    // soketi-style: pusher:error 4009 then a 4009 close, which pusher-js treats as refused.
    await c.states.waitFor((s) => s.previous === 'connected', 'the 4009 close');
  }
  assert.ok(!c.messages.filter((m) => m.event === 'pusher:signin_success').length, 'forged sign-in succeeded');
  assert.ok(!c.pusher.user.user_data, 'pusher-js believes it is signed in');
  // Nothing sent to that user may reach this socket if herald keeps it open.
  if (c.state === 'connected') {
    await serverLib(suite.h).sendToUser('forger', 'secret', {});
    const probe = recordChannel(await c.subscribe('probe-forger'));
    await serverLib(suite.h).trigger('probe-forger', 'probe', {});
    await probe.waitFor((e) => e.event === 'probe', 'probe');
    assert.equal(c.messages.filter((m) => m.event === 'secret').length, 0, 'a forged sign-in received user events');
  }
});

test('#server-to-user-{id} cannot be joined without signing in as that user', async () => {
  const victim = await signedIn({ id: 'victim' });
  const intruder = await signedIn({ id: 'intruder' });
  const anonymous = await connectClient(suite.h);
  clients.push(anonymous);
  for (const c of [intruder, anonymous]) {
    // pusher-js refuses '#' names in subscribe(); send the frame through its own send_event.
    c.pusher.send_event('pusher:subscribe', { auth: '', channel: '#server-to-user-victim' });
  }
  await serverLib(suite.h).sendToUser('victim', 'private-note', { secret: 1 });
  await victim.userEvents.waitFor((e) => e.event === 'private-note', 'the note at the victim');
  for (const c of [intruder, anonymous]) {
    const probe = recordChannel(await c.subscribe(`probe-${c.socketId}`));
    await serverLib(suite.h).trigger(`probe-${c.socketId}`, 'probe', {});
    await probe.waitFor((e) => e.event === 'probe', 'probe');
    assert.equal(c.messages.filter((m) => m.event === 'private-note').length, 0, 'another user\'s channel was joined');
  }
});

test('presence without channel_data for a signed-in socket uses the sign-in user_data', async () => {
  const server = serverLib(suite.h);
  const c = await connectClient(suite.h, {
    userAuthentication: userAuthenticatorFrom(server, { id: 'signed-member', user_info: { name: 'Signed' } }),
    // The app's auth endpoint answers with `auth` only (signature over socket_id:channel).
    channelAuthorization: { customHandler: ({ socketId, channelName }, cb) => cb(null, { auth: server.authorizeChannel(socketId, channelName).auth }) },
  });
  clients.push(c);
  c.pusher.signin();
  await waitUntil(() => c.pusher.user.serverToUserChannel && c.pusher.user.serverToUserChannel.subscribed, 'sign-in');
  const watcher = await connectClient(suite.h, { channelAuthorization: authorizerFrom(server, { user_id: 'plain-member', user_info: {} }) });
  clients.push(watcher);
  const watcherChannel = await watcher.subscribe('presence-signed');
  const log = recordChannel(watcherChannel);
  const ch = await c.subscribe('presence-signed');
  assert.equal(ch.members.me && ch.members.me.id, 'signed-member');
  assert.equal(ch.members.count, 2);
  const added = await log.waitFor((e) => e.event === 'pusher:member_added', 'member_added for the signed-in member');
  assert.equal(added.data.id, 'signed-member');
  assert.deepEqual(added.data.info, { name: 'Signed' });
});

test('terminateUserConnections closes every signed-in socket of that user and no other', async () => {
  const t1 = await signedIn({ id: 'terminated' });
  const t2 = await signedIn({ id: 'terminated' });
  const other = await signedIn({ id: 'survivor' });
  // A presence member with the same id that never signed in is not a user connection.
  const presenceOnly = await connectClient(suite.h, { channelAuthorization: authorizerFrom(serverLib(suite.h), { user_id: 'terminated', user_info: {} }) });
  clients.push(presenceOnly);
  await presenceOnly.subscribe('presence-terminate');
  const res = await serverLib(suite.h).terminateUserConnections('terminated');
  assert.equal(res.status, 200);
  for (const c of [t1, t2]) {
    await c.states.waitFor((s) => s.previous === 'connected' && s.current !== 'connected', 'the terminated socket to leave "connected"');
  }
  await serverLib(suite.h).sendToUser('survivor', 'still-here', {});
  await other.userEvents.waitFor((e) => e.event === 'still-here', 'event for the survivor');
  assert.equal(other.state, 'connected');
  assert.equal(presenceOnly.state, 'connected', 'a presence-only member (not signed in) was terminated');
});

test('watchlist: online at sign-in for users already online, then online/offline changes', async () => {
  const early = await signedIn({ id: 'w-early' });
  const watcher = await signedIn({ id: 'w-watcher', watchlist: ['w-early', 'w-late', 'w-never'] });
  const first = await watcher.watchlist.waitFor((e) => e.name === 'online', 'initial online event');
  assert.deepEqual(first.user_ids, ['w-early']);

  const late = await signedIn({ id: 'w-late' });
  await watcher.watchlist.waitFor((e) => e.name === 'online' && e.user_ids.includes('w-late'), 'online for w-late');

  // A second socket of an online user is not a change.
  const late2 = await signedIn({ id: 'w-late' });
  await late2.subscribe('probe-late2');
  late2.disconnect();
  const pusher = serverLib(suite.h);
  await waitUntil(async () => !(await (await pusher.get({ path: '/channels/probe-late2' })).json()).occupied, 'herald to drop late2');
  early.disconnect();
  const offline = await watcher.watchlist.waitFor((e) => e.name === 'offline', 'offline for w-early');
  assert.deepEqual(offline.user_ids, ['w-early']);
  assert.equal(watcher.watchlist.filter((e) => e.name === 'offline' && e.user_ids.includes('w-late')).length, 0, 'offline sent while w-late still has a socket');

  late.disconnect();
  await watcher.watchlist.waitFor((e) => e.name === 'offline' && e.user_ids.includes('w-late'), 'offline for w-late');
  assert.equal(watcher.watchlist.filter((e) => e.user_ids.includes('w-never')).length, 0);
});

test('a watchlist over 100 ids still signs in, with a 4302 pusher:error', async () => {
  const ids = Array.from({ length: 101 }, (_, i) => `wl-${i}`);
  const c = await signedIn({ id: 'big-watcher', watchlist: ids });
  const err = await c.errors.waitFor((e) => e.type === 'PusherError' && e.data && e.data.code === 4302, 'a 4302 pusher:error');
  assert.ok(err.data.message);
  assert.equal(c.state, 'connected');
});

test('authorized-connections timeout closes sockets that never authenticate with 4009', async () => {
  const strict = await startHerald({
    apps: [{ id: '7', key: 'strict-key', secret: 'strict-secret', enabled: true, authorized_connections_timeout_secs: 1 }],
  });
  try {
    const anonymous = createClient(strict);
    clients.push(anonymous);
    const authed = await signedIn({ id: 'trusted' }, strict);
    const authedSince = Date.now();
    const err = await anonymous.errors.waitFor((e) => e?.error?.data?.code === 4009, 'a 4009 close for the anonymous socket', 5000);
    assert.equal(err.error.type, 'PusherError');
    await anonymous.states.waitFor((s) => s.current === 'disconnected' || s.current === 'failed', 'anonymous disconnected');
    // Let the signed-in socket's own 1 s window pass too before judging it.
    await new Promise((r) => setTimeout(r, Math.max(0, authedSince + 1500 - Date.now())));
    assert.equal(authed.state, 'connected', 'a signed-in socket was closed');
    await serverLib(strict).sendToUser('trusted', 'after-timeout', {});
    await authed.userEvents.waitFor((e) => e.event === 'after-timeout', 'event after the timeout');
  } finally {
    await strict.stop();
  }
});
