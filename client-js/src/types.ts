/**
 * The audit API's request options and response bodies, as herald serves them under
 * `/apps/{id}/audit/…` (see the top-level README's audit section).
 */

import type { AuditEventSummary } from './event.js';

/** The filters every audit endpoint accepts. Dates are a `YYYY-MM-DD` day or RFC 3339. */
export interface AuditFilters {
  action?: string;
  model?: string;
  user?: string;
  channel?: string;
  /** The Pusher event name. */
  event?: string;
  object_id?: string | number;
  severity?: string;
  status?: string;
  /** Received at or after (a day, an instant, or a Date). */
  from?: string | Date;
  /** Received up to and including (a whole day when given as a day). */
  to?: string | Date;
  /** The last N days up to now (conflicts with `from`). */
  days?: number;
  /** Full-text search over data, model, user, object_repr, event name and channels. */
  q?: string;
}

export type Ordering = 'time' | '-time' | 'seq' | '-seq';

/** A page request on a list endpoint. */
export interface ListOptions extends AuditFilters {
  ordering?: Ordering;
  /** 1–1000, default 50. */
  limit?: number;
  /** The previous page's `next`. */
  cursor?: string;
}

/** One page of a selection. */
export interface EventPage {
  /** Every event matching the filter, across all pages. */
  count: number;
  /** The cursor of the following page; null on the last one. */
  next: string | null;
  results: AuditEventSummary[];
}

export interface StatsOptions extends AuditFilters {
  /** Rows per breakdown (default 10). */
  top?: number;
  /** Recent events listed (0–100, default 10). */
  recent?: number;
}

export interface AuditStats {
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
  recent: AuditEventSummary[];
}

/** A user's, a model's or an object's activity: a page of events plus their statistics. */
export interface Activity extends EventPage {
  user?: string;
  model?: string;
  object_id?: string;
  stats: AuditStats;
}

export type ActivityOptions = ListOptions & Pick<StatsOptions, 'top'>;

export interface ExportOptions extends AuditFilters {
  format: 'csv' | 'ndjson';
  ordering?: Ordering;
}

/** Options of [`AuditClient.stream`]. */
export interface StreamOptions extends AuditFilters {
  /**
   * Start after this seq: `0` replays the whole trail, then follows it live. Omitted, the
   * stream starts with the events recorded from now on.
   */
  after?: number;
  /**
   * Reconnect when nothing (not even a heartbeat) arrived for this long. Default 45 000 ms,
   * three of herald's default 15 s heartbeats.
   */
  idleTimeoutMs?: number;
  /** Longest wait between reconnection attempts (default 5000 ms). */
  maxBackoffMs?: number;
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
}
