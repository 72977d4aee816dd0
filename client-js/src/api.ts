/**
 * The `herald-client/api` entry point: everything but [`connect`], so that code that only
 * reads the audit trail (a dashboard, a backend job) does not load pusher-js.
 */

export { AuditClient, type AuditClientOptions } from './client.js';
export { AuditApiError } from './errors.js';
export {
  type AuditEvent,
  type AuditEventRecord,
  type AuditEventSummary,
  type Change,
  type Changes,
  normalizeChanges,
  parseAuditEvent,
} from './event.js';
export { md5Hex } from './md5.js';
export { hmacSha256Hex, type SignInput, signedParams, stringToSign } from './signature.js';
export { AuditStream, type CutOff } from './stream.js';
export {
  type AuditEventSource,
  type AuditHandler,
  type AuditSelection,
  type ChannelLike,
  type PusherLike,
  subscribeAudit,
} from './subscribe.js';
export type {
  Activity,
  ActivityOptions,
  AuditFilters,
  AuditStats,
  EventPage,
  ExportOptions,
  ListOptions,
  Ordering,
  StatsOptions,
  StreamOptions,
} from './types.js';
