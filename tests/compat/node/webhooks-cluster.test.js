'use strict';
// Issue 11: webhooks decided once per cluster. Three herald processes over a real
// redis-server (started here on a free port), all configured with the same receiver (which
// validates every POST with the official `pusher` library), and real pusher-js clients
// spread over the nodes: one occupied / vacated / member_added / member_removed per
// cluster, a reconnect to another node within the hold producing nothing, and a node killed
// with SIGKILL producing exactly one member_removed and channel_vacated per thing it held.

const { test: nodeTest, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { spawn } = require('node:child_process');
const { startHerald, freePort, withHeraldLogs } = require('../lib/herald');
const { connectClient, serverLib, closeAll, waitUntil, authorizerFrom } = require('../lib/clients');
const { startReceiver } = require('../lib/webhook-receiver');

const APP = { id: '1', key: 'app-key', secret: 'app-secret' };
const HOLD_MS = 3000;
let redis;
let receiver;
const nodes = [];
const clients = [];
const test = withHeraldLogs(() => nodes[0], nodeTest);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  process.on('exit', () => child.kill('SIGKILL'));
  await waitUntil(
    () => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    }),
    'redis-server listening',
    10000,
  );
  return { child, url: `redis://127.0.0.1:${port}` };
}

before(async () => {
  redis = await startRedis();
  receiver = await startReceiver(APP);
  const hooks = JSON.stringify([{ url: receiver.url, event_types: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }]);
  for (const id of ['a', 'b', 'c']) {
    nodes.push(await startHerald({
      env: {
        HERALD_REDIS_URL: redis.url,
        HERALD_REDIS_PREFIX: 'compat-hooks',
        HERALD_NODE_ID: `node-${id}`,
        HERALD_REDIS_HEARTBEAT: '1',
        HERALD_NODE_TIMEOUT: '3',
        HERALD_APP_WEBHOOKS: hooks,
      },
    }));
  }
});

after(async () => {
  await closeAll(clients);
  for (const n of nodes) await n.stop();
  await receiver?.stop();
  redis?.child.kill('SIGKILL');
});

async function member(node, userId) {
  const c = await connectClient(node, {
    channelAuthorization: authorizerFrom(serverLib(node), { user_id: userId, user_info: {} }),
  });
  clients.push(c);
  return c;
}

const count = (name, channel, userId) => receiver.events.filter((e) => e.name === name && e.channel === channel && (userId === undefined || e.user_id === userId)).length;

test('subscribers on two nodes: one channel_occupied, one channel_vacated, one member_added and member_removed per user', async () => {
  const [a, b] = nodes;
  const onA = await member(a, 'u1');
  const onB = await member(b, 'u1');
  await onA.subscribe('presence-cluster');
  await onB.subscribe('presence-cluster');
  await receiver.events.waitFor((e) => e.name === 'member_added' && e.channel === 'presence-cluster', 'member_added');
  onA.disconnect();
  await sleep(HOLD_MS + 1000);
  assert.equal(count('member_removed', 'presence-cluster'), 0, 'u1 still has a socket on node B');
  onB.disconnect();
  await receiver.events.waitFor((e) => e.name === 'channel_vacated' && e.channel === 'presence-cluster', 'channel_vacated', HOLD_MS + 5000);
  await receiver.quiet(500);
  assert.equal(count('channel_occupied', 'presence-cluster'), 1);
  assert.equal(count('member_added', 'presence-cluster', 'u1'), 1);
  assert.equal(count('member_removed', 'presence-cluster', 'u1'), 1);
  assert.equal(count('channel_vacated', 'presence-cluster'), 1);
  assert.equal(receiver.invalid, 0);
});

test('leaving one node and coming back on another within the hold produces nothing', async () => {
  const [a, b] = nodes;
  const first = await member(a, 'mover');
  await first.subscribe('presence-move');
  await receiver.events.waitFor((e) => e.name === 'member_added' && e.channel === 'presence-move', 'member_added');
  first.disconnect();
  await sleep(500);
  const second = await member(b, 'mover');
  await second.subscribe('presence-move');
  await sleep(HOLD_MS + 1500);
  await receiver.quiet(300);
  assert.equal(count('channel_occupied', 'presence-move'), 1);
  assert.equal(count('member_added', 'presence-move'), 1);
  assert.equal(count('member_removed', 'presence-move'), 0);
  assert.equal(count('channel_vacated', 'presence-move'), 0);
});

test('a node killed with SIGKILL: one member_removed per member and one channel_vacated per channel it left empty', async () => {
  const [a, , c] = nodes;
  const onC = await member(c, 'doomed');
  const alsoOnC = await member(c, 'survivor');
  const onA = await member(a, 'survivor');
  await onC.subscribe('presence-doomed');
  await onC.subscribe('cluster-only-c');
  await alsoOnC.subscribe('presence-shared');
  await onA.subscribe('presence-shared');
  await receiver.events.waitFor((e) => e.name === 'member_added' && e.channel === 'presence-doomed', 'member_added doomed');
  await receiver.events.waitFor((e) => e.name === 'channel_occupied' && e.channel === 'cluster-only-c', 'occupied cluster-only-c');
  await c.kill();
  // Reaped within node_timeout + heartbeat (4 s here), then held for 3 s.
  await receiver.events.waitFor((e) => e.name === 'member_removed' && e.channel === 'presence-doomed', 'member_removed after the kill', 15000);
  await receiver.events.waitFor((e) => e.name === 'channel_vacated' && e.channel === 'cluster-only-c', 'channel_vacated after the kill', 5000);
  await sleep(1500);
  await receiver.quiet(500);
  assert.equal(count('member_removed', 'presence-doomed', 'doomed'), 1);
  assert.equal(count('channel_vacated', 'presence-doomed'), 1);
  assert.equal(count('channel_vacated', 'cluster-only-c'), 1);
  assert.equal(count('member_removed', 'presence-shared'), 0, 'survivor still has a socket on node A');
  assert.equal(count('channel_vacated', 'presence-shared'), 0);
  assert.equal(receiver.invalid, 0);
});
