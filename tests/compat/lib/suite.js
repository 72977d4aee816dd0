'use strict';
// The prologue every single-server compat file shares: one herald started before the
// file's tests, the clients a test opens closed after them, and a `test` that prints the
// server's log when a test fails.

const { test: nodeTest, before, after } = require('node:test');
const { startHerald, withHeraldLogs } = require('./herald');
const { closeAll } = require('./clients');

/**
 * Registers the file's before/after hooks and returns `{ test, clients, h }`: `suite.h` is
 * the running herald (set once `before` has run), `clients` collects pusher-js clients to
 * close at the end. `opts` goes to `startHerald`.
 */
function heraldSuite(opts = {}) {
  const suite = { h: undefined, clients: [] };
  before(async () => {
    suite.h = await startHerald(opts);
  });
  after(async () => {
    await closeAll(suite.clients);
    await suite.h?.stop();
  });
  suite.test = withHeraldLogs(() => suite.h, nodeTest);
  return suite;
}

module.exports = { heraldSuite };
