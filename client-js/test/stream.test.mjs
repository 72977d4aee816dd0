// The live audit stream (GET /apps/{id}/audit/stream) through AuditClient.stream(), against
// real herald processes: resume from every kind of position, concurrent triggers while
// readers resume, filters, a slow reader cut off and resuming, a herald restart mid-stream,
// heartbeats, Last-Event-ID, and refused credentials.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AuditApiError } from '../dist/index.js';
import { readSse } from '../dist/sse.js';
import { auditPayload, backend, herald, range, signingClient, TOKEN, take, tokenClient } from './helpers.mjs';

const seqs = (events) => events.map((e) => e.seq);

/** Triggers `count` events through batch_events, ten per call; `payload(i)` for event i. */
async function triggerMany(lib, count, payload = (i) => auditPayload(i)) {
  for (let first = 1; first <= count; first += 10) {
    const batch = range(first, Math.min(first + 9, count)).map((i) => ({
      channel: 'audit-channel',
      name: 'model-change',
      data: payload(i),
    }));
    await lib.triggerBatch(batch);
  }
}

describe('positions and concurrency', () => {
  let h;
  let lib;
  const N = 1200;
  before(async () => {
    h = await herald();
    lib = backend(h);
    await triggerMany(lib, N);
  });
  after(() => h?.stop());

  test('resumes after any position: the start, chunk edges, far behind, one behind', async () => {
    for (const position of [0, 1, 499, 500, 501, 1100, N - 1]) {
      const stream = tokenClient(h).stream({ after: position });
      const got = await take(stream, N - position);
      stream.close();
      assert.deepEqual(seqs(got), range(position + 1, N), `after=${position}`);
    }
  });

  test('from the end (after=last, or no position) only new events arrive', async () => {
    const atEnd = tokenClient(h).stream({ after: N });
    const fromNow = signingClient(h).stream();
    const pending = [take(atEnd, 1), take(fromNow, 1)];
    // The stream without a position starts after the newest event once connected; give
    // both time to connect before the trigger.
    await new Promise((r) => setTimeout(r, 300));
    await lib.trigger('audit-channel', 'model-change', auditPayload(N + 1));
    const [a, b] = await Promise.all(pending);
    atEnd.close();
    fromNow.close();
    assert.deepEqual(seqs(a), [N + 1]);
    assert.deepEqual(seqs(b), [N + 1]);
    assert.equal(fromNow.lastSeq, N + 1);
  });

  test('readers resuming while triggers keep coming get every event once, in order', async () => {
    const start = N + 1;
    const extra = 300;
    const last = start + extra;
    // Four concurrent triggering loops, interleaved with readers joining at different points.
    const writers = range(0, 3).map(async (w) => {
      for (let i = w; i < extra; i += 4) await lib.trigger('audit-channel', 'model-change', auditPayload(start + i));
    });
    const readers = [];
    for (const position of [0, 700, start, start + 50]) {
      readers.push({ position, stream: tokenClient(h).stream({ after: position }) });
      await new Promise((r) => setTimeout(r, 40));
    }
    const collected = readers.map(({ position, stream }) => take(stream, last - position, 30_000));
    await Promise.all(writers);
    const results = await Promise.all(collected);
    for (const [i, got] of results.entries()) {
      readers[i].stream.close();
      assert.deepEqual(seqs(got), range(readers[i].position + 1, last), `reader after=${readers[i].position}`);
    }
  });

  test('Last-Event-ID resumes a raw SSE reader and wins over ?after', async () => {
    const url = `${h.baseUrl}/apps/${h.app.id}/audit/stream?after=3`;
    const ac = new AbortController();
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${TOKEN}`, 'last-event-id': String(N - 2) },
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const ids = [];
    for await (const m of readSse(res.body)) {
      if (m?.event === 'audit') ids.push(Number(m.id));
      if (ids.length === 2) break;
    }
    ac.abort();
    assert.deepEqual(ids, [N - 1, N]);
  });
});

describe('filters', () => {
  let h;
  let lib;
  before(async () => {
    h = await herald();
    lib = backend(h);
  });
  after(() => h?.stop());

  test('the /events filters apply to the catch-up and to live events alike', async () => {
    const payload = (i) =>
      auditPayload(i, {
        model: i % 3 === 0 ? 'invoice' : 'service',
        action: i % 2 === 0 ? 'deleted' : 'created',
        object_repr: `Record ${i} of the ledger`,
      });
    await triggerMany(lib, 60, payload);
    const invoicesDeleted = tokenClient(h).stream({ after: 0, model: 'invoice', action: 'deleted' });
    const search = signingClient(h).stream({ after: 0, q: 'ledg' });
    const channel = tokenClient(h).stream({ after: 0, channel: 'model-invoice' });
    const expected = range(1, 120).filter((i) => i % 6 === 0);
    const pending = take(invoicesDeleted, expected.length);
    const searched = take(search, 120);
    const onChannel = take(channel, 1);
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 61; i <= 120; i++) await lib.trigger('audit-channel', 'model-change', payload(i));
    await lib.trigger('model-invoice', 'change', auditPayload(121, { model: 'invoice' }));
    assert.deepEqual(seqs(await pending), expected);
    assert.deepEqual(seqs(await searched), range(1, 120));
    assert.deepEqual(seqs(await onChannel), [121]);
    for (const s of [invoicesDeleted, search, channel]) s.close();
  });

  test('a bad filter is a 400 naming it, not a retry loop', async () => {
    const stream = tokenClient(h).stream({ days: 0 });
    await assert.rejects(take(stream, 1), (err) => err instanceof AuditApiError && err.parameter === 'days');
  });
});

test('bad credentials get 401 and end the iteration', async () => {
  const h = await herald();
  try {
    await assert.rejects(take(tokenClient(h, 'nope').stream(), 1), (err) => {
      assert.ok(err instanceof AuditApiError);
      assert.equal(err.status, 401);
      return true;
    });
    await assert.rejects(take(signingClient(h, 'wrong-secret').stream(), 1), (err) => err.status === 401);
  } finally {
    await h.stop();
  }
});

test('a reader that stops reading is cut off with a reason, then resumes with nothing lost', async () => {
  // A 16-event ring, and ~9 KB events: a reader that does not read fills its socket's
  // buffers (a few MB) and then falls more than 16 events behind.
  const h = await herald({ HERALD_AUDIT_STREAM_BUFFER: '16' });
  try {
    const lib = backend(h);
    const stream = tokenClient(h).stream({ after: 0 });
    const iterator = stream[Symbol.asyncIterator]();
    const first = iterator.next();
    await lib.trigger('audit-channel', 'model-change', auditPayload(1));
    assert.equal((await first).value.seq, 1);
    // Stop reading: nothing pulls the iterator while 900 large events are recorded.
    const TOTAL = 901;
    await triggerMany(lib, TOTAL - 1, (i) => auditPayload(i + 1, { note: 'x'.repeat(9000) }));
    const rest = await take({ [Symbol.asyncIterator]: () => iterator }, TOTAL - 1, 60_000);
    stream.close();
    assert.deepEqual(seqs(rest), range(2, TOTAL));
    assert.ok(stream.cutOffs.length >= 1, 'the slow reader was never cut off');
    assert.match(stream.cutOffs[0].reason, /more than 16 events behind/);
    assert.ok(stream.cutOffs[0].resume_after >= 1 && stream.cutOffs[0].resume_after < TOTAL);
    assert.ok(stream.reconnects >= 1);
  } finally {
    await h.stop();
  }
});

test('heartbeats arrive as SSE comments on an idle stream', async () => {
  const h = await herald({ HERALD_AUDIT_STREAM_HEARTBEAT: '1' });
  try {
    const ac = new AbortController();
    const res = await fetch(`${h.baseUrl}/apps/${h.app.id}/audit/stream`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: ac.signal,
    });
    let heartbeats = 0;
    let opening = null;
    for await (const m of readSse(res.body)) {
      if (m === null) heartbeats++;
      else opening ??= m;
      if (heartbeats >= 3) break; // the opening comment plus two heartbeats
    }
    ac.abort();
    assert.deepEqual(opening, { event: 'message', data: null, id: '0', retry: 1000 });
  } finally {
    await h.stop();
  }
});

test('a herald restart mid-stream: the stream reconnects and every event arrives once', async () => {
  // The test owns the directory (and so the audit database) that both processes use.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-restart-'));
  let h = await herald({}, { dir });
  const { port } = h;
  const stream = tokenClient(h).stream({ after: 0, maxBackoffMs: 200 });
  try {
    await triggerMany(backend(h), 20);
    const before = await take(stream, 20);
    await h.stop();
    h = await herald({}, { port, dir });
    await triggerMany(backend(h), 20, (i) => auditPayload(20 + i));
    const afterRestart = await take(stream, 20, 30_000);
    assert.deepEqual(seqs([...before, ...afterRestart]), range(1, 40));
    assert.ok(stream.reconnects >= 1);
  } finally {
    stream.close();
    await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
