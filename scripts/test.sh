#!/usr/bin/env bash
# herald's whole test command: installs what the tests need, then runs formatting, the
# layer-order check (scripts/check-layers.py), lints,
# the Rust tests, the real-client compatibility suites (pusher-js in Node and in headless
# Chromium, the official `pusher` Node and Python libraries, the audit dashboard in
# Chromium) and client-js's build, lint and tests against target/debug/herald.
#
#   bash scripts/test.sh                 # everything (what .ci/run runs)
#   bash scripts/test.sh --compat-only   # skip fmt/clippy/cargo test (still builds herald)
#   bash scripts/test.sh --no-install    # skip apt/npm/pip installs
#
# Every step runs even if an earlier one failed (except the compat suites, which need the
# build); a summary at the end names each step's result, and the exit status is non-zero if
# any step failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
COMPAT="$ROOT/tests/compat"
PYTHON="${PYTHON:-python3}"
export HERALD_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/herald"

compat_only=0
install=1
for arg in "$@"; do
  case "$arg" in
    --compat-only) compat_only=1 ;;
    --no-install) install=0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/postgres.sh
. "$ROOT/scripts/postgres.sh"

results=()
failed=0
banner() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# run_step NAME CMD...: runs CMD, records PASS/FAIL, never aborts the script.
run_step() {
  local name="$1"; shift
  banner "$name"
  local start=$SECONDS rc=0
  "$@" || rc=$?
  local took=$((SECONDS - start))
  if [ "$rc" -eq 0 ]; then
    results+=("PASS  $name (${took}s)")
  else
    results+=("FAIL  $name (exit $rc, ${took}s)")
    failed=1
  fi
  return "$rc"
}

# ---------------------------------------------------------------- installs
install_system_packages() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "redis-server and chromium already present"
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing with apt: ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_node_packages() {
  (cd "$COMPAT" && npm ci --no-audit --no-fund --loglevel=error)
}

install_client_js_packages() {
  (cd "$ROOT/client-js" && npm ci --no-audit --no-fund --loglevel=error)
}

install_dashboard_packages() {
  (cd "$ROOT/dashboard" && npm ci --no-audit --no-fund --loglevel=error)
}

install_python_packages() {
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$COMPAT/requirements.txt"
}

# ---------------------------------------------------------------- rust
rust_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast && cargo test --workspace --doc --no-fail-fast
  else
    cargo test --workspace --no-fail-fast
  fi
}

# ---------------------------------------------------------------- dashboard
# The dashboard's built files are committed and embedded in the binary: check that they are
# what the current sources build to (and that the sources type-check).
dashboard_check() {
  (cd "$ROOT/dashboard" && npx --no-install tsc --noEmit -p . && npx --no-install biome check && node build.mjs --check)
}

# ---------------------------------------------------------------- compat suites
node_suite() {
  # Each file starts its own herald; two files at a time fit the 2-core machines.
  # --test-force-exit: pusher-js can leave a 30 s timer behind after a refused (40xx) close,
  # which would keep a finished file's process alive; --test-timeout turns a hung test into
  # a failure instead of a stalled run.
  (cd "$COMPAT" && timeout --kill-after=10 600 \
    node --test --test-concurrency=2 --test-force-exit --test-timeout=60000 --test-reporter=spec node/*.test.js)
}

client_js_suite() {
  # The package is built, type-checked and linted, then its tests (Node and headless
  # Chromium) run against the same target/debug/herald.
  (cd "$ROOT/client-js" && npm run --silent build && npm run --silent typecheck && npm run --silent lint \
    && PYTHON="$PYTHON" timeout --kill-after=10 300 npm test --silent)
}

python_suite() {
  local rc=0
  (cd "$COMPAT/python" && timeout --kill-after=10 600 "$PYTHON" -m pytest -q -p no:cacheprovider .) || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure, not a pass" >&2
  fi
  return "$rc"
}

if [ "$install" -eq 1 ]; then
  run_step "install system packages (redis-server, chromium)" install_system_packages || true
  run_step "npm ci (tests/compat)" install_node_packages || true
  run_step "npm ci (client-js)" install_client_js_packages || true
  run_step "npm ci (dashboard)" install_dashboard_packages || true
  run_step "pip install -r tests/compat/requirements.txt" install_python_packages || true
fi

# The PostgreSQL audit-store tests (and the cluster test) need a server; under CI=true they
# fail rather than skip if there is none.
run_step "PostgreSQL for the audit-store tests" start_test_postgres || true

if [ "$compat_only" -eq 0 ]; then
  run_step "cargo fmt --all -- --check" cargo fmt --all -- --check || true
  run_step "layer order inside src/ (scripts/check-layers.py)" "$PYTHON" scripts/check-layers.py || true
  run_step "cargo clippy --workspace --all-targets -- -D warnings" cargo clippy --workspace --all-targets -- -D warnings || true
  run_step "dashboard: tsc --noEmit, biome, dist/ built from the sources" dashboard_check || true
  run_step "rust tests (workspace)" rust_tests || true
fi

if run_step "cargo build --bin herald" cargo build --bin herald; then
  run_step "compat: Node (pusher-js, pusher, Chromium)" node_suite || true
  run_step "compat: Python (pusher pip library)" python_suite || true
  run_step "client-js: build, tsc, biome, tests (Node, Chromium)" client_js_suite || true
else
  results+=("SKIP  compat suites (herald did not build)")
fi

banner "summary"
printf '  %s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
  echo "FAILED" >&2
  exit 1
fi
echo "all steps passed"
