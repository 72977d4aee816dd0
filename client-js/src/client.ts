/**
 * [`AuditClient`]: herald's audit API over `fetch`, for Node ≥ 18 and browsers. Lists with
 * every filter (and an async iterator over all pages), one event, statistics, activity per
 * user / model / object, export as a stream, and the live stream.
 *
 * Authentication is the app's audit bearer token, or — on a server, where the secret may
 * live — the app key and secret, with which each request carries Pusher's signature.
 */

import type { AuditEventRecord, AuditEventSummary } from './event.js';
import { type Connection, type Credentials, get, getJson, toParams } from './request.js';
import { AuditStream } from './stream.js';
import type {
  Activity,
  ActivityOptions,
  AuditStats,
  EventPage,
  ExportOptions,
  ListOptions,
  StatsOptions,
  StreamOptions,
} from './types.js';

export interface AuditClientOptions {
  /** herald's HTTP address, e.g. `http://127.0.0.1:6001`. */
  baseUrl: string;
  /** The app id (`HERALD_APP_ID`, default `1`). */
  appId: string;
  /** The app's audit bearer token (`HERALD_APP_AUDIT_TOKEN` / `audit_token`). */
  token?: string;
  /** The app key and secret: requests are signed like Pusher's server libraries do. */
  key?: string;
  secret?: string;
  /** A fetch implementation; the global one by default. */
  fetch?: typeof fetch;
}

export class AuditClient {
  readonly #conn: Connection;

  constructor(options: AuditClientOptions) {
    let credentials: Credentials;
    if (options.token !== undefined) {
      credentials = { token: options.token };
    } else if (options.key !== undefined && options.secret !== undefined) {
      credentials = { key: options.key, secret: options.secret };
    } else {
      throw new TypeError('AuditClient needs either `token` or both `key` and `secret`');
    }
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('no fetch available: pass `fetch` in the options');
    this.#conn = {
      baseUrl: options.baseUrl,
      appId: options.appId,
      credentials,
      // Called unbound, browsers refuse `fetch` ("Illegal invocation").
      fetch: (input, init) => f.call(globalThis, input, init),
    };
  }

  /** One page of events, newest first unless `ordering` says otherwise. */
  events(options: ListOptions = {}): Promise<EventPage> {
    return getJson<EventPage>(this.#conn, '/events', toParams(options));
  }

  /** Every page of a selection, following `next` until the last one. */
  async *pages(options: ListOptions = {}): AsyncGenerator<EventPage> {
    let cursor = options.cursor;
    for (;;) {
      const page = await this.events({ ...options, cursor });
      yield page;
      if (!page.next) return;
      cursor = page.next;
    }
  }

  /** Every event of a selection, across all pages. */
  async *allEvents(options: ListOptions = {}): AsyncGenerator<AuditEventSummary> {
    for await (const page of this.pages(options)) yield* page.results;
  }

  /** One event in full (raw `data`, ip, user agent, library, key). */
  event(seq: number): Promise<AuditEventRecord> {
    return getJson<AuditEventRecord>(this.#conn, `/events/${encodeURIComponent(String(seq))}`, {});
  }

  /** Totals, breakdowns by action / model / user / channel, per day, recent events. */
  stats(options: StatsOptions = {}): Promise<AuditStats> {
    return getJson<AuditStats>(this.#conn, '/stats', toParams(options));
  }

  /** A user's activity: their events (paginated) and statistics. */
  userActivity(user: string, options: ActivityOptions = {}): Promise<Activity> {
    return getJson<Activity>(this.#conn, `/users/${encodeURIComponent(user)}`, toParams(options));
  }

  /** A model's activity. */
  modelActivity(model: string, options: ActivityOptions = {}): Promise<Activity> {
    return getJson<Activity>(this.#conn, `/models/${encodeURIComponent(model)}`, toParams(options));
  }

  /** One object's history. */
  objectActivity(model: string, objectId: string | number, options: ActivityOptions = {}): Promise<Activity> {
    const path = `/models/${encodeURIComponent(model)}/objects/${encodeURIComponent(String(objectId))}`;
    return getJson<Activity>(this.#conn, path, toParams(options));
  }

  /**
   * Every matching event as CSV or NDJSON, oldest first, as a byte stream (constant memory
   * on both sides). In Node, `Readable.fromWeb(stream)` turns it into a Node stream.
   */
  async export(options: ExportOptions): Promise<ReadableStream<Uint8Array>> {
    const res = await get(this.#conn, '/export', toParams(options));
    if (!res.body) throw new Error('GET /export: the response has no body');
    return res.body;
  }

  /**
   * The live stream: every event as it is recorded (matching the filters), in seq order,
   * each exactly once, across reconnects. `after: 0` replays the whole trail first.
   *
   * ```ts
   * for await (const event of client.stream({ model: 'invoice' })) console.log(event.seq);
   * ```
   */
  stream(options: StreamOptions = {}): AuditStream {
    return new AuditStream(this.#conn, options);
  }
}
