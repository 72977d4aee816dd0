'use strict';
// Three herald processes joined through a real redis-server (started here on a free
// port), pusher-js clients on two nodes, the official `pusher` Node library triggering and
// querying through the third.

const { test: nodeTest, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { startHerald, freePort, withHeraldLogs } = require('../lib/herald');
const { connectClient, serverLib, recordChannel, closeAll, waitUntil, authorizerFrom } = require('../lib/clients');

let redis;
const nodes = [];
const clients = [];
const test = withHeraldLogs(() => nodes[0], nodeTest);

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  process.on('exit', () => child.kill('SIGKILL'));
  const net = require('node:net');
  await waitUntil(
    () => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    }),
    'redis-server listening',
    10000,
  );
  return { port, child, url: `redis://127.0.0.1:${port}` };
}

before(async () => {
  redis = await startRedis();
  for (const id of ['a', 'b', 'c']) {
    nodes.push(await startHerald({
      env: {
        HERALD_REDIS_URL: redis.url,
        HERALD_REDIS_PREFIX: 'compat-cluster',
        HERALD_NODE_ID: `node-${id}`,
        HERALD_APP_CLIENT_EVENTS: 'true',
      },
    }));
  }
});

after(async () => {
  await closeAll(clients);
  for (const n of nodes) await n.stop();
  redis?.child.kill('SIGKILL');
});

async function member(node, userId) {
  const c = await connectClient(node, {
    channelAuthorization: authorizerFrom(serverLib(node), { user_id: userId, user_info: { name: userId } }),
  });
  clients.push(c);
  return c;
}

test('a trigger through node C reaches pusher-js clients on nodes A and B exactly once', async () => {
  const [a, b, c] = nodes;
  const onA = await connectClient(a);
  const onB = await connectClient(b);
  clients.push(onA, onB);
  const logA = recordChannel(await onA.subscribe('audit-channel'));
  const logB = recordChannel(await onB.subscribe('audit-channel'));
  const pusher = serverLib(c);
  await waitUntil(async () => (await (await pusher.get({ path: '/channels/audit-channel', params: { info: 'subscription_count' } })).json()).subscription_count === 2, 'both subscriptions counted');

  const event = { action: 'created', model: 'service', object_id: 53, user: 'test@example.com' };
  await pusher.trigger('audit-channel', 'model-change', event);
  const gotA = await logA.waitFor((e) => e.event === 'model-change', 'model-change on A');
  const gotB = await logB.waitFor((e) => e.event === 'model-change', 'model-change on B');
  assert.deepEqual(gotA.data, event);
  assert.deepEqual(gotB.data, event);

  // Excluding B's socket: A gets it, B does not (checked with a sentinel after it).
  await pusher.trigger('audit-channel', 'only-a', {}, { socket_id: onB.socketId });
  await pusher.trigger('audit-channel', 'sentinel', {});
  await logA.waitFor((e) => e.event === 'only-a', 'only-a on A');
  await logB.waitFor((e) => e.event === 'sentinel', 'sentinel on B');
  assert.equal(logB.filter((e) => e.event === 'only-a').length, 0, 'excluded socket got the event');
  assert.equal(logA.filter((e) => e.event === 'model-change').length, 1);
  assert.equal(logB.filter((e) => e.event === 'model-change').length, 1);
});

test('presence across nodes: one member list, member_added/removed once, same answers from every node', async () => {
  const [a, b, c] = nodes;
  const alice = await member(a, 'alice');
  const chAlice = await alice.subscribe('presence-cluster');
  const logAlice = recordChannel(chAlice);

  const bob = await member(b, 'bob');
  const chBob = await bob.subscribe('presence-cluster');
  assert.equal(chBob.members.count, 2, 'bob sees alice, who is on another node');
  const added = await logAlice.waitFor((e) => e.event === 'pusher:member_added', 'member_added for bob');
  assert.equal(added.data.id, 'bob');

  // bob again, on node A this time: still two members, no second member_added.
  const bob2 = await member(a, 'bob');
  await bob2.subscribe('presence-cluster');
  for (const node of nodes) {
    const users = await (await serverLib(node).get({ path: '/channels/presence-cluster/users' })).json();
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob'], `users from ${node.baseUrl}`);
    const info = await (await serverLib(node).get({ path: '/channels/presence-cluster', params: { info: 'user_count,subscription_count' } })).json();
    assert.deepEqual(info, { occupied: true, user_count: 2, subscription_count: 3 });
  }
  await serverLib(c).trigger('presence-cluster', 'sentinel', {});
  await logAlice.waitFor((e) => e.event === 'sentinel', 'sentinel');
  assert.equal(logAlice.filter((e) => e.event === 'pusher:member_added').length, 1);

  bob.disconnect();
  bob2.disconnect();
  const removed = await logAlice.waitFor((e) => e.event === 'pusher:member_removed', 'member_removed for bob');
  assert.equal(removed.data.id, 'bob');
  await waitUntil(() => chAlice.members.count === 1, 'alice alone');
  assert.equal(logAlice.filter((e) => e.event === 'pusher:member_removed').length, 1);
});

test('client events cross nodes', async () => {
  const [a, b] = nodes;
  const x = await member(a, 'x');
  const y = await member(b, 'y');
  const chX = await x.subscribe('private-cluster-chat');
  const logY = recordChannel(await y.subscribe('private-cluster-chat'));
  await waitUntil(async () => (await (await serverLib(nodes[2]).get({ path: '/channels/private-cluster-chat', params: { info: 'subscription_count' } })).json()).subscription_count === 2, 'both subscribed');
  chX.trigger('client-typing', { who: 'x' });
  const got = await logY.waitFor((e) => e.event === 'client-typing', 'client-typing on node B');
  assert.deepEqual(got.data, { who: 'x' });
});
