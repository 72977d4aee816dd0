"""Protocol-parity features driven from the official Python `pusher` library, with
real pusher-js clients (lib/listen.js) on the receiving end."""

import base64
import os

from harness import wait_until

MASTER_KEY_B64 = base64.b64encode(os.urandom(32)).decode()


def test_encrypted_trigger_is_decrypted_by_pusher_js(herald, listener):
    lst = listener(["private-encrypted-py"], encryption_master_key_base64=MASTER_KEY_B64)
    client = herald.client(encryption_master_key_base64=MASTER_KEY_B64)
    payload = {"action": "updated", "model": "service", "object_id": 53, "note": "ünïcode ✓"}
    assert client.trigger("private-encrypted-py", "model-change", payload) == {}
    assert lst.wait_event("private-encrypted-py", "model-change")["data"] == payload


def test_encrypted_trigger_batch_is_decrypted_by_pusher_js(herald, listener):
    lst = listener(["private-encrypted-py-batch"], encryption_master_key_base64=MASTER_KEY_B64)
    client = herald.client(encryption_master_key_base64=MASTER_KEY_B64)
    client.trigger_batch([{"channel": "private-encrypted-py-batch", "name": "batched", "data": {"n": 3}}])
    assert lst.wait_event("private-encrypted-py-batch", "batched")["data"] == {"n": 3}


def test_presence_users_and_user_count(pusher_client, listener):
    listener(["presence-py-room"], presence_user_id="py-1")
    listener(["presence-py-room"], presence_user_id="py-2")
    listener(["presence-py-room"], presence_user_id="py-2")  # same user twice counts once
    users = pusher_client.users_info("presence-py-room")
    assert sorted(u["id"] for u in users["users"]) == ["py-1", "py-2"]
    assert pusher_client.channel_info("presence-py-room", ["user_count"]) == {"occupied": True, "user_count": 2}
    listing = pusher_client.channels_info(prefix_filter="presence-py-", attributes=["user_count"])
    assert listing == {"channels": {"presence-py-room": {"user_count": 2}}}


def test_private_channel_trigger(pusher_client, listener):
    lst = listener(["private-py-orders"])
    pusher_client.trigger("private-py-orders", "order-created", {"id": 1})
    assert lst.wait_event("private-py-orders", "order-created")["data"] == {"id": 1}


def test_cache_channel_replays_python_trigger(pusher_client, listener):
    pusher_client.trigger("cache-py-latest", "snapshot", {"version": 5})
    lst = listener(["cache-py-latest"])
    assert lst.wait_event("cache-py-latest", "snapshot")["data"] == {"version": 5}


def test_send_to_user_reaches_signed_in_pusher_js(pusher_client, listener):
    target = listener(user_id="py-user-1")
    other = listener(user_id="py-user-2")
    target.wait_for(lambda m: m["type"] == "signed_in", "sign-in of py-user-1")
    other.wait_for(lambda m: m["type"] == "signed_in", "sign-in of py-user-2")
    assert pusher_client.send_to_user("py-user-1", "notice", {"text": "hi"}) == {}
    got = target.wait_for(lambda m: m["type"] == "user_event" and m["event"] == "notice", "notice at py-user-1")
    assert got["data"] == {"text": "hi"}
    pusher_client.send_to_user("py-user-2", "sentinel", {})
    other.wait_for(lambda m: m["type"] == "user_event" and m["event"] == "sentinel", "sentinel at py-user-2")
    assert not [m for m in other.seen if m["type"] == "user_event" and m["event"] == "notice"]


def test_terminate_user_connections(pusher_client, listener):
    """The Python library posts to /users/{id}/terminate_connections (no /apps/{id} prefix)."""
    doomed = listener(user_id="py-doomed")
    survivor = listener(["py-survivor-probe"], user_id="py-survivor")
    doomed.wait_for(lambda m: m["type"] == "signed_in", "sign-in of py-doomed")
    survivor.wait_for(lambda m: m["type"] == "signed_in", "sign-in of py-survivor")
    assert pusher_client.terminate_user_connections("py-doomed") == {}
    doomed.wait_for(lambda m: m["type"] == "state" and m["current"] in ("disconnected", "unavailable", "failed"), "py-doomed to be disconnected")
    pusher_client.trigger("py-survivor-probe", "still-here", {})
    survivor.wait_event("py-survivor-probe", "still-here")
    assert not [m for m in survivor.seen if m["type"] == "state" and m["current"] in ("disconnected", "unavailable", "failed")]
    wait_until(lambda: "py-survivor-probe" in pusher_client.channels_info()["channels"], "survivor still subscribed")
