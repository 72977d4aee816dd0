/**
 * herald-client: pusher-js configured for herald ([`connect`]), typed audit events from
 * `audit-channel` / `model-*` / `user-*` ([`subscribeAudit`]), the audit API
 * ([`AuditClient`]) and its resumable live stream ([`AuditClient.stream`]).
 */

export * from './api.js';
export { type ConnectOptions, connect } from './connect.js';
