"""The official Python library: triggered events are recorded and queryable
through signed requests made by the library itself, and acknowledged events survive kill -9."""

import json
import signal

from pusher.http import GET, Request

from harness import Herald

AUDIT = {
    "action": "created",
    "model": "service",
    "object_id": 53,
    "user": "test@example.com",
    "timestamp": "2025-01-07T12:04:26.123456Z",
    "changes": {"name": {"old": None, "new": "Test Service"}},
}


def audit_get(client, path, params=None):
    """A GET signed by the library's own request signer (as `channels_info` is)."""
    inner = client._pusher_client
    request = Request(inner, GET, f"/apps/{inner.app_id}/audit{path}", params or {})
    return inner.http.send_request(request)


def test_python_triggers_are_recorded_and_queryable(pusher_client, listener):
    lst = listener(channels=["audit-channel"])
    pusher_client.trigger(["audit-channel", "model-service", "user-test@example.com"], "model-change", AUDIT)
    pusher_client.trigger_batch(
        [
            {"channel": "audit-channel", "name": "model-change", "data": json.dumps({**AUDIT, "action": "deleted"})},
            {"channel": "misc", "name": "note", "data": "plain text"},
        ]
    )
    lst.wait_for(lambda _: len(lst.events("audit-channel", "model-change")) == 2, "two audit events")

    page = audit_get(pusher_client, "/events", {"ordering": "seq"})
    assert page["count"] == 3
    first, second, third = page["results"]
    assert first["channels"] == ["audit-channel", "model-service", "user-test@example.com"]
    assert (first["action"], first["model"], first["object_id"], first["user"]) == ("created", "service", "53", "test@example.com")
    assert second["action"] == "deleted"
    assert third["name"] == "note" and third["action"] is None

    detail = audit_get(pusher_client, f"/events/{first['seq']}")
    assert json.loads(detail["data"]) == AUDIT
    assert "pusher-http-python" in (detail["library"] or "")
    assert detail["changes"] == {"name": {"old": None, "new": "Test Service"}}

    deleted = audit_get(pusher_client, "/events", {"action": "deleted"})
    assert [r["seq"] for r in deleted["results"]] == [second["seq"]]
    model = audit_get(pusher_client, "/models/service")
    assert "service" in json.dumps(model)


def test_acknowledged_events_survive_kill_9(tmp_path):
    db = tmp_path / "audit.db"
    env = {"HERALD_AUDIT_URL": f"sqlite://{db}"}
    first = Herald(extra_env=env)
    try:
        client = first.client()
        for i in range(200):
            client.trigger("audit-channel", "model-change", {**AUDIT, "object_id": i})
        # Every trigger above returned 200: kill without any chance to flush.
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
    finally:
        first.stop()
    second = Herald(extra_env=env)
    try:
        client = second.client()
        page = audit_get(client, "/events", {"ordering": "seq", "limit": "1000"})
        assert page["count"] == 200
        assert [int(r["object_id"]) for r in page["results"]] == list(range(200))
        assert [r["seq"] for r in page["results"]] == list(range(1, 201))
    finally:
        second.stop()
