'use strict';
// Private channels, authorized by a handler that signs with the official Node
// library's authorizeChannel, and every negative auth path (the socket must stay connected).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { heraldSuite } = require('../lib/suite');
const { connectClient, serverLib, recordChannel, authorizerFrom } = require('../lib/clients');
const { AUDIT_EVENT } = require('../lib/fixtures');

const suite = heraldSuite();
const { test, clients } = suite;

/** A pusher-js client whose channel authorizer returns whatever `authFor(socketId, channel)` gives. */
async function clientWithAuth(authFor) {
  const c = await connectClient(suite.h, {
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => cb(null, authFor(socketId, channelName)),
    },
  });
  clients.push(c);
  return c;
}

/** Subscribes expecting failure; resolves with the pusher:subscription_error payload. */
function expectSubscriptionError(c, name) {
  const channel = c.pusher.subscribe(name);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no pusher:subscription_error for ${name}`)), 5000);
    channel.bind('pusher:subscription_succeeded', () => {
      clearTimeout(timer);
      reject(new Error(`subscription to ${name} succeeded with a bad auth`));
    });
    channel.bind('pusher:subscription_error', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}

/** After a rejected subscription the socket must still work: same socket, public delivery. */
async function assertStillUsable(c, socketIdBefore) {
  assert.equal(c.state, 'connected');
  assert.equal(c.socketId, socketIdBefore, 'the connection was replaced (closed and reconnected)');
  const name = `after-error-${crypto.randomUUID()}`;
  const log = recordChannel(await c.subscribe(name));
  await serverLib(suite.h).trigger(name, 'still-here', { ok: true });
  await log.waitFor((e) => e.event === 'still-here', 'an event after the auth error');
  assert.equal(c.states.filter((s) => s.previous === 'connected').length, 0, `the connection dropped: ${JSON.stringify(c.states.items)}`);
}

test('authorizeChannel-signed subscription succeeds and receives triggered events', async () => {
  const server = serverLib(suite.h);
  const c = await connectClient(suite.h, { channelAuthorization: authorizerFrom(server) });
  clients.push(c);
  const log = recordChannel(await c.subscribe('private-audit'));
  await server.trigger('private-audit', 'model-change', AUDIT_EVENT);
  const got = await log.waitFor((e) => e.event === 'model-change', 'model-change on private-audit');
  assert.deepEqual(got.data, AUDIT_EVENT);
});

test('wrong signature → pusher:error and pusher:subscription_error; socket stays connected', async () => {
  const c = await clientWithAuth((socketId, channel) => ({ auth: `${suite.h.app.key}:${'0'.repeat(64)}` }));
  const id = c.socketId;
  const err = await expectSubscriptionError(c, 'private-wrong-sig');
  assert.ok(err, 'subscription_error carries data');
  const pusherError = await c.errors.waitFor((e) => e.type === 'PusherError', 'a pusher:error on the connection');
  assert.match(String(pusherError.data.message), /signature/i);
  await assertStillUsable(c, id);
});

test('signature made with another secret → subscription_error', async () => {
  const other = serverLib(suite.h, { secret: 'another-secret' });
  const c = await clientWithAuth((socketId, channel) => other.authorizeChannel(socketId, channel));
  const id = c.socketId;
  await expectSubscriptionError(c, 'private-other-secret');
  await assertStillUsable(c, id);
});

test('signature for another channel → subscription_error', async () => {
  const server = serverLib(suite.h);
  const c = await clientWithAuth((socketId) => server.authorizeChannel(socketId, 'private-something-else'));
  const id = c.socketId;
  await expectSubscriptionError(c, 'private-replayed');
  await assertStillUsable(c, id);
});

test('wrong key before the colon → subscription_error', async () => {
  const server = serverLib(suite.h);
  const c = await clientWithAuth((socketId, channel) => {
    const { auth } = server.authorizeChannel(socketId, channel);
    return { auth: `wrong-key:${auth.split(':')[1]}` };
  });
  const id = c.socketId;
  await expectSubscriptionError(c, 'private-wrong-key');
  const pusherError = await c.errors.waitFor((e) => e.type === 'PusherError', 'a pusher:error');
  assert.match(String(pusherError.data.message), /key/i);
  await assertStillUsable(c, id);
});

test('missing auth → subscription_error', async () => {
  const c = await clientWithAuth(() => ({}));
  const id = c.socketId;
  await expectSubscriptionError(c, 'private-no-auth');
  await assertStillUsable(c, id);
});

test('a rejected subscription receives nothing from the channel', async () => {
  const c = await clientWithAuth(() => ({ auth: `${suite.h.app.key}:${'f'.repeat(64)}` }));
  const channel = c.pusher.channel('private-locked') || c.pusher.subscribe('private-locked');
  const log = recordChannel(channel);
  await log.waitFor((e) => e.event === 'pusher:subscription_error', 'subscription_error');
  const info = await (await serverLib(suite.h).get({ path: '/channels/private-locked' })).json();
  assert.equal(info.occupied, false, 'a rejected socket was counted as a subscriber');
  await serverLib(suite.h).trigger('private-locked', 'secret-stuff', { leaked: true });
  // Barrier: a public event triggered afterwards reaches the same socket.
  const probe = recordChannel(await c.subscribe('probe-after-locked'));
  await serverLib(suite.h).trigger('probe-after-locked', 'probe', {});
  await probe.waitFor((e) => e.event === 'probe', 'probe');
  assert.equal(log.filter((e) => e.event === 'secret-stuff').length, 0, 'event leaked to an unauthorized socket');
});
