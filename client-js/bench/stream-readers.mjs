#!/usr/bin/env node
import fs from 'node:fs';
// Load script for herald's live audit stream: opens N SSE readers on
// GET /apps/{id}/audit/stream, measures the server's RSS per reader, then triggers events at
// a steady rate with the official Node `pusher` library and reports, over every delivery,
// the delay from the trigger's 200 (the event is committed) to its arrival at each reader.
//
//   node bench/stream-readers.mjs --port 6001 --token TOKEN --server-pid PID \
//        [--readers 1000] [--events 200] [--rate 20]
//
// Progress goes to stderr on a terminal only; the report goes to stdout.
import http from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const PusherServer = require('pusher');

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '6001' },
    app: { type: 'string', default: '1' },
    key: { type: 'string', default: 'app-key' },
    secret: { type: 'string', default: 'app-secret' },
    token: { type: 'string' },
    'server-pid': { type: 'string' },
    readers: { type: 'string', default: '1000' },
    events: { type: 'string', default: '200' },
    rate: { type: 'string', default: '20' },
  },
});
if (!opt.token) throw new Error('--token (the app audit token) is required');
const READERS = Number(opt.readers);
const EVENTS = Number(opt.events);
const RATE = Number(opt.rate);
const progress = process.stderr.isTTY ? (msg) => process.stderr.write(`\r${msg}\x1b[K`) : () => {};

function rssBytes(pid) {
  if (!pid) return null;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
const arrivals = new Map(); // seq -> [arrival ms]
let opened = 0;
let startSeq = null;
const requests = [];

function openReader() {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: opt.host,
        port: opt.port,
        path: `/apps/${opt.app}/audit/stream`,
        headers: { authorization: `Bearer ${opt.token}` },
        agent,
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
        res.setEncoding('utf8');
        let buffer = '';
        let first = true;
        res.on('data', (chunk) => {
          const now = performance.now();
          buffer += chunk;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const id = /^id: (\d+)$/m.exec(block);
            if (first && id) {
              first = false;
              startSeq ??= Number(id[1]);
              opened++;
              resolve();
            } else if (id && block.includes('\nevent: audit\n')) {
              const seq = Number(id[1]);
              const list = arrivals.get(seq) ?? [];
              list.push(now);
              arrivals.set(seq, list);
            }
            end = buffer.indexOf('\n\n');
          }
        });
      },
    );
    req.on('error', reject);
    requests.push(req);
  });
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (v) => `${v.toFixed(2)} ms`;

const rss0 = rssBytes(opt['server-pid']);
for (let i = 0; i < READERS; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, READERS - i) }, openReader));
  progress(`readers open: ${opened}/${READERS}`);
}
await new Promise((r) => setTimeout(r, 2000));
const rss1 = rssBytes(opt['server-pid']);

const lib = new PusherServer({
  appId: opt.app,
  key: opt.key,
  secret: opt.secret,
  host: opt.host,
  port: opt.port,
  useTLS: false,
});
const acked = [];
const interval = 1000 / RATE;
const t0 = performance.now();
for (let i = 0; i < EVENTS; i++) {
  const due = t0 + i * interval;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const sent = performance.now();
  await lib.trigger('audit-channel', 'model-change', { action: 'created', model: 'bench', object_id: i });
  acked.push({ seq: startSeq + 1 + i, sent, ack: performance.now() });
  progress(`events: ${i + 1}/${EVENTS}`);
}
await new Promise((r) => setTimeout(r, 2000));
progress('');

const afterAck = [];
const afterSend = [];
// Per event: the first reader to get it (the server's own delay) and the last one (plus
// fan-out to every reader and this process handling all of them on one thread).
const firstAfterAck = [];
const lastAfterAck = [];
let missing = 0;
for (const { seq, sent, ack } of acked) {
  const list = arrivals.get(seq) ?? [];
  missing += READERS - list.length;
  for (const at of list) {
    afterAck.push(at - ack);
    afterSend.push(at - sent);
  }
  if (list.length) {
    firstAfterAck.push(Math.min(...list) - ack);
    lastAfterAck.push(Math.max(...list) - ack);
  }
}
for (const list of [afterAck, afterSend, firstAfterAck, lastAfterAck]) list.sort((a, b) => a - b);
const triggerLatency = acked.map((a) => a.ack - a.sent).sort((a, b) => a - b);

console.log(`readers: ${opened} open, ${READERS - opened} failed`);
if (rss0 !== null) {
  console.log(
    `server RSS: ${(rss0 / 1048576).toFixed(1)} MiB before, ${(rss1 / 1048576).toFixed(1)} MiB with the readers: ${Math.round((rss1 - rss0) / READERS)} B per reader`,
  );
}
console.log(`events: ${EVENTS} at ${RATE}/s; deliveries: ${afterAck.length} (${missing} missing)`);
console.log(
  `trigger 200 after send: p50 ${ms(pct(triggerLatency, 50))}, p99 ${ms(pct(triggerLatency, 99))}, max ${ms(triggerLatency.at(-1))}`,
);
console.log(
  `arrival after the trigger's 200 (committed): p50 ${ms(pct(afterAck, 50))}, p99 ${ms(pct(afterAck, 99))}, max ${ms(afterAck.at(-1))}`,
);
console.log(
  `per event, first reader after the 200: p50 ${ms(pct(firstAfterAck, 50))}, p99 ${ms(pct(firstAfterAck, 99))}; last reader: p50 ${ms(pct(lastAfterAck, 50))}, p99 ${ms(pct(lastAfterAck, 99))}`,
);
console.log(
  `arrival after the trigger was sent: p50 ${ms(pct(afterSend, 50))}, p99 ${ms(pct(afterSend, 99))}, max ${ms(afterSend.at(-1))}`,
);
for (const req of requests) req.destroy();
process.exit(missing === 0 ? 0 : 1);
