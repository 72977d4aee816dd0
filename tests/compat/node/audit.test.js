'use strict';
// Events triggered through the official Node library are recorded, and the backend
// queries the audit API with the same library's generic signed `get`.

const assert = require('node:assert/strict');
const { heraldSuite } = require('../lib/suite');
const { connectClient, serverLib, recordChannel, waitUntil } = require('../lib/clients');
const { AUDIT_EVENT, AUDIT_ROUTES } = require('../lib/fixtures');

const suite = heraldSuite({ env: { HERALD_APP_AUDIT_TOKEN: 'dashboard-token' } });
const { test, clients } = suite;

async function auditGet(lib, path, params = {}) {
  const res = await lib.get({ path: `/audit${path}`, params });
  assert.equal(res.status, 200);
  return res.json();
}

test('triggers (single, multi-channel, batch) are delivered and recorded with every field', async () => {
  const lib = serverLib(suite.h);
  const c = await connectClient(suite.h);
  clients.push(c);
  const log = recordChannel(await c.subscribe('audit-channel'));

  await lib.trigger(AUDIT_ROUTES.map(([ch]) => ch), 'model-change', AUDIT_EVENT);
  await lib.triggerBatch([
    { channel: 'audit-channel', name: 'model-change', data: { ...AUDIT_EVENT, action: 'updated', object_id: 54 } },
    { channel: 'model-invoice', name: 'change', data: { action: 'deleted', model_name: 'invoice', user_email: 'b@example.com', object_id: '9' } },
  ]);
  const delivered = () => log.filter((e) => e.event === 'model-change');
  await waitUntil(() => delivered().length === 2, 'both audit-channel events delivered');
  assert.deepEqual(delivered()[0].data, AUDIT_EVENT);

  const page = await auditGet(lib, '/events', { ordering: 'seq' });
  assert.equal(page.count, 3);
  const [first, second, third] = page.results;
  assert.deepEqual(first.channels, AUDIT_ROUTES.map(([ch]) => ch));
  assert.equal(first.action, 'created');
  assert.equal(first.model, 'service');
  assert.equal(first.object_id, '53');
  assert.equal(first.user, 'test@example.com');
  assert.equal(second.action, 'updated');
  assert.equal(third.model, 'invoice');
  assert.equal(third.user, 'b@example.com');

  const detail = await auditGet(lib, `/events/${first.seq}`);
  assert.deepEqual(JSON.parse(detail.data), AUDIT_EVENT, 'raw data kept byte for byte');
  assert.deepEqual(detail.changes.price, { old: null, new: '100.00' });
  assert.match(detail.library ?? '', /pusher-http-node/);

  const filtered = await auditGet(lib, '/events', { model: 'service', action: 'updated' });
  assert.deepEqual(filtered.results.map((r) => r.object_id), ['54']);
  const searched = await auditGet(lib, '/events', { q: 'Test Service' });
  assert.equal(searched.count, 2);

  const stats = await auditGet(lib, '/stats');
  assert.equal(stats.total, 3);
  const byAction = Object.fromEntries(stats.by_action.map((r) => [r.action, r.count]));
  assert.deepEqual(byAction, { created: 1, updated: 1, deleted: 1 });

  const user = await auditGet(lib, '/users/b@example.com');
  assert.equal(JSON.stringify(user).includes('"invoice"'), true);
});

test('the audit API refuses bad signatures, wrong tokens and bad filters with reasons', async () => {
  const wrong = serverLib(suite.h, { secret: 'not-the-secret' });
  await assert.rejects(wrong.get({ path: '/audit/events' }), (err) => err.status === 401);
  const res = await fetch(`http://127.0.0.1:${suite.h.port}/apps/1/audit/events?limit=-3`, {
    headers: { authorization: 'Bearer dashboard-token' },
  });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /limit/);
  const csv = await fetch(`http://127.0.0.1:${suite.h.port}/apps/1/audit/export?format=csv`, {
    headers: { authorization: 'Bearer dashboard-token' },
  });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type') ?? '', /csv/);
  const bad = await fetch(`http://127.0.0.1:${suite.h.port}/apps/1/audit/export?format=csv`, {
    headers: { authorization: 'Bearer guess' },
  });
  assert.equal(bad.status, 401);
});
