"""Triggers audit events with the official `pusher` Python library, as a Django backend does.

Used by the Node suites that need Python-triggered events (the dashboard test):

    python3 trigger.py PORT APP_ID KEY SECRET '[{"channels": [...], "event": "...", "data": {...}}, ...]'

Prints the number of events triggered; exits non-zero (with the library's error) on failure.
"""

import json
import sys

import pusher


def main():
    port, app_id, key, secret, events = sys.argv[1:6]
    client = pusher.Pusher(app_id=app_id, key=key, secret=secret, host="127.0.0.1", port=int(port), ssl=False)
    triggered = 0
    for event in json.loads(events):
        client.trigger(event["channels"], event["event"], event["data"])
        triggered += 1
    print(triggered)


if __name__ == "__main__":
    main()
