/**
 * The shapes of audit events: what herald's audit API and stream return
 * ([`AuditEventSummary`], [`AuditEventRecord`]) and what a backend publishes on
 * `audit-channel` / `model-{m}` / `user-{u}` ([`AuditEvent`], via [`parseAuditEvent`]).
 * `changes` is always normalised to `{field: {old, new}}`, whichever of the two shapes
 * backends use (`{field: {old, new}}` or `{field: [old, new]}`) was sent.
 */

/** One field's change. */
export interface Change {
  old: unknown;
  new: unknown;
}

/** Field name → change. */
export type Changes = Record<string, Change>;

/** An audit event as a backend publishes it through Pusher, with `changes` normalised. */
export interface AuditEvent {
  action: string | null;
  model: string | null;
  object_id: string | null;
  object_repr: string | null;
  user: string | null;
  /** The `timestamp` the backend sent, verbatim. */
  timestamp: string | null;
  changes: Changes | null;
  /** The payload as received (parsed JSON, or the string when it was not JSON). */
  raw: unknown;
}

/** One recorded event as herald's list endpoints return it. */
export interface AuditEventSummary {
  /** Per-app sequence number: 1, 2, 3, … in commit order. */
  seq: number;
  /** Server receive time, RFC 3339 UTC with microseconds. */
  received_at: string;
  /** The Pusher event name. */
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
  changes: Changes | null;
}

/** One recorded event in full (`/audit/events/{seq}`, the export and the live stream). */
export interface AuditEventRecord extends AuditEventSummary {
  app_id: string;
  /** The `data` string exactly as the backend sent it. */
  data: string;
  socket_id: string | null;
  client_ip: string | null;
  user_agent: string | null;
  library: string | null;
  auth_key: string;
  idempotency_key: string | null;
}

/**
 * Normalises `changes` from `{field: {old, new}}` or `{field: [old, new]}`; a field in any
 * other shape becomes `{old: null, new: value}` so nothing is dropped (herald's extraction
 * does the same). Anything but an object is not a diff: `null`.
 */
export function normalizeChanges(value: unknown): Changes | null {
  if (!isObject(value)) return null;
  const out: Changes = {};
  for (const [field, change] of Object.entries(value)) {
    if (Array.isArray(change) && change.length === 2) {
      out[field] = { old: change[0], new: change[1] };
    } else if (isObject(change) && ('old' in change || 'new' in change)) {
      out[field] = { old: change.old ?? null, new: change.new ?? null };
    } else {
      out[field] = { old: null, new: change };
    }
  }
  return out;
}

/**
 * Reads an audit event from what pusher-js hands a handler: an object, or a JSON string
 * (pusher-js passes the string through when it is not JSON). Field aliases backends use
 * (`model_name`, `user_email`) are accepted; numbers become strings, as in herald's store.
 */
export function parseAuditEvent(data: unknown): AuditEvent {
  let parsed: unknown = data;
  if (typeof data === 'string') {
    try {
      parsed = JSON.parse(data);
    } catch {
      parsed = data;
    }
  }
  const obj = isObject(parsed) ? parsed : {};
  return {
    action: text(obj, 'action'),
    model: text(obj, 'model', 'model_name'),
    object_id: text(obj, 'object_id'),
    object_repr: text(obj, 'object_repr'),
    user: text(obj, 'user', 'user_email'),
    timestamp: text(obj, 'timestamp'),
    changes: normalizeChanges(obj.changes),
    raw: parsed,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first of `keys` holding a string, number or boolean, as text. */
function text(obj: Record<string, unknown>, ...keys: string[]): string | null {
  for (const key of keys) {
    const v = obj[key];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  }
  return null;
}
