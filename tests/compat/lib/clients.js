'use strict';
// The real clients, configured for a herald started by ./herald.js, plus small waiting helpers.
//
// `pusher-js` (Node build) is the browser library; `pusher` is the official Node server library.
// Nothing here speaks the protocol itself: helpers only wait for what the real clients emit.

const PusherClient = require('pusher-js');
const PusherServer = require('pusher');

const DEFAULT_TIMEOUT_MS = 5000;

/** An append-only list of observations that can be awaited. */
class EventLog {
  constructor() {
    this.items = [];
    this.waiters = [];
  }
  push(item) {
    this.items.push(item);
    for (const w of [...this.waiters]) {
      if (w.pred(item)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(item);
      }
    }
  }
  /** Resolves with the first item (already logged or future) matching `pred`. */
  waitFor(pred, what = 'an event', timeoutMs = DEFAULT_TIMEOUT_MS) {
    const found = this.items.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw: ${JSON.stringify(this.items).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
  filter(pred) {
    return this.items.filter(pred);
  }
}

/** Polls `check` (sync or async) until it returns a truthy value. */
async function waitUntil(check, what = 'a condition', timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = 25) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The official Node server library pointed at herald. */
function serverLib(h, overrides = {}) {
  return new PusherServer({
    appId: h.app.id,
    key: h.app.key,
    secret: h.app.secret,
    host: '127.0.0.1',
    port: String(h.port),
    useTLS: false,
    ...overrides,
  });
}

/**
 * A pusher-js client pointed at herald. Records every message it receives (`messages`),
 * every connection state change (`states`) and every connection error (`errors`).
 */
function createClient(h, options = {}) {
  const { key = h.app.key, ...rest } = options;
  const pusher = new PusherClient(key, {
    cluster: 'mt1',
    wsHost: '127.0.0.1',
    wsPort: h.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    ...rest,
  });
  const client = {
    pusher,
    messages: new EventLog(),
    states: new EventLog(),
    errors: new EventLog(),
    get socketId() {
      return pusher.connection.socket_id;
    },
    get state() {
      return pusher.connection.state;
    },
    connected(timeoutMs) {
      return client.states.waitFor((s) => s.current === 'connected', 'state "connected"', timeoutMs);
    },
    subscribe(name, timeoutMs) {
      return subscribe(pusher, name, timeoutMs);
    },
    disconnect() {
      pusher.disconnect();
    },
  };
  pusher.connection.bind('message', (m) => client.messages.push(m));
  pusher.connection.bind('state_change', (s) => client.states.push({ ...s, at: Date.now() }));
  pusher.connection.bind('error', (e) => client.errors.push(e));
  return client;
}

/** createClient + wait until connected. */
async function connectClient(h, options = {}) {
  const client = createClient(h, options);
  await client.connected();
  return client;
}

/** Subscribes and resolves with the channel on `pusher:subscription_succeeded`; rejects on error. */
function subscribe(pusher, name, timeoutMs = DEFAULT_TIMEOUT_MS) {
  const channel = pusher.subscribe(name);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no subscription_succeeded for ${name} within ${timeoutMs} ms`)), timeoutMs);
    channel.bind('pusher:subscription_succeeded', () => {
      clearTimeout(timer);
      resolve(channel);
    });
    channel.bind('pusher:subscription_error', (err) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`subscription_error on ${name}: ${JSON.stringify(err)}`), { subscriptionError: err }));
    });
  });
}

/**
 * Logs every event a channel emits (including `pusher:*` ones) as {event, data}. pusher-js
 * gives global binds no metadata: bind the event itself to see `metadata.user_id`.
 */
function recordChannel(channel) {
  const log = new EventLog();
  channel.bind_global((event, data) => log.push({ event, data }));
  return log;
}

/** A channelAuthorization.customHandler that signs with the official Node library. */
function authorizerFrom(serverPusher, presenceData) {
  return {
    customHandler: ({ socketId, channelName }, callback) => {
      try {
        const data = typeof presenceData === 'function' ? presenceData(channelName) : presenceData;
        callback(null, serverPusher.authorizeChannel(socketId, channelName, channelName.startsWith('presence-') ? data : undefined));
      } catch (err) {
        callback(err, null);
      }
    },
  };
}

/** A userAuthentication.customHandler that signs with the official Node library. */
function userAuthenticatorFrom(serverPusher, userData) {
  return {
    customHandler: ({ socketId }, callback) => {
      try {
        callback(null, serverPusher.authenticateUser(socketId, userData));
      } catch (err) {
        callback(err, null);
      }
    },
  };
}

/** Resolves with the HTTP status of a rejected library call (the library throws RequestError). */
async function statusOf(promise) {
  try {
    const res = await promise;
    return res.status;
  } catch (err) {
    if (err && typeof err.status === 'number') return err.status;
    throw err;
  }
}

/** Disconnects every client given and waits until each reports a non-connected state. */
async function closeAll(clients) {
  await Promise.all(
    clients.filter(Boolean).map(async (c) => {
      if (c.state === 'disconnected' || c.state === 'failed') return;
      c.disconnect();
      await waitUntil(() => c.state === 'disconnected' || c.state === 'failed', 'client disconnect', 2000).catch(() => {});
    }),
  );
}

module.exports = {
  PusherClient,
  PusherServer,
  EventLog,
  waitUntil,
  serverLib,
  createClient,
  connectClient,
  subscribe,
  recordChannel,
  authorizerFrom,
  userAuthenticatorFrom,
  statusOf,
  closeAll,
  DEFAULT_TIMEOUT_MS,
};
