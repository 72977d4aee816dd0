'use strict';
// The HTTP API rejects what Pusher's cloud rejects, with the same status codes,
// as seen through the official Node `pusher` library (which throws RequestError{status, body}).

const assert = require('node:assert/strict');
const { heraldSuite } = require('../lib/suite');
const { serverLib, statusOf, connectClient, recordChannel } = require('../lib/clients');

const suite = heraldSuite();
const { test, clients } = suite;

/** POSTs `sentBody` to `path` with a query string the Node library signed for `signedBody`. */
async function postSigned(pusher, path, signedBody, sentBody = signedBody) {
  const fullPath = `/apps/${suite.h.app.id}${path}`;
  const qs = pusher.createSignedQueryString({ method: 'POST', path: fullPath, body: signedBody });
  return fetch(`${suite.h.baseUrl}${fullPath}?${qs}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: sentBody,
  });
}

/** Runs `fn` with Date.now() shifted by `offsetMs`, so the library signs with a skewed clock. */
function withClockShift(offsetMs, fn) {
  const realNow = Date.now;
  Date.now = () => realNow() + offsetMs;
  try {
    return fn();
  } finally {
    Date.now = realNow;
  }
}

test('a correctly signed request is accepted (control for the cases below)', async () => {
  const body = JSON.stringify({ name: 'ok', channels: ['errors-control'], data: '{}' });
  const res = await postSigned(serverLib(suite.h), '/events', body);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.deepEqual(JSON.parse(text), {});
});

test('wrong secret → 401 and the event is not delivered', async () => {
  const c = await connectClient(suite.h);
  clients.push(c);
  const log = recordChannel(await c.subscribe('errors-secret'));
  const err = await serverLib(suite.h, { secret: 'not-the-secret' }).trigger('errors-secret', 'forged', { x: 1 }).catch((e) => e);
  assert.equal(err.status, 401, `expected 401, got ${err.status}: ${err.body}`);
  assert.ok(err.body && err.body.length > 0, '401 body should say what was wrong');
  await serverLib(suite.h).trigger('errors-secret', 'genuine', { x: 2 });
  await log.waitFor((e) => e.event === 'genuine', 'the genuine event');
  assert.equal(log.filter((e) => e.event === 'forged').length, 0, 'a forged event was delivered');
});

test('unknown auth_key → 401', async () => {
  const status = await statusOf(serverLib(suite.h, { key: 'no-such-key' }).trigger('errors-key', 'e', {}));
  assert.equal(status, 401);
});

test('stale timestamp (signed 700 s ago) → 401; 500 s ago is still inside the window', async () => {
  const pusher = serverLib(suite.h);
  const body = JSON.stringify({ name: 'stale', channels: ['errors-stale'], data: '{}' });
  const fullPath = `/apps/${suite.h.app.id}/events`;
  for (const [offsetS, expected] of [[-700, 401], [700, 401], [-500, 200]]) {
    const qs = withClockShift(offsetS * 1000, () => pusher.createSignedQueryString({ method: 'POST', path: fullPath, body }));
    const res = await fetch(`${suite.h.baseUrl}${fullPath}?${qs}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, expected, `clock offset ${offsetS}s: ${await res.text()}`);
  }
});

test('tampered body (signed one body, sent another) → 401', async () => {
  const pusher = serverLib(suite.h);
  const signed = JSON.stringify({ name: 'e', channels: ['errors-tamper'], data: '{"amount":1}' });
  const sent = JSON.stringify({ name: 'e', channels: ['errors-tamper'], data: '{"amount":1000}' });
  const res = await postSigned(pusher, '/events', signed, sent);
  assert.equal(res.status, 401, await res.text());
});

test('data over 10240 bytes → 413; exactly 10240 bytes → 200', async () => {
  const pusher = serverLib(suite.h);
  const err = await pusher.trigger('errors-size', 'big', 'x'.repeat(10241)).catch((e) => e);
  assert.equal(err.status, 413, `expected 413, got ${err.status}: ${err.body}`);
  const ok = await pusher.trigger('errors-size', 'big', 'x'.repeat(10240));
  assert.equal(ok.status, 200);
  const batchErr = await pusher.triggerBatch([{ channel: 'errors-size', name: 'big', data: 'y'.repeat(10241) }]).catch((e) => e);
  assert.equal(batchErr.status, 413, `batch: expected 413, got ${batchErr.status}: ${batchErr.body}`);
});

test('unknown app id → 404', async () => {
  const status = await statusOf(serverLib(suite.h, { appId: '999999' }).trigger('errors-app', 'e', {}));
  assert.equal(status, 404);
});

test('event names starting with pusher: or pusher_internal: → 400', async () => {
  const pusher = serverLib(suite.h);
  for (const name of ['pusher:subscribe', 'pusher_internal:member_added']) {
    const err = await pusher.trigger('errors-reserved', name, {}).catch((e) => e);
    assert.equal(err.status, 400, `${name}: expected 400, got ${err.status}: ${err.body}`);
    const batchErr = await pusher.triggerBatch([{ channel: 'errors-reserved', name, data: {} }]).catch((e) => e);
    assert.equal(batchErr.status, 400, `${name} in batch: expected 400, got ${batchErr.status}`);
  }
});

test('invalid socket_id in a trigger body → 400', async () => {
  const body = JSON.stringify({ name: 'e', channels: ['errors-socket'], data: '{}', socket_id: 'not-a-socket' });
  const res = await postSigned(serverLib(suite.h), '/events', body);
  assert.equal(res.status, 400, await res.text());
});
