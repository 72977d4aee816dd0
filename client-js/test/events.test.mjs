// Pure parts: typed audit events with normalised `changes`, and the SSE parser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeChanges, parseAuditEvent } from '../dist/api.js';
import { readSse } from '../dist/sse.js';

test('changes are normalised from both shapes, and other shapes are kept as new values', () => {
  assert.deepEqual(normalizeChanges({ name: { old: null, new: 'A' }, price: ['1.00', '2.00'], flag: true }), {
    name: { old: null, new: 'A' },
    price: { old: '1.00', new: '2.00' },
    flag: { old: null, new: true },
  });
  assert.deepEqual(normalizeChanges({ only_new: { new: 3 } }), { only_new: { old: null, new: 3 } });
  assert.equal(normalizeChanges(['a', 'b']), null);
  assert.equal(normalizeChanges('changed'), null);
});

test('parseAuditEvent reads objects and JSON strings, with the aliases backends use', () => {
  const e = parseAuditEvent(
    JSON.stringify({
      action: 'updated',
      model_name: 'invoice',
      object_id: 7,
      user_email: 'a@b.c',
      changes: { x: [1, 2] },
    }),
  );
  assert.equal(e.action, 'updated');
  assert.equal(e.model, 'invoice');
  assert.equal(e.object_id, '7');
  assert.equal(e.user, 'a@b.c');
  assert.equal(e.object_repr, null);
  assert.deepEqual(e.changes, { x: { old: 1, new: 2 } });
  const text = parseAuditEvent('not json');
  assert.equal(text.raw, 'not json');
  assert.equal(text.action, null);
});

function bodyOf(chunks) {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(enc.encode(c));
      controller.close();
    },
  });
}

test('the SSE parser follows the standard: CR/LF/CRLF, comments, multi-line data, id-only blocks', async () => {
  const chunks = [
    ': hello\r\nretry: 1000\nid: 5\n\n',
    'id: 6\nevent: audit\ndata: {"a":\ndata: 1}\r',
    '\n\r\n',
    ':hb\n\nevent: cut',
    'off\ndata: x\n\n',
  ];
  const got = [];
  for await (const m of readSse(bodyOf(chunks))) got.push(m);
  assert.deepEqual(got, [
    null,
    { event: 'message', data: null, id: '5', retry: 1000 },
    { event: 'audit', data: '{"a":\n1}', id: '6', retry: null },
    null,
    { event: 'cutoff', data: 'x', id: null, retry: null },
  ]);
});
