"""The official Python `pusher` library (as a Django backend uses it) against herald,
with a real pusher-js client receiving what it triggers."""

import time

import pusher
import pusher.http
import pytest
from pusher.errors import PusherBadAuth, PusherBadRequest, PusherBadStatus

from harness import wait_until

AUDIT_EVENT = {
    "action": "created",
    "model": "service",
    "object_id": 53,
    "user": "test@example.com",
    "timestamp": "2025-01-07T12:04:26.123456Z",
    "changes": {"name": {"old": None, "new": "Test Service"}, "price": {"old": None, "new": "100.00"}},
}
AUDIT_ROUTES = [("audit-channel", "model-change"), ("model-service", "change"), ("user-test@example.com", "activity")]
AUDIT_CHANNELS = [c for c, _ in AUDIT_ROUTES]


def test_trigger_reaches_pusher_js_on_each_audit_channel(pusher_client, listener):
    lst = listener(AUDIT_CHANNELS)
    for channel, event in AUDIT_ROUTES:
        assert pusher_client.trigger(channel, event, AUDIT_EVENT) == {}
        assert lst.wait_event(channel, event)["data"] == AUDIT_EVENT


def test_trigger_to_several_channels(pusher_client, listener):
    lst = listener(AUDIT_CHANNELS)
    payload = dict(AUDIT_EVENT, object_id=77)
    pusher_client.trigger(AUDIT_CHANNELS, "model-change", payload)
    for channel in AUDIT_CHANNELS:
        assert lst.wait_event(channel, "model-change")["data"] == payload


def test_trigger_batch(pusher_client, listener):
    lst = listener(AUDIT_CHANNELS)
    batch = [{"channel": c, "name": e, "data": dict(AUDIT_EVENT, object_id=200 + i)} for i, (c, e) in enumerate(AUDIT_ROUTES)]
    assert isinstance(pusher_client.trigger_batch(batch), dict)
    for i, (channel, event) in enumerate(AUDIT_ROUTES):
        assert lst.wait_event(channel, event)["data"] == dict(AUDIT_EVENT, object_id=200 + i)


def test_string_data_passes_through_unchanged(pusher_client, listener):
    """A backend that pre-serialises (json.dumps) gets exactly that JSON on the client."""
    lst = listener(["py-string-data"])
    pusher_client.trigger("py-string-data", "raw", '{"a": [1, 2, {"b": "é ✓"}]}')
    assert lst.wait_event("py-string-data", "raw")["data"] == {"a": [1, 2, {"b": "é ✓"}]}


def test_socket_id_exclusion(pusher_client, listener):
    excluded = listener(["py-exclusion"])
    included = listener(["py-exclusion"])
    pusher_client.trigger("py-exclusion", "excluded", {"n": 1}, socket_id=excluded.socket_id())
    included.wait_event("py-exclusion", "excluded")
    pusher_client.trigger("py-exclusion", "sentinel", {"n": 2})
    excluded.wait_event("py-exclusion", "sentinel")
    assert excluded.events("py-exclusion", "excluded") == []


def test_channels_info_and_channel_info_report_counts_then_zero(pusher_client, listener):
    a = listener(["py-occupied"])
    b = listener(["py-occupied", "py-occupied-2"])
    info = pusher_client.channels_info(prefix_filter="py-occupied", attributes=["subscription_count"])
    assert info == {"channels": {"py-occupied": {"subscription_count": 2}, "py-occupied-2": {"subscription_count": 1}}}
    assert "py-occupied" in pusher_client.channels_info()["channels"]
    assert pusher_client.channel_info("py-occupied", ["subscription_count"]) == {"occupied": True, "subscription_count": 2}
    a.close()
    b.close()
    wait_until(lambda: pusher_client.channel_info("py-occupied")["occupied"] is False, "py-occupied vacated")
    wait_until(lambda: pusher_client.channels_info(prefix_filter="py-occupied")["channels"] == {}, "no py-occupied* channels")


def test_wrong_secret_is_401(herald):
    with pytest.raises(PusherBadAuth):
        herald.client(secret="wrong-secret").trigger("py-auth", "e", {})


def test_stale_timestamp_is_401(herald, monkeypatch):
    """The library signs with time.time(); shift its clock 700 s into the past."""
    client = herald.client()
    real_time = time.time

    class ShiftedTime:
        @staticmethod
        def time():
            return real_time() - 700

    monkeypatch.setattr(pusher.http, "time", ShiftedTime)
    with pytest.raises(PusherBadAuth):
        client.trigger("py-stale", "e", {})
    with pytest.raises(PusherBadAuth):
        client.channels_info()
    monkeypatch.undo()
    assert client.trigger("py-stale", "e", {}) == {}


def test_oversized_data_is_413(pusher_client):
    # The library itself allows up to 30 KB (dedicated clusters); the server enforces 10 KB.
    with pytest.raises(PusherBadStatus, match="413"):
        pusher_client.trigger("py-size", "big", "x" * 10241)
    assert pusher_client.trigger("py-size", "ok", "x" * 10240) == {}


def test_unknown_app_is_404(herald):
    with pytest.raises(PusherBadStatus, match="404"):
        herald.client(app_id="999999").trigger("py-app", "e", {})


def test_reserved_event_names_are_400(pusher_client):
    for name in ["pusher:member_added", "pusher_internal:subscription_succeeded"]:
        with pytest.raises(PusherBadRequest):
            pusher_client.trigger("py-reserved", name, {})


def test_client_killed_without_close_frame_is_removed(pusher_client, listener):
    """A pusher-js process that dies (SIGKILL: no WebSocket close frame) leaves no subscriber behind."""
    doomed = listener(["py-vanishing"])
    survivor = listener(["py-vanishing"])
    assert pusher_client.channel_info("py-vanishing", ["subscription_count"])["subscription_count"] == 2
    doomed.proc.kill()
    doomed.proc.wait()
    wait_until(
        lambda: pusher_client.channel_info("py-vanishing", ["subscription_count"])["subscription_count"] == 1,
        "the killed client to be dropped",
        timeout=10,
    )
    pusher_client.trigger("py-vanishing", "after-kill", {"ok": True})
    assert survivor.wait_event("py-vanishing", "after-kill")["data"] == {"ok": True}
