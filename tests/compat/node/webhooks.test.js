'use strict';
// Issue 11: webhooks as a backend sees them. Every POST is checked by a real receiver with
// the official `pusher` library's webhook() (tests/compat/lib/webhook-receiver.js); the
// events are caused by real pusher-js clients. Covers every event type, the event_types and
// channel filters, the 3 s debounce of vacated / member_removed, several sockets of one
// user, the delivery log API and the metrics.

const { test: nodeTest, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHerald, withHeraldLogs } = require('../lib/herald');
const { connectClient, serverLib, closeAll, authorizerFrom } = require('../lib/clients');
const { startReceiver } = require('../lib/webhook-receiver');

let herald;
let all; // every event type
let filtered; // channel_occupied of private-* only
const clients = [];
const test = withHeraldLogs(() => herald, nodeTest);
const HOLD_MS = 3000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  const app = { id: '1', key: 'app-key', secret: 'app-secret' };
  all = await startReceiver(app);
  filtered = await startReceiver(app);
  herald = await startHerald({
    env: {
      HERALD_APP_CLIENT_EVENTS: 'true',
      HERALD_APP_WEBHOOKS: JSON.stringify([
        {
          url: all.url,
          event_types: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss', 'subscription_count'],
          headers: { 'X-Receiver-Token': 'secret-token' },
        },
        { url: filtered.url, event_types: ['channel_occupied'], filter: { channel_name_starts_with: 'private-' } },
      ]),
    },
  });
});

after(async () => {
  await closeAll(clients);
  await herald?.stop();
  await all?.stop();
  await filtered?.stop();
});

async function client(userId) {
  const c = await connectClient(herald, {
    channelAuthorization: authorizerFrom(serverLib(herald), { user_id: userId || 'nobody', user_info: { name: userId } }),
  });
  clients.push(c);
  return c;
}

test('every event type arrives, signed and shaped as Pusher sends it', async () => {
  const a = await client('u1');
  const b = await client('u2');
  const sentAfter = Date.now();
  await a.subscribe('wh-public');
  await all.events.waitFor((e) => e.name === 'channel_occupied' && e.channel === 'wh-public', 'channel_occupied wh-public');
  const count = await all.events.waitFor((e) => e.name === 'subscription_count' && e.channel === 'wh-public', 'subscription_count');
  assert.equal(count.subscription_count, 1);

  await a.subscribe('presence-wh');
  const added = await all.events.waitFor((e) => e.name === 'member_added' && e.channel === 'presence-wh', 'member_added');
  assert.deepEqual(added, { name: 'member_added', channel: 'presence-wh', user_id: 'u1', time_ms: added.time_ms });

  const privA = await a.subscribe('private-wh');
  await b.subscribe('private-wh');
  privA.trigger('client-hi', { a: 1 });
  const ce = await all.events.waitFor((e) => e.name === 'client_event' && e.channel === 'private-wh', 'client_event');
  assert.equal(ce.event, 'client-hi');
  assert.equal(ce.socket_id, a.socketId);
  assert.deepEqual(JSON.parse(ce.data), { a: 1 });
  assert.equal(ce.user_id, undefined, 'user_id only on presence channels');

  const presB = await b.subscribe('presence-wh');
  presB.trigger('client-there', 'x');
  const pce = await all.events.waitFor((e) => e.name === 'client_event' && e.channel === 'presence-wh', 'presence client_event');
  assert.equal(pce.user_id, 'u2');
  assert.equal(pce.socket_id, b.socketId);

  await a.subscribe('cache-wh');
  await all.events.waitFor((e) => e.name === 'cache_miss' && e.channel === 'cache-wh', 'cache_miss');

  b.pusher.unsubscribe('presence-wh');
  a.pusher.unsubscribe('presence-wh');
  const removed = await all.events.waitFor((e) => e.name === 'member_removed' && e.channel === 'presence-wh' && e.user_id === 'u1', 'member_removed u1', HOLD_MS + 5000);
  await all.events.waitFor((e) => e.name === 'member_removed' && e.user_id === 'u2', 'member_removed u2', 2000);
  const vacated = await all.events.waitFor((e) => e.name === 'channel_vacated' && e.channel === 'presence-wh', 'channel_vacated', 2000);
  assert.ok(vacated.time_ms - added.time_ms >= HOLD_MS, 'vacated is held about 3 s');
  assert.ok(removed.time_ms >= sentAfter && removed.time_ms <= Date.now(), 'time_ms is the send time');

  // Exactly one of each transition, and only what each receiver asked for.
  assert.equal(all.named('channel_occupied', 'presence-wh').length, 1);
  assert.equal(all.named('member_added', 'presence-wh').length, 2);
  assert.equal(all.named('channel_vacated', 'presence-wh').length, 1);
  await all.quiet(300);
  assert.deepEqual(
    filtered.events.items.map((e) => `${e.name} ${e.channel}`),
    ['channel_occupied private-wh'],
  );
  assert.equal(all.invalid + filtered.invalid, 0, 'every POST validates with the pusher library');
  assert.equal(all.headers[0]['x-receiver-token'], 'secret-token', 'extra headers are sent');
  assert.equal(all.headers[0]['content-type'], 'application/json');
});

test('a disconnect and reconnect within a second produces neither vacated nor a second occupied', async () => {
  const c = await client('bouncer');
  await c.subscribe('wh-bounce');
  await c.subscribe('presence-bounce');
  await all.events.waitFor((e) => e.name === 'member_added' && e.channel === 'presence-bounce', 'member_added');
  c.disconnect();
  await sleep(300);
  const again = await client('bouncer');
  await again.subscribe('wh-bounce');
  await again.subscribe('presence-bounce');
  await sleep(HOLD_MS + 1500);
  await all.quiet(300);
  assert.equal(all.named('channel_occupied', 'wh-bounce').length, 1);
  assert.equal(all.named('channel_vacated', 'wh-bounce').length, 0);
  assert.equal(all.named('member_added', 'presence-bounce').length, 1);
  assert.equal(all.named('member_removed', 'presence-bounce').length, 0);
  assert.equal(all.named('channel_vacated', 'presence-bounce').length, 0);
});

test('two sockets of one user are one member', async () => {
  const first = await client('twin');
  const second = await client('twin');
  await first.subscribe('presence-twins');
  await second.subscribe('presence-twins');
  await all.events.waitFor((e) => e.name === 'member_added' && e.channel === 'presence-twins', 'member_added');
  first.disconnect();
  await sleep(HOLD_MS + 1000);
  assert.equal(all.named('member_removed', 'presence-twins').length, 0, 'the user still has a socket');
  second.disconnect();
  await all.events.waitFor((e) => e.name === 'member_removed' && e.channel === 'presence-twins', 'member_removed', HOLD_MS + 5000);
  await all.quiet(300);
  assert.equal(all.named('member_added', 'presence-twins').length, 1);
  assert.equal(all.named('member_removed', 'presence-twins').length, 1);
  // member_removed comes before channel_vacated (same batch or an earlier one).
  const order = all.events.items.filter((e) => e.channel === 'presence-twins').map((e) => e.name);
  assert.deepEqual(order, ['channel_occupied', 'member_added', 'member_removed', 'channel_vacated']);
});

test('the delivery log and the metrics show what was sent', async () => {
  const pusher = serverLib(herald);
  const res = await pusher.get({ path: '/webhooks/deliveries', params: { limit: 500 } });
  assert.equal(res.status, 200);
  const { deliveries } = await res.json();
  const toAll = deliveries.filter((d) => d.url === all.url);
  assert.ok(toAll.length > 0);
  assert.ok(toAll.every((d) => d.status === 'delivered' && d.attempts === 1 && d.last_status === 200));
  const logged = toAll.reduce((n, d) => n + d.events, 0);
  assert.equal(logged, all.events.items.length, 'every delivered event is in the log');
  assert.ok(toAll.some((d) => d.summary.some((e) => e.name === 'member_removed' && e.user_id === 'twin')));

  const bad = await fetch(`${herald.baseUrl}/apps/1/webhooks/deliveries?limit=0&auth_key=x`);
  assert.equal(bad.status, 401, 'unsigned requests are refused');

  const text = await (await fetch(`http://127.0.0.1:${herald.metricsPort}/metrics`)).text();
  const metric = (name) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
  assert.equal(metric('herald_webhook_events_sent_total'), all.events.items.length + filtered.events.items.length);
  assert.equal(metric('herald_webhook_events_dropped_total'), 0);
  assert.equal(metric('herald_webhook_queue_depth'), 0);
  assert.ok(metric('herald_webhook_request_seconds_count') >= metric('herald_webhook_batches_sent_total'));
});
