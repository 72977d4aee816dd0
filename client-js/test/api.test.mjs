// AuditClient against a real herald: every list filter, paging with the async iterator, one
// event, stats, activity views, export as a stream, and both authentication modes (bearer
// token; key + secret signed in TypeScript) including their refusals.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AuditApiError } from '../dist/index.js';
import { auditPayload, backend, herald, range, signingClient, tokenClient } from './helpers.mjs';

let h;
const EVENTS = 25;

before(async () => {
  h = await herald();
  const lib = backend(h);
  for (const i of range(1, EVENTS)) {
    const payload = auditPayload(i, {
      action: i % 5 === 0 ? 'deleted' : 'created',
      model: i % 2 === 0 ? 'invoice' : 'service',
      user: i <= 10 ? 'alice@example.com' : 'bob@example.com',
      object_repr: `Object number ${i}`,
    });
    await lib.trigger(['audit-channel', `model-${payload.model}`], 'model-change', payload);
  }
});

after(() => h?.stop());

for (const [mode, make] of [
  ['bearer token', () => tokenClient(h)],
  ['key + secret signature', () => signingClient(h)],
]) {
  test(`${mode}: lists with filters, newest first`, async () => {
    const client = make();
    const all = await client.events({ limit: 5 });
    assert.equal(all.count, EVENTS);
    assert.deepEqual(
      all.results.map((e) => e.seq),
      [25, 24, 23, 22, 21],
    );
    const deleted = await client.events({ action: 'deleted', ordering: 'seq' });
    assert.deepEqual(
      deleted.results.map((e) => e.seq),
      [5, 10, 15, 20, 25],
    );
    const aliceInvoices = await client.events({ model: 'invoice', user: 'alice@example.com' });
    assert.equal(aliceInvoices.count, 5);
    assert.ok(aliceInvoices.results.every((e) => e.model === 'invoice' && e.user === 'alice@example.com'));
    const channel = await client.events({ channel: 'model-service', event: 'model-change', object_id: 7 });
    assert.deepEqual(
      channel.results.map((e) => e.object_id),
      ['7'],
    );
    const search = await client.events({ q: 'number 13' });
    assert.deepEqual(
      search.results.map((e) => e.seq),
      [13],
    );
    const today = new Date().toISOString().slice(0, 10);
    assert.equal((await client.events({ from: today, to: today, days: undefined })).count, EVENTS);
    assert.equal((await client.events({ days: 1 })).count, EVENTS);
    assert.equal((await client.events({ to: new Date(Date.now() - 86_400_000) })).count, 0);
  });
}

test('pages() and allEvents() walk every page exactly once', async () => {
  const client = tokenClient(h);
  const pages = [];
  for await (const page of client.pages({ limit: 7, ordering: 'seq' })) pages.push(page.results.map((e) => e.seq));
  assert.deepEqual(
    pages.map((p) => p.length),
    [7, 7, 7, 4],
  );
  assert.deepEqual(pages.flat(), range(1, EVENTS));
  const services = [];
  for await (const e of signingClient(h).allEvents({ model: 'service', limit: 4 })) services.push(e.seq);
  assert.deepEqual(
    services,
    range(1, EVENTS)
      .filter((i) => i % 2 === 1)
      .reverse(),
  );
});

test('one event in full, with normalised changes and the raw data', async () => {
  const e = await signingClient(h).event(3);
  assert.equal(e.seq, 3);
  assert.equal(e.app_id, h.app.id);
  assert.deepEqual(e.channels, ['audit-channel', 'model-service']);
  assert.deepEqual(e.changes, { name: { old: null, new: 'Service 3' }, price: { old: null, new: '100.00' } });
  assert.deepEqual(JSON.parse(e.data).changes.price, [null, '100.00']);
  assert.equal(e.auth_key, h.app.key);
  assert.match(e.library ?? '', /pusher-http-node/);
  await assert.rejects(tokenClient(h).event(999), (err) => err instanceof AuditApiError && err.status === 404);
});

test('stats and the user, model and object activity views', async () => {
  const client = tokenClient(h);
  const stats = await client.stats({ top: 3 });
  assert.equal(stats.total, EVENTS);
  assert.equal(stats.today, EVENTS);
  assert.deepEqual(stats.by_action, [
    { action: 'created', count: 20 },
    { action: 'deleted', count: 5 },
  ]);
  assert.equal(stats.by_model.find((m) => m.model === 'service').count, 13);
  const alice = await client.userActivity('alice@example.com', { limit: 3 });
  assert.equal(alice.user, 'alice@example.com');
  assert.equal(alice.count, 10);
  assert.equal(alice.results.length, 3);
  assert.equal(alice.stats.total, 10);
  const invoices = await signingClient(h).modelActivity('invoice', { action: 'deleted' });
  assert.deepEqual(
    invoices.results.map((e) => e.seq),
    [20, 10],
  );
  const object = await signingClient(h).objectActivity('service', 7);
  assert.equal(object.object_id, '7');
  assert.deepEqual(
    object.results.map((e) => e.seq),
    [7],
  );
});

test('export streams every matching event as NDJSON and CSV', async () => {
  const client = signingClient(h);
  const ndjson = await new Response(await client.export({ format: 'ndjson', model: 'invoice' })).text();
  const lines = ndjson.trim().split('\n').map(JSON.parse);
  assert.deepEqual(
    lines.map((e) => e.seq),
    range(1, EVENTS).filter((i) => i % 2 === 0),
  );
  const csv = await new Response(await tokenClient(h).export({ format: 'csv', action: 'deleted' })).text();
  const rows = csv.trim().split('\r\n');
  assert.match(rows[0], /^seq,received_at,app_id,name/);
  assert.equal(rows.length, 1 + 5);
});

test('refusals: wrong token and wrong secret are 401 with a reason, a bad filter is 400 naming it', async () => {
  await assert.rejects(tokenClient(h, 'wrong-token').events(), (err) => {
    assert.ok(err instanceof AuditApiError);
    assert.equal(err.status, 401);
    assert.match(err.message, /bearer token/i);
    return true;
  });
  await assert.rejects(signingClient(h, 'wrong-secret').stats(), (err) => {
    assert.equal(err.status, 401);
    assert.match(err.message, /signature/i);
    return true;
  });
  await assert.rejects(tokenClient(h).events({ ordering: 'name' }), (err) => {
    assert.equal(err.status, 400);
    assert.equal(err.parameter, 'ordering');
    return true;
  });
  assert.throws(() => new (tokenClient(h).constructor)({ baseUrl: h.baseUrl, appId: '1' }), /token/);
});
