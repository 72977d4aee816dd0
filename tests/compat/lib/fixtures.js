'use strict';
// Payloads and channel names from the product brief: what a Django backend really publishes.

/** The brief's model-change audit event, exactly as a backend sends it. */
const AUDIT_EVENT = Object.freeze({
  action: 'created',
  model: 'service',
  object_id: 53,
  user: 'test@example.com',
  timestamp: '2025-01-07T12:04:26.123456Z',
  changes: { name: { old: null, new: 'Test Service' }, price: { old: null, new: '100.00' } },
});

/** [channel, event] pairs the backend publishes every audit event to. */
const AUDIT_ROUTES = Object.freeze([
  ['audit-channel', 'model-change'],
  ['model-service', 'change'],
  ['user-test@example.com', 'activity'],
]);

module.exports = { AUDIT_EVENT, AUDIT_ROUTES };
