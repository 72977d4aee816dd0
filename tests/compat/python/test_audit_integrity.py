"""Issue 13, integrity: events triggered with the official Python library are hash-chained and
checkpointed; then the SQLite file is edited directly (append-only triggers dropped first, as
an intruder with file access would) and `herald audit verify` must name the first bad seq and
exit 1, or print `verified N events` and exit 0 when the file is intact.

The chain is also recomputed here from the canonical encoding as documented (crates/herald-audit
src/chain/mod.rs), which both proves the documentation and lets one test re-chain the whole
trail without the signing key, as a careful intruder would."""

import hashlib
import json
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness import HERALD_BIN, Herald
from test_audit import audit_get

EVENTS = 20
EVERY = 5  # a checkpoint at seq 5, 10, 15 and 20


def payload(i):
    return {
        "action": "created" if i % 3 else "deleted",
        "model": "service",
        "object_id": i,
        "user": "test@example.com",
        "changes": {"name": {"old": None, "new": f"Service {i}"}},
    }


@pytest.fixture(scope="module")
def pristine():
    """A store holding EVENTS events and its signing key, written by a real herald that
    then shut down cleanly. Each test edits its own copy."""
    h = Herald(extra_env={"HERALD_AUDIT_CHECKPOINT_EVERY": str(EVERY)})
    try:
        client = h.client()
        for i in range(1, EVENTS + 1):
            client.trigger(["audit-channel", "model-service"], "model-change", payload(i))
        # Through the API, signed by the library itself, while the server runs.
        report = audit_get(client, "/verify")
        assert report["ok"] is True and report["verified"] == EVENTS, report
        part = audit_get(client, "/verify", {"from": "6", "to": "12"})
        assert (part["ok"], part["from"], part["to"], part["verified"]) == (True, 6, 12, 7), part
        # The checkpoint covering seq 20 is signed just after the 20th trigger is answered.
        deadline = time.monotonic() + 5
        while len((listed := audit_get(client, "/checkpoints"))["checkpoints"]) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [c["seq"] for c in listed["checkpoints"]] == [5, 10, 15, 20], listed
        assert listed["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
        (h.dir / "api-checkpoints.json").write_text(json.dumps(listed))
    finally:
        h.stop()
    yield h.dir
    shutil.rmtree(h.dir, ignore_errors=True)


@pytest.fixture
def store(pristine):
    d = Path(tempfile.mkdtemp(prefix="herald-tamper-"))
    for name in ("audit.db", "herald-audit-signing.pem", "api-checkpoints.json"):
        shutil.copy(pristine / name, d / name)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def verify(d, *extra):
    return subprocess.run(
        [str(HERALD_BIN), "audit", "verify", "--db", f"sqlite://{d / 'audit.db'}", "--app", "1", *extra],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )


def tamper(d, *statements):
    """Runs SQL on the file with every append-only trigger dropped first."""
    db = sqlite3.connect(d / "audit.db")
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    for s in statements:
        if isinstance(s, tuple):
            db.execute(*s)
        else:
            db.execute(s)
    db.commit()
    return db


def assert_detected(result, seq, kind):
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"seq {seq}: {kind}" in result.stdout, result.stdout + result.stderr
    assert "verified" not in result.stdout.split(":")[0]


# The canonical encoding v1, written from its documentation.
def text(value):
    if value is None:
        return b"\x00"
    raw = value.encode()
    return b"\x01" + struct.pack(">I", len(raw)) + raw


COLUMNS = (
    "app_id, received_at, name, channels, data, socket_id, client_ip, user_agent, library, auth_key, "
    "idempotency_key, action, model, object_id, object_repr, user, timestamp, severity, status, changes, error, ip"
)


def canonical(row):
    (app_id, received_at, name, channels, data, *rest) = row
    chans = json.loads(channels)
    out = b"herald-audit-event-v1\x00" + text(app_id) + struct.pack(">q", received_at) + text(name)
    out += struct.pack(">I", len(chans)) + b"".join(text(c) for c in chans)
    out += text(data)
    for value in rest:
        out += text(value)
    return out


def rows(db):
    return db.execute(f"SELECT seq, content_hash, hash, {COLUMNS} FROM events WHERE app_id = '1' ORDER BY seq").fetchall()


def test_an_intact_trail_verifies_with_its_checkpoints(store):
    result = verify(store)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"verified {EVENTS} events"), result.stdout
    assert f"{EVENTS // EVERY} signed checkpoints" in result.stdout


def test_the_documented_encoding_reproduces_every_stored_hash(store):
    db = sqlite3.connect(store / "audit.db")
    prev = bytes(32)
    for seq, content_hash, chain_hash, *fields in rows(db):
        assert hashlib.sha256(canonical(fields)).digest() == content_hash, f"seq {seq}"
        prev = hashlib.sha256(prev + content_hash).digest()
        assert prev == chain_hash, f"seq {seq}"
    (last_seq, last_hash) = db.execute("SELECT last_seq, last_hash FROM chain_heads WHERE app_id = '1'").fetchone()
    assert (last_seq, last_hash) == (EVENTS, prev)


def test_a_changed_payload_is_detected(store):
    tamper(store, "UPDATE events SET data = replace(data, 'Service 7', 'Service 70') WHERE seq = 7")
    assert_detected(verify(store), 7, "changed")


def test_a_changed_extracted_field_is_detected(store):
    tamper(store, "UPDATE events SET action = 'viewed' WHERE seq = 9")
    assert_detected(verify(store), 9, "changed")


def test_a_deleted_row_is_detected(store):
    tamper(store, "DELETE FROM events WHERE seq = 5")
    assert_detected(verify(store), 5, "missing")


def test_two_swapped_rows_are_detected(store):
    tamper(
        store,
        "UPDATE events SET seq = -4 WHERE app_id = '1' AND seq = 4",
        "UPDATE events SET seq = 4 WHERE app_id = '1' AND seq = 11",
        "UPDATE events SET seq = 11 WHERE app_id = '1' AND seq = -4",
    )
    result = verify(store)
    assert_detected(result, 4, "reordered")
    assert "recorded at seq 11" in result.stdout


def test_an_inserted_row_is_detected_even_with_correct_hashes(store):
    db = sqlite3.connect(store / "audit.db")
    original = rows(db)
    db.close()
    # A forged event at seq 8: its own content hash and link are computed correctly (the
    # algorithm is public); later events are renumbered to make room.
    forged = list(original[6][3:])  # seq 7's fields
    forged[4] = json.dumps({"action": "approved", "model": "invoice", "object_id": 1})
    forged[11], forged[12] = "approved", "invoice"
    content = hashlib.sha256(canonical(forged)).digest()
    link = hashlib.sha256(original[6][2] + content).digest()
    db = tamper(
        store,
        "UPDATE events SET seq = seq + 1000 WHERE app_id = '1' AND seq >= 8",
        "UPDATE events SET seq = seq - 999 WHERE app_id = '1' AND seq >= 1000",
    )
    db.execute(
        f"INSERT INTO events (seq, content_hash, hash, {COLUMNS}) VALUES ({', '.join('?' * 25)})",
        (8, content, link, *forged),
    )
    db.commit()
    assert_detected(verify(store), 8, "inserted")


def test_a_truncated_tail_is_detected_through_the_checkpoint(store):
    db = tamper(store, "DELETE FROM events WHERE app_id = '1' AND seq > 17")
    # A careful intruder also moves the head back, so only the signed checkpoint at 20 remains.
    (h17,) = db.execute("SELECT hash FROM events WHERE app_id = '1' AND seq = 17").fetchone()
    db.execute("UPDATE chain_heads SET last_seq = 17, last_hash = ? WHERE app_id = '1'", (h17,))
    db.commit()
    result = verify(store)
    assert_detected(result, 18, "tail truncated")
    assert "checkpoint covers seq 20" in result.stdout


def test_a_complete_rechain_without_the_key_is_detected(store):
    db = sqlite3.connect(store / "audit.db")
    original = rows(db)
    db.close()
    db = tamper(store, "UPDATE events SET data = replace(data, 'Service 7', 'Service 70') WHERE seq = 7")
    prev = original[5][2]  # seq 6's hash
    for seq, _, _, *fields in rows(db)[6:]:
        content = hashlib.sha256(canonical(fields)).digest()
        prev = hashlib.sha256(prev + content).digest()
        db.execute("UPDATE events SET content_hash = ?, hash = ? WHERE app_id = '1' AND seq = ?", (content, prev, seq))
    db.execute("UPDATE chain_heads SET last_hash = ? WHERE app_id = '1'", (prev,))
    db.commit()
    # Every row agrees with its neighbours now; only the signature of the checkpoint at seq 10 can tell.
    assert_detected(verify(store), 10, "chain recomputed without the signing key")


def test_a_forged_checkpoint_signature_is_detected(store):
    db = tamper(store)
    db.execute("UPDATE checkpoints SET signature = zeroblob(64) WHERE app_id = '1' AND seq = 15")
    db.commit()
    assert_detected(verify(store), 15, "bad checkpoint signature")


def test_public_key_and_an_auditors_copy_of_the_checkpoints(store):
    key = subprocess.run(
        [str(HERALD_BIN), "audit", "public-key", "--db", f"sqlite://{store / 'audit.db'}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert key.startswith("-----BEGIN PUBLIC KEY-----"), key
    (store / "public.pem").write_text(key)
    # The auditor's copy: what GET /apps/1/audit/checkpoints answered while the server ran.
    shutil.copy(store / "api-checkpoints.json", store / "checkpoints.json")
    ok = verify(store, "--public-key", str(store / "public.pem"), "--checkpoints", str(store / "checkpoints.json"))
    assert ok.returncode == 0 and ok.stdout.startswith(f"verified {EVENTS} events"), ok.stdout + ok.stderr
    # The intruder deletes the tail, the head and every checkpoint in the store: the copy still tells.
    db = tamper(store, "DELETE FROM events WHERE seq > 12", "DELETE FROM checkpoints")
    (h12,) = db.execute("SELECT hash FROM events WHERE seq = 12").fetchone()
    db.execute("UPDATE chain_heads SET last_seq = 12, last_hash = ?", (h12,))
    db.commit()
    alone = verify(store, "--public-key", str(store / "public.pem"))
    assert alone.returncode == 0, "without the copy the shortened trail looks whole"
    assert_detected(
        verify(store, "--public-key", str(store / "public.pem"), "--checkpoints", str(store / "checkpoints.json")),
        13,
        "tail truncated",
    )
