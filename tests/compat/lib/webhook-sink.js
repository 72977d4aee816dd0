'use strict';
// A minimal webhook receiver for scripts/bench-webhooks.sh: counts the events of every POST
// and answers 200 (`count` mode, `GET /count` returns the total), or accepts connections and
// never answers (`blackhole` mode: herald's 4 s timeout and retries are what is exercised).
//
//   node webhook-sink.js PORT count|blackhole

const http = require('node:http');

const [port, mode] = [Number(process.argv[2]), process.argv[3] || 'count'];
let events = 0;
http
  .createServer((req, res) => {
    if (mode === 'blackhole') return; // hold the request open, answer nothing
    if (req.method === 'GET') return res.end(String(events));
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        events += JSON.parse(Buffer.concat(chunks).toString('utf8')).events.length;
      } catch {
        /* not a webhook body: not counted */
      }
      res.end('ok');
    });
  })
  .listen(port, '127.0.0.1');
