'use strict';
// End-to-end encrypted channels. The official Node library encrypts with
// encryptionMasterKeyBase64; herald passes the ciphertext through; pusher-js decrypts it with
// the shared_secret that authorizeChannel returned to it.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { heraldSuite } = require('../lib/suite');
const { connectClient, serverLib, recordChannel, authorizerFrom } = require('../lib/clients');
const { AUDIT_EVENT } = require('../lib/fixtures');

const MASTER_KEY_B64 = crypto.randomBytes(32).toString('base64');

const suite = heraldSuite();
const { test, clients } = suite;

function encryptingLib() {
  return serverLib(suite.h, { encryptionMasterKeyBase64: MASTER_KEY_B64 });
}

async function subscriber(name) {
  const c = await connectClient(suite.h, { channelAuthorization: authorizerFrom(encryptingLib()) });
  clients.push(c);
  const channel = await c.subscribe(name);
  return { c, log: recordChannel(channel) };
}

test('authorizeChannel hands pusher-js a shared_secret (test precondition)', async () => {
  const auth = encryptingLib().authorizeChannel('1.2', 'private-encrypted-x');
  assert.match(auth.auth, /^app-key:[0-9a-f]{64}$/);
  assert.equal(Buffer.from(auth.shared_secret, 'base64').length, 32);
});

test('a trigger encrypted by the Node library is decrypted by pusher-js', async () => {
  const { c, log } = await subscriber('private-encrypted-audit');
  const res = await encryptingLib().trigger('private-encrypted-audit', 'model-change', AUDIT_EVENT);
  assert.equal(res.status, 200);
  const got = await log.waitFor((e) => e.event === 'model-change', 'model-change (decrypted)');
  assert.deepEqual(got.data, AUDIT_EVENT);
  // On the wire (as pusher-js parsed the frame before decrypting) it was nonce + ciphertext only.
  const raw = await c.messages.waitFor((m) => m.event === 'model-change', 'the raw frame');
  const wire = typeof raw.data === 'string' ? JSON.parse(raw.data) : raw.data;
  assert.deepEqual(Object.keys(wire).sort(), ['ciphertext', 'nonce']);
  assert.equal(Buffer.from(wire.nonce, 'base64').length, 24);
  assert.ok(!JSON.stringify(raw).includes('Test Service'), 'plaintext visible on the wire');
});

test('triggerBatch with an encrypted channel is decrypted too', async () => {
  const { log } = await subscriber('private-encrypted-batch');
  await encryptingLib().triggerBatch([{ channel: 'private-encrypted-batch', name: 'batched', data: { n: 7, s: 'é' } }]);
  const got = await log.waitFor((e) => e.event === 'batched', 'batched (decrypted)');
  assert.deepEqual(got.data, { n: 7, s: 'é' });
});

test('an encrypted channel needs a valid private auth', async () => {
  const c = await connectClient(suite.h, {
    channelAuthorization: { customHandler: (_p, cb) => cb(null, { auth: `${suite.h.app.key}:${'a'.repeat(64)}`, shared_secret: crypto.randomBytes(32).toString('base64') }) },
  });
  clients.push(c);
  const log = recordChannel(c.pusher.subscribe('private-encrypted-locked'));
  await log.waitFor((e) => e.event === 'pusher:subscription_error', 'subscription_error');
  assert.equal(c.state, 'connected');
});
