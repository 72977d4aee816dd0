/**
 * [`subscribeAudit`]: typed audit events from the channels backends publish them on —
 * `audit-channel` (event `model-change`), `model-{model}` (`change`) and `user-{user}`
 * (`activity`) — through an existing pusher-js connection.
 */

import { type AuditEvent, parseAuditEvent } from './event.js';

/** The part of a pusher-js channel used here. */
export interface ChannelLike {
  bind(event: string, callback: (data: unknown) => void): unknown;
  unbind(event?: string, callback?: (data: unknown) => void): unknown;
}

/** The part of a pusher-js instance used here. */
export interface PusherLike {
  subscribe(channelName: string): ChannelLike;
  unsubscribe(channelName: string): void;
}

/** Which audit events to receive. */
export interface AuditSelection {
  /** Only this model's events (channel `model-{model}`). */
  model?: string;
  /** Only this user's events (channel `user-{user}`; with `model`, filtered client-side). */
  user?: string;
}

/** Where an event came from. */
export interface AuditEventSource {
  channel: string;
  event: string;
}

export type AuditHandler = (event: AuditEvent, source: AuditEventSource) => void;

/**
 * Subscribes to the audit channel that matches `selection` and calls `handler` with each
 * event parsed and normalised. With both `model` and `user`, listens on `model-{model}` and
 * keeps the user's events. Returns a function that unbinds and unsubscribes.
 */
export function subscribeAudit(pusher: PusherLike, selection: AuditSelection, handler: AuditHandler): () => void {
  let channelName: string;
  let eventName: string;
  if (selection.model) {
    channelName = `model-${selection.model}`;
    eventName = 'change';
  } else if (selection.user) {
    channelName = `user-${selection.user}`;
    eventName = 'activity';
  } else {
    channelName = 'audit-channel';
    eventName = 'model-change';
  }
  const wantUser = selection.model && selection.user ? selection.user : null;
  const channel = pusher.subscribe(channelName);
  const callback = (data: unknown) => {
    const event = parseAuditEvent(data);
    if (wantUser !== null && event.user !== wantUser) return;
    handler(event, { channel: channelName, event: eventName });
  };
  channel.bind(eventName, callback);
  return () => {
    channel.unbind(eventName, callback);
    pusher.unsubscribe(channelName);
  };
}
