// Shared by the package's tests: a real herald process (own port, own audit database,
// stopped at exit), the official Node `pusher` library to trigger events, and AuditClients
// in both authentication modes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditClient } from '../dist/index.js';

const require = createRequire(import.meta.url);
const PusherServer = require('pusher');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HERALD_BIN = process.env.HERALD_BIN || path.join(ROOT, 'target', 'debug', 'herald');
const APP = Object.freeze({ id: '1', key: 'app-key', secret: 'app-secret' });

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A TCP port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts herald and resolves once `/ready` answers. `port` and `dir` (which holds the audit
 * database) can be given to restart a herald where a previous one was.
 */
export async function startHerald({ port, dir, env = {} } = {}) {
  if (!fs.existsSync(HERALD_BIN)) throw new Error(`no herald binary at ${HERALD_BIN}: run cargo build --bin herald`);
  const ownDir = !dir;
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'herald-client-js-'));
  port ??= await freePort();
  const child = spawn(HERALD_BIN, ['serve'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      HERALD_HOST: '127.0.0.1',
      HERALD_PORT: String(port),
      HERALD_AUDIT_URL: `sqlite://${path.join(dir, 'audit.db')}`,
      HERALD_APP_ID: APP.id,
      HERALD_APP_KEY: APP.key,
      HERALD_APP_SECRET: APP.secret,
      HERALD_SHUTDOWN_GRACE: '2',
      RUST_LOG: 'warn',
      ...env,
    },
  });
  live.add(child);
  let logs = '';
  child.stderr.on('data', (chunk) => {
    logs = (logs + chunk).slice(-16_000);
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  exited.then(() => live.delete(child));
  const baseUrl = `http://127.0.0.1:${port}`;
  const handle = {
    port,
    dir,
    baseUrl,
    app: APP,
    logs: () => logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`herald exited early:\n${logs}`);
    try {
      if ((await fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(1000) })).status === 200) return handle;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`herald did not become ready:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const TOKEN = 'client-js-test-token';

/** A herald with an audit bearer token; `env` adds or overrides settings. */
export function herald(env = {}, where = {}) {
  return startHerald({ ...where, env: { HERALD_APP_AUDIT_TOKEN: TOKEN, ...env } });
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
