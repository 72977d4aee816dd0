/**
 * [`connect`]: a pusher-js instance configured for herald. pusher-js is a peer dependency;
 * this is the only module that imports it (the `herald-client/api` entry point does not).
 */

import type { Options } from 'pusher-js';
import pusherModule from 'pusher-js';

export interface ConnectOptions {
  /** The app key. */
  key: string;
  /** herald's host name (no scheme). */
  host: string;
  /** herald's port; 443 with TLS, 6001 without, by default. */
  port?: number;
  /** wss:// instead of ws:// (herald behind a TLS-terminating proxy). Default false. */
  tls?: boolean;
  /** Where pusher-js asks your backend to authorise private and presence channels. */
  authEndpoint?: string;
  /** Where pusher-js asks your backend to sign the user in (`pusher.signin()`). */
  userAuthEndpoint?: string;
  /** Headers sent with both auth requests (e.g. a CSRF token). */
  authHeaders?: Record<string, string>;
  /** Any other pusher-js option; these win over the ones derived above. */
  pusher?: Partial<Options>;
}

// pusher-js is CommonJS whose `module.exports` is the class; its typings describe an ES
// module with a `default` export. Accept both shapes at run time.
type PusherClass = typeof pusherModule.default;
const Pusher: PusherClass =
  (pusherModule as unknown as { default?: PusherClass }).default ?? (pusherModule as unknown as PusherClass);

type PusherInstance = InstanceType<PusherClass>;

/**
 * A pusher-js client for herald: host, port and scheme set, WebSocket transports only
 * (herald has no HTTP fallbacks), stats off, and pusher-js's mandatory `cluster` filled in
 * (herald ignores it).
 */
export function connect(options: ConnectOptions): PusherInstance {
  const tls = options.tls ?? false;
  const port = options.port ?? (tls ? 443 : 6001);
  const headers = options.authHeaders ?? {};
  const config: Options = {
    cluster: 'herald',
    wsHost: options.host,
    wsPort: port,
    wssPort: port,
    forceTLS: tls,
    enabledTransports: ['ws', 'wss'],
    disableStats: true,
    ...(options.authEndpoint
      ? { channelAuthorization: { endpoint: options.authEndpoint, transport: 'ajax' as const, headers } }
      : {}),
    ...(options.userAuthEndpoint
      ? { userAuthentication: { endpoint: options.userAuthEndpoint, transport: 'ajax' as const, headers } }
      : {}),
    ...(options.pusher ?? {}),
  };
  return new Pusher(options.key, config);
}
