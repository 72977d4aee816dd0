// The dashboard's access to herald: the audit API under `apps/{id}/audit/`, the server view
// and the app list, with the app's bearer token. URLs are relative to the page
// (`/dashboard/`), so a reverse proxy may mount herald under any prefix.

export interface Change {
  old: unknown;
  new: unknown;
}

export interface EventSummary {
  seq: number;
  received_at: string;
  name: string;
  channels: string[];
  action: string | null;
  model: string | null;
  object_id: string | null;
  object_repr: string | null;
  user: string | null;
  timestamp: string | null;
  severity: string | null;
  status: string | null;
  changes: Record<string, Change> | null;
}

export interface EventRecord extends EventSummary {
  app_id: string;
  data: string;
  socket_id: string | null;
  client_ip: string | null;
  user_agent: string | null;
  library: string | null;
  auth_key: string;
  idempotency_key: string | null;
}

export interface EventPage {
  count: number;
  next: string | null;
  results: EventSummary[];
}

export interface Stats {
  total: number;
  today: number;
  last_7_days: number;
  last_30_days: number;
  range: { from: string | null; to: string | null; count: number };
  by_action: { action: string; count: number }[];
  by_model: { model: string; count: number }[];
  by_user: { user: string; count: number }[];
  by_channel: { channel: string; count: number }[];
  per_day: { day: string; count: number }[];
  recent: EventSummary[];
}

export interface Activity extends EventPage {
  user?: string;
  model?: string;
  object_id?: string;
  stats: Stats;
}

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

/** Query parameters; empty values are left out (the API treats them as absent anyway). */
export type Query = Record<string, string | number | undefined | null>;

/** A refused or failed request. `status` 0 means herald could not be reached at all. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly parameter: string | null = null,
  ) {
    super(message);
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }

  get unreachable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && String(v).trim() !== "") params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

/** Turns a non-2xx answer into an ApiError with herald's own reason. */
async function failure(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: string; parameter?: string };
    if (body && typeof body.error === "string") return new ApiError(res.status, body.error, body.parameter ?? null);
  } catch {
    // herald's Pusher-style errors are plain text
  }
  return new ApiError(res.status, text.trim() || `${res.status} ${res.statusText}`);
}

/** GET a JSON document; network failures become `ApiError(0, …)`. */
async function getJson<T>(url: string, token: string | null, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: token ? { Authorization: `Bearer ${token}`, Accept: "application/json" } : { Accept: "application/json" },
      cache: "no-store",
      signal,
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError(0, "herald could not be reached (it may be restarting, or the network is down)");
  }
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** The apps herald serves (ids only; no secret ever leaves the server). */
export function listApps(): Promise<AppList> {
  return getJson<AppList>("apps", null);
}

/** One app's audit API and server view, with its token. */
export class Api {
  constructor(
    readonly appId: string,
    private readonly token: string,
  ) {}

  private audit(path: string, query: Query = {}): string {
    return `../apps/${encodeURIComponent(this.appId)}/audit${path}${queryString(query)}`;
  }

  events(query: Query, signal?: AbortSignal): Promise<EventPage> {
    return getJson(this.audit("/events", query), this.token, signal);
  }

  event(seq: number | string): Promise<EventRecord> {
    return getJson(this.audit(`/events/${encodeURIComponent(String(seq))}`), this.token);
  }

  stats(query: Query, signal?: AbortSignal): Promise<Stats> {
    return getJson(this.audit("/stats", query), this.token, signal);
  }

  user(user: string, query: Query = {}): Promise<Activity> {
    return getJson(this.audit(`/users/${encodeURIComponent(user)}`, query), this.token);
  }

  model(model: string, query: Query = {}): Promise<Activity> {
    return getJson(this.audit(`/models/${encodeURIComponent(model)}`, query), this.token);
  }

  object(model: string, objectId: string, query: Query = {}): Promise<Activity> {
    return getJson(
      this.audit(`/models/${encodeURIComponent(model)}/objects/${encodeURIComponent(objectId)}`, query),
      this.token,
    );
  }

  server(signal?: AbortSignal): Promise<ServerView> {
    return getJson(`../apps/${encodeURIComponent(this.appId)}/server`, this.token, signal);
  }

  /** Starts an export; the caller reads the body as a stream. */
  async export(query: Query, signal?: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.audit("/export", query), {
        headers: { Authorization: `Bearer ${this.token}` },
        cache: "no-store",
        signal,
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new ApiError(0, "herald could not be reached (it may be restarting, or the network is down)");
    }
    if (!res.ok) throw await failure(res);
    return res;
  }
}
