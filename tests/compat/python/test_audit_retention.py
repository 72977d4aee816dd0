"""Issue 13, retention: `[[apps.retention]]` rules applied by `herald audit prune` against the
store of a running herald (events triggered with the official Python library). A dry run
changes nothing; a real run removes exactly the rule's events from the API; the chain still
verifies; the run is recorded in the trail."""

import json
import subprocess
from datetime import datetime, timedelta, timezone

from harness import APP_ID, APP_KEY, APP_SECRET, HERALD_BIN, Herald
from test_audit import audit_get

CONFIG = f"""
[[apps]]
id = "{APP_ID}"
key = "{APP_KEY}"
secret = "{APP_SECRET}"

[[apps.retention]]
model = "User"
days = 90

[[apps.retention]]
channel_prefix = "user-"
days = 30

[[apps.retention]]
default_days = 365
"""


def herald_cli(h, *args):
    return subprocess.run(
        [str(HERALD_BIN), "audit", *args, "--db", f"sqlite://{h.dir / 'audit.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HERALD_CONFIG": str(h.dir / "herald.toml")},
    )


def test_prune_dry_run_then_real_run_keeps_the_chain_and_records_itself():
    h = Herald(toml=CONFIG)
    try:
        client = h.client()
        for i in range(3):  # seq 1-3: the User rule (90 days)
            client.trigger("audit-channel", "model-change", {"action": "updated", "model": "user", "object_id": i})
        for i in range(2):  # seq 4-5: the user- prefix rule (30 days)
            client.trigger(["audit-channel", "user-bob@example.com"], "activity", {"action": "login", "model": "session"})
        for i in range(2):  # seq 6-7: the default (365 days)
            client.trigger("audit-channel", "model-change", {"action": "created", "model": "invoice", "object_id": i})

        # 100 days from now the User and user- rules have expired, the default has not.
        as_of = (datetime.now(timezone.utc) + timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
        dry = herald_cli(h, "prune", "--dry-run", "--as-of", as_of)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert 'would prune 3 events (seq 1..3) under model = "User", days = 90' in dry.stdout, dry.stdout
        assert 'would prune 2 events (seq 4..5) under channel_prefix = "user-", days = 30' in dry.stdout, dry.stdout
        assert audit_get(client, "/events")["count"] == 7, "a dry run changes nothing"
        assert audit_get(client, "/events", {"model": "user"})["count"] == 3

        # The real run, while the server keeps running and recording.
        real = herald_cli(h, "prune", "--as-of", as_of)
        assert real.returncode == 0, real.stdout + real.stderr
        assert 'pruned 3 events (seq 1..3) under model = "User", days = 90' in real.stdout, real.stdout
        client.trigger("audit-channel", "model-change", {"action": "created", "model": "invoice", "object_id": 9})

        page = audit_get(client, "/events", {"ordering": "seq"})
        seqs = [r["seq"] for r in page["results"]]
        # 6-7 kept, 8-9 the two prune records (written by the CLI), 10 recorded by the server after it.
        assert seqs == [6, 7, 8, 9, 10], page
        assert audit_get(client, "/events", {"model": "user"})["count"] == 0
        assert audit_get(client, "/events", {"channel": "user-bob@example.com"})["count"] == 0
        assert audit_get(client, "/stats")["total"] == 5

        records = audit_get(client, "/events", {"event": "herald:audit-pruned", "ordering": "seq"})["results"]
        details = [json.loads(audit_get(client, f"/events/{r['seq']}")["data"]) for r in records]
        assert details == [
            {"action": "pruned", "rule": 'model = "User", days = 90', "count": 3, "first_seq": 1, "last_seq": 3},
            {"action": "pruned", "rule": 'channel_prefix = "user-", days = 30', "count": 2, "first_seq": 4, "last_seq": 5},
        ]

        report = audit_get(client, "/verify")
        assert (report["ok"], report["verified"], report["pruned"]) == (True, 10, 5), report
    finally:
        h.stop()
    verified = herald_cli(h, "verify", "--app", APP_ID)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("verified 10 events"), verified.stdout
