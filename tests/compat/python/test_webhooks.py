"""Issue 11: webhooks validated by the official Python library's `validate_webhook` (key,
signature and the 5-minute `time_ms` window), caused by real pusher-js clients."""

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import Herald, Listener, wait_until


class Receiver:
    """An HTTP server that validates every POST with `validate_webhook` and keeps the events."""

    def __init__(self, pusher_client):
        self.events = []
        self.invalid = 0
        self.content_types = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.content_types.append(self.headers["Content-Type"])
                data = pusher_client.validate_webhook(
                    key=self.headers["X-Pusher-Key"],
                    signature=self.headers["X-Pusher-Signature"],
                    body=body,
                )
                if data is None:
                    receiver.invalid += 1
                    self.send_response(401)
                else:
                    receiver.events.extend(data["events"])
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def names(self, channel):
        return [e["name"] for e in self.events if e["channel"] == channel]

    def close(self):
        self.server.shutdown()


@pytest.fixture
def hooked():
    # The receiver needs a Pusher client for validation before herald runs: the credentials
    # are herald's defaults in the harness, so a throwaway object with them works.
    import pusher

    validator = pusher.Pusher(app_id="1", key="app-key", secret="app-secret")
    receiver = Receiver(validator)
    types = ["channel_occupied", "channel_vacated", "member_added", "member_removed"]
    herald = Herald(extra_env={"HERALD_APP_WEBHOOKS": json.dumps([{"url": receiver.url, "event_types": types}])})
    yield herald, receiver
    herald.stop()
    receiver.close()
    shutil.rmtree(herald.dir, ignore_errors=True)


def test_validate_webhook_accepts_every_post(hooked):
    herald, receiver = hooked
    listener = Listener(herald, channels=["presence-py-hooks"], presence_user_id="py-user")
    try:
        listener.socket_id()
        listener.wait_subscribed("presence-py-hooks")
        wait_until(lambda: "member_added" in receiver.names("presence-py-hooks"), "member_added")
    finally:
        listener.close()
    wait_until(lambda: "channel_vacated" in receiver.names("presence-py-hooks"), "channel_vacated", timeout=8)
    assert receiver.names("presence-py-hooks") == [
        "channel_occupied",
        "member_added",
        "member_removed",
        "channel_vacated",
    ]
    added = next(e for e in receiver.events if e["name"] == "member_added")
    assert added == {"name": "member_added", "channel": "presence-py-hooks", "user_id": "py-user"}
    assert receiver.invalid == 0
    assert set(receiver.content_types) == {"application/json"}
