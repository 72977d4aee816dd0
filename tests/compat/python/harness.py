"""Process harness for herald's Python compatibility suite (used by conftest.py and the tests).

`herald` starts the real `target/debug/herald` on free loopback ports with a private temp
dir and waits for `GET /ready`; `pusher_client` is the official `pusher` library pointed at
it; `listener` spawns a real pusher-js client (tests/compat/lib/listen.js) whose events the
test awaits. Every process is killed at teardown; herald's log is printed for failing tests.
"""

import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pusher

COMPAT_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = COMPAT_DIR.parent.parent
HERALD_BIN = Path(os.environ.get("HERALD_BIN", REPO_ROOT / "target" / "debug" / "herald"))
LISTENER = COMPAT_DIR / "lib" / "listen.js"
DEFAULT_TIMEOUT = 5.0

APP_ID, APP_KEY, APP_SECRET = "1", "app-key", "app-secret"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Herald:
    """A running herald process."""

    def __init__(self, extra_env=None, toml=None):
        if not HERALD_BIN.exists():
            raise RuntimeError(f"herald binary not found at {HERALD_BIN}; run `cargo build --bin herald`")
        self.dir = Path(tempfile.mkdtemp(prefix="herald-compat-py-"))
        self.port = free_port()
        self.metrics_port = free_port()
        self.app_id, self.key, self.secret = APP_ID, APP_KEY, APP_SECRET
        env = dict(os.environ)
        env.update(
            HERALD_HOST="127.0.0.1",
            HERALD_PORT=str(self.port),
            HERALD_METRICS_PORT=str(self.metrics_port),
            HERALD_AUDIT_URL=f"sqlite://{self.dir / 'audit.db'}",
            HERALD_APP_ID=APP_ID,
            HERALD_APP_KEY=APP_KEY,
            HERALD_APP_SECRET=APP_SECRET,
            RUST_LOG=os.environ.get("RUST_LOG", "info"),
        )
        env.update(extra_env or {})
        args = [str(HERALD_BIN), "serve"]
        if toml:
            (self.dir / "herald.toml").write_text(toml)
            args += ["--config", str(self.dir / "herald.toml")]
        self.log_path = self.dir / "herald.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, cwd=self.dir, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def logs(self, lines=80):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"herald exited with {self.proc.returncode} before becoming ready:\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/ready", timeout=1) as res:
                    if res.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"herald not ready within {timeout}s:\n{self.logs()}")
            time.sleep(0.05)

    def client(self, **overrides):
        """The official Python library, configured like a Django settings module would."""
        kwargs = dict(app_id=self.app_id, key=self.key, secret=self.secret, host="127.0.0.1", port=self.port, ssl=False)
        kwargs.update(overrides)
        return pusher.Pusher(**kwargs)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Listener:
    """A real pusher-js client in a Node process; its JSON-line output is queued as dicts."""

    def __init__(self, herald, channels=(), user_id=None, presence_user_id=None, encryption_master_key_base64=None, key=None):
        cfg = {
            "port": herald.port,
            "appId": herald.app_id,
            "key": key or herald.key,
            "secret": herald.secret,
            "channels": list(channels),
        }
        if user_id:
            cfg["userId"] = user_id
        if presence_user_id:
            cfg["presenceUserId"] = presence_user_id
        if encryption_master_key_base64:
            cfg["encryptionMasterKeyBase64"] = encryption_master_key_base64
        self.proc = subprocess.Popen(
            ["node", str(LISTENER), json.dumps(cfg)],
            cwd=COMPAT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.seen = []
        self._queue = queue.Queue()
        self._stderr = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True).start()

    def _pump(self, stream, is_stdout):
        for line in stream:
            if not is_stdout:
                self._stderr.append(line)
                continue
            try:
                self._queue.put(json.loads(line))
            except ValueError:
                self._stderr.append(line)

    def wait_for(self, pred, what="a message", timeout=DEFAULT_TIMEOUT):
        """Returns the first message (seen before or arriving within `timeout`) matching `pred`."""
        for msg in self.seen:
            if pred(msg):
                return msg
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; saw {self.seen!r}; listener stderr: {''.join(self._stderr)[-2000:]}"
                )
            try:
                msg = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(msg)
            if pred(msg):
                return msg

    def socket_id(self):
        return self.wait_for(lambda m: m["type"] == "state" and m["current"] == "connected", "connected")["socket_id"]

    def wait_subscribed(self, *channels):
        for ch in channels:
            self.wait_for(lambda m, ch=ch: m["type"] == "subscribed" and m["channel"] == ch, f"subscription to {ch}")

    def wait_event(self, channel, event, what=None):
        return self.wait_for(
            lambda m: m["type"] == "event" and m["channel"] == channel and m["event"] == event,
            what or f"{event} on {channel}",
        )

    def events(self, channel=None, event=None):
        return [
            m
            for m in self.seen
            if m["type"] == "event" and (channel is None or m["channel"] == channel) and (event is None or m["event"] == event)
        ]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=3)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()


def wait_until(check, what="a condition", timeout=DEFAULT_TIMEOUT, interval=0.025):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)
