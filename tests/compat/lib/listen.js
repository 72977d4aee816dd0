'use strict';
// A real pusher-js client for the Python suite: connects to herald, subscribes, optionally
// signs in, and prints what pusher-js emits as one JSON object per line on stdout:
//   {"type":"state","current":"connected","socket_id":"1.2"}
//   {"type":"subscribed","channel":"audit-channel"}
//   {"type":"subscription_error","channel":"...","error":{...}}
//   {"type":"event","channel":"audit-channel","event":"model-change","data":{...}}
//   {"type":"signed_in","user_id":"..."}          (after #server-to-user-{id} is subscribed)
//   {"type":"user_event","event":"...","data":{...}}
//   {"type":"error","error":{...}}
// Configuration is one JSON argument:
//   {"port":6001,"key":"app-key","appId":"1","secret":"app-secret",
//    "channels":["audit-channel"], "userId":"u1" (optional: signs in as u1),
//    "presenceUserId":"p1" (optional), "encryptionMasterKeyBase64":"..." (optional)}
// The auth/sign-in handlers sign with the official Node `pusher` library. Exits when stdin closes.

const PusherClient = require('pusher-js');
const PusherServer = require('pusher');

const cfg = JSON.parse(process.argv[2]);
const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const signer = new PusherServer({
  appId: cfg.appId,
  key: cfg.key,
  secret: cfg.secret,
  host: '127.0.0.1',
  port: String(cfg.port),
  useTLS: false,
  encryptionMasterKeyBase64: cfg.encryptionMasterKeyBase64,
});

const pusher = new PusherClient(cfg.key, {
  cluster: 'mt1',
  wsHost: '127.0.0.1',
  wsPort: cfg.port,
  forceTLS: false,
  enabledTransports: ['ws'],
  disableStats: true,
  channelAuthorization: {
    customHandler: ({ socketId, channelName }, cb) => {
      try {
        const presence = channelName.startsWith('presence-') ? { user_id: cfg.presenceUserId || cfg.userId || 'listener', user_info: { via: 'listen.js' } } : undefined;
        cb(null, signer.authorizeChannel(socketId, channelName, presence));
      } catch (err) {
        cb(err, null);
      }
    },
  },
  userAuthentication: {
    customHandler: ({ socketId }, cb) => {
      try {
        cb(null, signer.authenticateUser(socketId, { id: cfg.userId }));
      } catch (err) {
        cb(err, null);
      }
    },
  },
});

pusher.connection.bind('state_change', ({ current }) => emit({ type: 'state', current, socket_id: pusher.connection.socket_id }));
pusher.connection.bind('error', (error) => emit({ type: 'error', error }));

for (const name of cfg.channels || []) {
  const channel = pusher.subscribe(name);
  channel.bind('pusher:subscription_succeeded', () => emit({ type: 'subscribed', channel: name }));
  channel.bind('pusher:subscription_error', (error) => emit({ type: 'subscription_error', channel: name, error }));
  channel.bind_global((event, data) => {
    if (!event.startsWith('pusher:')) emit({ type: 'event', channel: name, event, data });
  });
}

if (cfg.userId) {
  pusher.user.bind_global((event, data) => emit({ type: 'user_event', event, data }));
  pusher.signin();
  const timer = setInterval(() => {
    if (pusher.user.serverToUserChannel && pusher.user.serverToUserChannel.subscribed) {
      clearInterval(timer);
      emit({ type: 'signed_in', user_id: pusher.user.user_data.id });
    }
  }, 20);
}

process.stdin.on('end', () => {
  pusher.disconnect();
  setTimeout(() => process.exit(0), 100);
});
process.stdin.resume();
