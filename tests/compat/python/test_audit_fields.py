"""Issue 13 with the official Python library: the payloads of event-logger and
activity-tracker backends (shared/spec/audit-context.md) are recorded with their fields mapped
and are queryable by those fields, including `error` and `ip`; per-app `audit_fields`
overrides and `redact` rules from the TOML file apply, and a real pusher-js subscriber gets the
original payload unless `redact_delivery` is on."""

import json
import shutil

from harness import Herald, Listener
from test_audit import audit_get

EVENT_LOGGER = {
    "event_code": "permit_create",
    "content_type": "permit",
    "object_id": 812,
    "object_description": "Permit #812 (hot work)",
    "username": "site.manager",
    "level": "high",
    "status": "failed",
    "error_message": "Permit limit reached for site 4",
    "ip_address": "203.0.113.7",
    "timestamp": "2025-01-07T12:04:26.123456Z",
}
ACTIVITY_TRACKER = {
    "action_code": "login",
    "resource_type": "session",
    "user": {"id": 42, "email": "tracker@example.com", "username": "tracker"},
    "metadata": {"user_agent": "Mozilla/5.0"},
}


def test_event_logger_and_activity_tracker_payloads_are_mapped_and_queryable(pusher_client):
    pusher_client.trigger(["audit-channel"], "event-log", EVENT_LOGGER)
    pusher_client.trigger(["audit-channel", "user-tracker@example.com"], "activity", ACTIVITY_TRACKER)

    def only(params):
        page = audit_get(pusher_client, "/events", params)
        assert page["count"] == 1, (params, page)
        return page["results"][0]

    logged = only({"action": "permit_create"})
    assert logged["name"] == "event-log"
    assert (logged["model"], logged["object_id"], logged["object_repr"]) == ("permit", "812", "Permit #812 (hot work)")
    assert (logged["user"], logged["severity"], logged["status"]) == ("site.manager", "high", "failed")
    assert logged["error"] == "Permit limit reached for site 4"
    assert logged["ip"] == "203.0.113.7"
    for params in (
        {"event_code": "permit_create"},
        {"model": "permit"},
        {"user": "site.manager"},
        {"severity": "high"},
        {"status": "failed", "error": "Permit limit reached for site 4"},
        {"ip": "203.0.113.7"},
    ):
        assert only(params)["seq"] == logged["seq"], params

    tracked = only({"user": "tracker@example.com"})
    assert (tracked["action"], tracked["model"]) == ("login", "session")
    # No ip_address in the payload: the address the library connected from.
    assert tracked["ip"] == "127.0.0.1"
    assert only({"ip": "127.0.0.1", "action": "login"})["seq"] == tracked["seq"]
    detail = audit_get(pusher_client, f"/events/{tracked['seq']}")
    assert json.loads(detail["data"]) == ACTIVITY_TRACKER

    stats = audit_get(pusher_client, "/stats", {"status": "failed"})
    assert stats["by_user"] == [{"user": "site.manager", "count": 1}]


SECRET = "correct-horse-battery-staple"
CARD = "4111111111111111"
PAYLOAD = {
    "verb": "paid",
    "model": "invoice",
    "object_id": 7,
    "user": "billing@example.com",
    "password": SECRET,
    "changes": {"ssn": {"old": None, "new": "078-05-1120"}, "total": {"old": "1.00", "new": "2.00"}},
    "payment": {"card_number": CARD},
}


def toml(redact_delivery):
    return f"""
[[apps]]
id = "1"
key = "app-key"
secret = "app-secret"
redact = ["password", "changes.ssn", "*.card_number"]
redact_delivery = {str(redact_delivery).lower()}

[apps.audit_fields]
action = ["verb"]
"""


def run_redacting_herald(redact_delivery):
    """Triggers PAYLOAD with the Python library to a pusher-js subscriber; returns what the
    subscriber received, the recorded detail, and a client for more queries."""
    herald = Herald(toml=toml(redact_delivery))
    lst = None
    try:
        lst = Listener(herald, channels=["audit-channel"])
        lst.socket_id()
        lst.wait_subscribed("audit-channel")
        client = herald.client()
        client.trigger(["audit-channel"], "model-change", PAYLOAD)
        received = lst.wait_event("audit-channel", "model-change")["data"]
        page = audit_get(client, "/events", {"action": "paid"})
        assert page["count"] == 1, page
        detail = audit_get(client, f"/events/{page['results'][0]['seq']}")
        searches = {q: audit_get(client, "/events", {"q": q})["count"] for q in (SECRET, "078-05-1120", CARD)}
        return received, detail, searches
    finally:
        if lst is not None:
            lst.close()
        herald.stop()
        shutil.rmtree(herald.dir, ignore_errors=True)


def test_redacted_values_are_not_stored_and_subscribers_get_the_original():
    received, detail, searches = run_redacting_herald(redact_delivery=False)
    assert received == PAYLOAD
    stored = json.loads(detail["data"])
    assert stored["password"] == "***REDACTED***"
    assert stored["payment"] == {"card_number": "***REDACTED***"}
    assert detail["changes"]["ssn"] == {"old": None, "new": "***REDACTED***"}
    assert detail["changes"]["total"] == {"old": "1.00", "new": "2.00"}
    assert SECRET not in json.dumps(detail) and CARD not in json.dumps(detail)
    assert searches == {SECRET: 0, "078-05-1120": 0, CARD: 0}


def test_redact_delivery_also_redacts_what_subscribers_get():
    received, detail, searches = run_redacting_herald(redact_delivery=True)
    assert received["password"] == "***REDACTED***"
    assert received["payment"]["card_number"] == "***REDACTED***"
    assert received["verb"] == "paid"
    assert json.loads(detail["data"]) == received
    assert searches == {SECRET: 0, "078-05-1120": 0, CARD: 0}
