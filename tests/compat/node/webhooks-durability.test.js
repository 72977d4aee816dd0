'use strict';
// Issue 11: webhooks are delivered at least once whatever the receiver or herald does — a
// receiver answering 500, a receiver down for seconds, herald stopped gracefully or killed
// with SIGKILL while webhooks are pending, and a receiver that never recovers (given up,
// and logged). Every POST is validated with the official `pusher` library.

const { test: nodeTest, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startHerald, withHeraldLogs } = require('../lib/herald');
const { connectClient, serverLib, closeAll, waitUntil } = require('../lib/clients');
const { startReceiver } = require('../lib/webhook-receiver');

const APP = { id: '1', key: 'app-key', secret: 'app-secret' };
const TYPES = ['channel_occupied', 'channel_vacated'];
let current;
const clients = [];
const cleanups = [];
const test = withHeraldLogs(() => current, nodeTest);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

after(async () => {
  await closeAll(clients);
  for (const f of cleanups.reverse()) await f();
});

async function herald(receiver, opts = {}) {
  current = await startHerald({
    ...opts,
    env: { HERALD_APP_WEBHOOKS: JSON.stringify([{ url: receiver.url, event_types: TYPES }]), ...(opts.env || {}) },
  });
  const h = current;
  cleanups.push(() => h.stop());
  return h;
}

async function receiver() {
  const r = await startReceiver(APP);
  cleanups.push(() => r.stop().catch(() => {}));
  return r;
}

async function occupy(h, channel) {
  const c = await connectClient(h);
  clients.push(c);
  await c.subscribe(channel);
  return c;
}

async function deliveries(h) {
  const res = await serverLib(h).get({ path: '/webhooks/deliveries' });
  return (await res.json()).deliveries;
}

test('a receiver answering 500 three times gets the same batch again until it accepts', async () => {
  const r = await receiver();
  const h = await herald(r);
  r.failNext(3);
  await occupy(h, 'dur-500');
  await r.events.waitFor((e) => e.name === 'channel_occupied' && e.channel === 'dur-500', 'occupied after retries', 15000);
  assert.equal(r.batches.length, 4);
  assert.deepEqual(r.batches.slice(0, 3).map((b) => b.failed), [true, true, true]);
  const sent = r.batches.map((b) => JSON.stringify(b.body.events));
  assert.equal(new Set(sent).size, 1, 'each attempt carries the same events');
  const times = r.batches.map((b) => b.body.time_ms);
  assert.ok(times[3] - times[0] >= 3000, `exponential backoff (0.5 + 1 + 2 s), got ${times[3] - times[0]} ms`);
  assert.ok(times[1] < times[2] && times[2] < times[3], 'time_ms is stamped at each attempt');
  const [log] = await deliveries(h);
  assert.equal(log.status, 'delivered');
  assert.equal(log.attempts, 4);
  assert.equal(log.last_status, 200);
  assert.equal(r.invalid, 0);
});

test('a receiver down for seconds gets everything once it is back, in order', async () => {
  const r = await receiver();
  const h = await herald(r);
  await r.down();
  const c = await occupy(h, 'dur-down');
  c.disconnect();
  await occupy(h, 'dur-down-2');
  await sleep(2000);
  const [log] = await deliveries(h);
  assert.equal(log.status, 'pending');
  assert.match(log.last_error, /connect/);
  assert.ok(log.attempts >= 2);
  await r.up();
  await r.events.waitFor((e) => e.name === 'channel_vacated' && e.channel === 'dur-down', 'vacated after the receiver came back', 15000);
  await r.quiet(300);
  assert.deepEqual(
    r.events.items.map((e) => `${e.name} ${e.channel}`),
    ['channel_occupied dur-down', 'channel_occupied dur-down-2', 'channel_vacated dur-down'],
  );
  assert.equal(r.invalid, 0);
});

for (const how of ['graceful stop', 'kill -9']) {
  test(`webhooks pending at a ${how} are delivered after the restart`, async () => {
    const r = await receiver();
    await r.down();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-compat-hooks-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const first = await herald(r, { dir });
    await occupy(first, 'dur-restart-a');
    await occupy(first, 'dur-restart-b');
    await waitUntil(async () => (await deliveries(first)).some((d) => d.attempts >= 1), 'a failed attempt');
    if (how === 'kill -9') await first.kill();
    else await first.stop();
    await r.up();
    const second = await herald(r, { dir });
    await r.events.waitFor((e) => e.channel === 'dur-restart-b', 'the pending events after the restart', 15000);
    const names = r.events.items.map((e) => `${e.name} ${e.channel}`);
    assert.deepEqual(names.slice(0, 2), ['channel_occupied dur-restart-a', 'channel_occupied dur-restart-b']);
    // A graceful stop closed both sockets and stored their vacated; after kill -9 the new
    // process finds both channels still recorded live and reports them vacated itself.
    for (const channel of ['dur-restart-a', 'dur-restart-b']) {
      await r.events.waitFor((e) => e.name === 'channel_vacated' && e.channel === channel, `vacated ${channel} after the ${how}`, 10000);
    }
    await r.quiet(300);
    assert.equal(r.named('channel_vacated').length, 2, 'each vacated once');
    assert.equal(r.invalid, 0);
    const log = await deliveries(second);
    assert.ok(log.some((d) => d.status === 'delivered' && d.attempts >= 2), 'the batch from before the restart finished');
  });
}

test('a receiver that never recovers is given up after webhook_give_up, and the log says why', async () => {
  const r = await receiver();
  r.failNext(1000);
  const h = await herald(r, { env: { HERALD_WEBHOOK_GIVE_UP: '2' } });
  await occupy(h, 'dur-give-up');
  await waitUntil(async () => (await deliveries(h)).some((d) => d.status === 'given_up'), 'a given-up batch', 10000);
  const [log] = await deliveries(h);
  assert.equal(log.last_status, 500);
  assert.match(log.last_error, /500/);
  assert.ok(log.attempts >= 3);
  assert.deepEqual(log.summary, [{ name: 'channel_occupied', channel: 'dur-give-up' }]);
  const text = await (await fetch(`http://127.0.0.1:${h.metricsPort}/metrics`)).text();
  assert.match(text, /^herald_webhook_batches_given_up_total 1$/m);
  assert.match(text, /^herald_webhook_queue_depth 0$/m);
});
