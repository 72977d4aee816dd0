'use strict';
// Starts a real `herald` process for a compatibility test and tears it down again.
//
// Every suite in tests/compat talks to herald the way production clients do: over loopback
// TCP, with the real pusher-js and the official `pusher` server library. This module owns the
// process side of that: free ports, a private temp dir (audit DB, TOML config), readiness
// polling on `GET /ready`, the captured stderr (appended to a failing test's error), and a
// kill that always happens (SIGTERM, then SIGKILL, plus an exit hook for crashes).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const HERALD_BIN = process.env.HERALD_BIN || path.join(REPO_ROOT, 'target', 'debug', 'herald');
const STDERR_TAIL_BYTES = 16 * 1024;

const DEFAULT_APP = Object.freeze({ id: '1', key: 'app-key', secret: 'app-secret' });

/** Every herald child still alive; killed synchronously if the test process exits early. */
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tomlString(value) {
  return JSON.stringify(String(value)); // a JSON string is a valid TOML basic string
}

function tomlValue(value) {
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  return tomlString(value);
}

/** Renders `[[apps]]` tables for `--config`; keys are herald's TOML names (snake_case). */
function renderToml({ host, port, apps }) {
  const lines = [`host = ${tomlString(host)}`, `port = ${port}`, ''];
  for (const app of apps) {
    lines.push('[[apps]]');
    for (const [k, v] of Object.entries(app)) {
      if (v !== undefined) lines.push(`${k} = ${tomlValue(v)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * Spawns herald and resolves once `GET /ready` answers 200.
 *
 * @param {object} [opts]
 * @param {object} [opts.env]   extra environment (e.g. HERALD_APP_CLIENT_EVENTS: 'true')
 * @param {object[]} [opts.apps] apps for a generated herald.toml (passed with --config);
 *                               without it herald runs its single env-configured app.
 * @param {number} [opts.readyTimeoutMs]
 * @param {number} [opts.port]  listen on this port (a restart of an earlier herald)
 * @param {string} [opts.dir]   reuse this temp dir, audit DB included (a restart); the caller
 *                              then owns it and `stop()` leaves it in place
 */
async function startHerald(opts = {}) {
  if (!fs.existsSync(HERALD_BIN)) {
    throw new Error(`herald binary not found at ${HERALD_BIN}; run \`cargo build --bin herald\` first`);
  }
  const ownDir = !opts.dir;
  const dir = opts.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'herald-compat-'));
  const port = opts.port || (await freePort());
  const metricsPort = await freePort();
  const args = ['serve'];
  if (opts.apps) {
    const configPath = path.join(dir, 'herald.toml');
    fs.writeFileSync(configPath, renderToml({ host: '127.0.0.1', port, apps: opts.apps }));
    args.push('--config', configPath);
  }
  const env = {
    ...process.env,
    HERALD_HOST: '127.0.0.1',
    HERALD_PORT: String(port),
    HERALD_METRICS_PORT: String(metricsPort),
    HERALD_AUDIT_URL: `sqlite://${path.join(dir, 'audit.db')}`,
    RUST_LOG: process.env.RUST_LOG || 'info',
    ...(opts.apps ? {} : { HERALD_APP_ID: DEFAULT_APP.id, HERALD_APP_KEY: DEFAULT_APP.key, HERALD_APP_SECRET: DEFAULT_APP.secret }),
    ...(opts.env || {}),
  };
  const child = spawn(HERALD_BIN, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);

  let output = '';
  const capture = (chunk) => {
    output += chunk.toString('utf8');
    if (output.length > 2 * STDERR_TAIL_BYTES) output = output.slice(-STDERR_TAIL_BYTES);
  };
  child.stdout.on('data', capture);
  child.stderr.on('data', capture);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      resolve(exited);
    });
  });

  const baseUrl = `http://127.0.0.1:${port}`;
  const handle = {
    port,
    metricsPort,
    dir,
    baseUrl,
    child,
    app: opts.apps ? { id: String(opts.apps[0].id), key: opts.apps[0].key, secret: opts.apps[0].secret } : { ...DEFAULT_APP, ...appFromEnv(opts.env) },
    wsUrl: (key) => `ws://127.0.0.1:${port}/app/${key}?protocol=7&client=js&version=8.4.0`,
    logs: () => output.slice(-STDERR_TAIL_BYTES),
    exited: () => exited,
    stop: async () => {
      if (exited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const result = await exitPromise;
      clearTimeout(timer);
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
      return result;
    },
    /** kill -9: no cleanup at all, the working dir stays. */
    kill: async () => {
      if (exited) return exited;
      child.kill('SIGKILL');
      return exitPromise;
    },
  };

  const deadline = Date.now() + (opts.readyTimeoutMs || 20000);
  for (;;) {
    if (exited) {
      throw new Error(`herald exited before becoming ready (${JSON.stringify(exited)})\n--- herald output ---\n${handle.logs()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`herald did not answer 200 on /ready within the timeout\n--- herald output ---\n${handle.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return handle;
}

function appFromEnv(env = {}) {
  const app = {};
  if (env.HERALD_APP_ID) app.id = env.HERALD_APP_ID;
  if (env.HERALD_APP_KEY) app.key = env.HERALD_APP_KEY;
  if (env.HERALD_APP_SECRET) app.secret = env.HERALD_APP_SECRET;
  return app;
}

/**
 * Wraps node:test's `test` so a failure carries herald's recent log output, which usually
 * says why (a rejected signature, a closed socket) far better than the client-side assertion.
 */
function withHeraldLogs(getHerald, testFn) {
  return (name, ...rest) => {
    const fn = rest.pop();
    return testFn(name, ...rest, async (t) => {
      try {
        await fn(t);
      } catch (err) {
        const h = getHerald();
        if (h && err && typeof err === 'object') {
          const tail = h.logs().split('\n').slice(-60).join('\n');
          try {
            err.message = `${err.message}\n--- herald output (tail) ---\n${tail}`;
          } catch {
            /* read-only message */
          }
        }
        throw err;
      }
    });
  };
}

module.exports = { startHerald, freePort, withHeraldLogs, HERALD_BIN, REPO_ROOT, DEFAULT_APP };
