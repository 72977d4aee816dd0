// The dashboard's access to herald. The audit API (events, one event, statistics, activity,
// export, the live stream) goes through client-js's `AuditClient` (imported from its
// sources in ../client-js, bundled in); the two dashboard-only endpoints — the app list and
// the server view — are plain `fetch`es here. Every URL is relative to the page
// (`/dashboard/`), so a reverse proxy may mount herald under any path prefix.

import {
  type Activity,
  AuditApiError,
  AuditClient,
  type AuditEventRecord,
  type AuditEventSummary,
  type AuditStats,
  type AuditStream,
  type Change,
  type EventPage,
  type ListOptions,
} from "../../client-js/src/api.js";

export type { Activity, Change, EventPage };
export { AuditApiError };

/** Fields herald records that client-js does not type yet (schema 2: `error`, `ip`). */
interface Schema2 {
  error?: string | null;
  ip?: string | null;
}
export type EventSummary = AuditEventSummary & Schema2;
export type EventRecord = AuditEventRecord & Schema2;
export type Stats = AuditStats;

export interface ServerView {
  app_id: string;
  node_id: string;
  cluster: boolean;
  node_connections: number;
  channels_total: number;
  subscriptions_total: number;
  channels: { name: string; subscription_count: number; user_count?: number }[];
  presence: { channel: string; user_count: number; members: string[] }[];
}

export interface AppEntry {
  id: string;
  enabled: boolean;
  audit_token: boolean;
}

export interface AppList {
  apps: AppEntry[];
  audit_enabled: boolean;
}

/** `GET …/audit/verify`: the hash chain recomputed over a seq range. */
export interface VerifyReport {
  app_id: string;
  ok: boolean;
  from: number;
  to: number;
  verified: number;
  pruned: number;
  checkpoints: number;
  problem: { seq: number; kind: string; message: string } | null;
  warnings: string[];
}

export interface Checkpoint {
  seq: number;
  hash: string;
  created_at: string;
  public_key: string;
  signature: string;
}

/** `GET …/audit/checkpoints`: signed checkpoints, oldest first. */
export interface CheckpointPage {
  app_id: string;
  public_key: string | null;
  public_key_pem: string | null;
  checkpoints: Checkpoint[];
  next: number | null;
}

/** Query parameters as the API names them; empty values are left out. */
export type Query = Record<string, string | number | undefined | null>;

/** Drops empty values (the API treats them as absent anyway; the URL stays readable). */
function clean(query: Query): ListOptions {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && String(v).trim() !== "") out[k] = v;
  }
  return out as ListOptions;
}

/** True for a refused token. */
export function isUnauthorized(e: unknown): e is AuditApiError {
  return e instanceof AuditApiError && e.status === 401;
}

/** herald's own reason, without client-js's "GET /events: HTTP 401: " prefix. */
export function reason(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/^GET \S+: (HTTP \d+: )?/, "");
}

/** The URL herald is served from, as client-js wants it (`http://host[:port][/prefix]`). */
function baseUrl(): string {
  return new URL("..", location.href).href.replace(/\/+$/, "");
}

/** GET a dashboard endpoint; failures become `AuditApiError`s like the audit API's. */
async function getJson<T>(path: string, token: string | null): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      headers: token ? { Authorization: `Bearer ${token}`, Accept: "application/json" } : { Accept: "application/json" },
      cache: "no-store",
    });
  } catch {
    throw new AuditApiError(0, "herald could not be reached (it may be restarting, or the network is down)");
  }
  if (!res.ok) throw await AuditApiError.fromResponse(res, `GET ${path}`);
  return (await res.json()) as T;
}

/** The apps herald serves (ids only; no secret ever leaves the server). */
export function listApps(): Promise<AppList> {
  return getJson<AppList>("apps", null);
}

/** One app's audit API and server view, with its token. */
export class Api {
  private readonly client: AuditClient;

  constructor(
    readonly appId: string,
    private readonly token: string,
  ) {
    this.client = new AuditClient({ baseUrl: baseUrl(), appId, token });
  }

  events(query: Query): Promise<EventPage> {
    return this.client.events(clean(query));
  }

  event(seq: number | string): Promise<EventRecord> {
    return this.client.event(Number(seq));
  }

  stats(query: Query): Promise<Stats> {
    return this.client.stats(clean(query));
  }

  user(user: string, query: Query = {}): Promise<Activity> {
    return this.client.userActivity(user, clean(query));
  }

  model(model: string, query: Query = {}): Promise<Activity> {
    return this.client.modelActivity(model, clean(query));
  }

  object(model: string, objectId: string, query: Query = {}): Promise<Activity> {
    return this.client.objectActivity(model, objectId, clean(query));
  }

  /**
   * The live stream after `after` (see feed.ts). `connected` hears of every connection
   * attempt — true once herald answers, false with the reason when it cannot be reached —
   * which the stream's iterator itself does not expose.
   */
  stream(after: number, filters: Query, signal: AbortSignal, connected: (ok: boolean, why?: string) => void): AuditStream {
    const watched: typeof fetch = async (input, init) => {
      try {
        const res = await fetch(input, init);
        // 4xx ends the stream with an error of its own; only 5xx means "retrying".
        if (res.ok || res.status >= 500) connected(res.ok, res.ok ? undefined : `herald answered ${res.status}`);
        return res;
      } catch (e) {
        if (!signal.aborted) connected(false, "herald could not be reached (it may be restarting)");
        throw e;
      }
    };
    const client = new AuditClient({ baseUrl: baseUrl(), appId: this.appId, token: this.token, fetch: watched });
    return client.stream({ ...clean(filters), after, signal, maxBackoffMs: 4000 });
  }

  /** Every event of the filter as CSV or NDJSON, streamed. */
  export(query: Query & { format: "csv" | "ndjson" }): Promise<ReadableStream<Uint8Array>> {
    return this.client.export({ ...clean(query), format: query.format });
  }

  /** `GET …/audit/verify`: recomputes the hash chain (reads every event in the range). */
  verify(): Promise<VerifyReport> {
    return getJson<VerifyReport>(this.auditUrl("verify"), this.token);
  }

  /** `GET …/audit/checkpoints?after=SEQ`: up to 1000 signed checkpoints, oldest first. */
  checkpoints(after = 0): Promise<CheckpointPage> {
    return getJson<CheckpointPage>(this.auditUrl("checkpoints", { after }), this.token);
  }

  private auditUrl(path: string, query: Record<string, number> = {}): string {
    const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
    return `../apps/${encodeURIComponent(this.appId)}/audit/${path}${params ? `?${params}` : ""}`;
  }

  server(): Promise<ServerView> {
    return getJson(`../apps/${encodeURIComponent(this.appId)}/server`, this.token);
  }
}
