// Shared by the package's tests: a real herald (started by tests/compat's launcher, which
// gives each test file its own process, port and audit database), the official Node
// `pusher` library to trigger events, and AuditClients in both authentication modes.
import { createRequire } from 'node:module';
import { AuditClient } from '../dist/index.js';

const require = createRequire(import.meta.url);
const { startHerald } = require('../../tests/compat/lib/herald.js');
const PusherServer = require('pusher');

export const TOKEN = 'client-js-test-token';

/** A herald with an audit bearer token; `env` adds or overrides settings. */
export function herald(env = {}) {
  return startHerald({ env: { HERALD_APP_AUDIT_TOKEN: TOKEN, ...env } });
}

/** The official Node server library pointed at `h`. */
export function backend(h) {
  return new PusherServer({
    appId: h.app.id,
    key: h.app.key,
    secret: h.app.secret,
    host: '127.0.0.1',
    port: String(h.port),
    useTLS: false,
  });
}

export function tokenClient(h, token = TOKEN) {
  return new AuditClient({ baseUrl: h.baseUrl, appId: h.app.id, token });
}

export function signingClient(h, secret = h.app.secret) {
  return new AuditClient({ baseUrl: h.baseUrl, appId: h.app.id, key: h.app.key, secret });
}

/** The brief's audit payload for object `id`, with overrides. */
export function auditPayload(id, extra = {}) {
  return {
    action: 'created',
    model: 'service',
    object_id: id,
    user: 'test@example.com',
    timestamp: '2025-01-07T12:04:26.123456Z',
    changes: { name: { old: null, new: `Service ${id}` }, price: [null, '100.00'] },
    ...extra,
  };
}

/** Triggers `payloads` on audit-channel one after another; resolves when all are recorded. */
export async function triggerAll(lib, payloads, channel = 'audit-channel', event = 'model-change') {
  for (const p of payloads) await lib.trigger(channel, event, p);
}

/** Collects `n` events from an async iterable, or fails after `timeoutMs`. */
export async function take(iterable, n, timeoutMs = 15000) {
  const out = [];
  if (n === 0) return out;
  const iterator = iterable[Symbol.asyncIterator]();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out with ${out.length}/${n} events`)), timeoutMs);
  });
  try {
    while (out.length < n) {
      const { value, done } = await Promise.race([iterator.next(), timeout]);
      if (done) break;
      out.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

export const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
