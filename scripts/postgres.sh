# Sourced by scripts/test.sh: makes a PostgreSQL available to the audit-store tests and
# exports HERALD_TEST_PG_URL (an admin URL; each test creates and drops its own database)
# and HERALD_TEST_PG_BINDIR (initdb/pg_ctl, for tests that run a throwaway server of their
# own to stop and restart it).
#
#   - HERALD_TEST_PG_URL already set: used as is.
#   - A server answering at 127.0.0.1:5432 (trust, user postgres): used.
#   - Otherwise: `apt-get install postgresql` if needed, then a throwaway cluster (initdb,
#     pg_ctl) on a free port under /tmp, run as the `postgres` system user when we are
#     root (postgres refuses to run as root), stopped and removed when the script exits.

pg_bindir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  dir="$(dirname "$(command -v pg_ctl 2>/dev/null || true)")"
  if [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  return 1
}

install_postgres() {
  if pg_bindir >/dev/null; then return 0; fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing postgresql with apt"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# as_pg CMD...: runs CMD as the postgres system user when root, else as ourselves.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

HERALD_PG_SCRATCH=""
stop_test_postgres() {
  if [ -n "$HERALD_PG_SCRATCH" ] && [ -d "$HERALD_PG_SCRATCH/data" ]; then
    as_pg "$HERALD_TEST_PG_BINDIR/pg_ctl" -D "$HERALD_PG_SCRATCH/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$HERALD_PG_SCRATCH"
  fi
}

start_test_postgres() {
  if [ "$install" -eq 1 ]; then install_postgres || return 1; fi
  HERALD_TEST_PG_BINDIR="$(pg_bindir || true)"
  export HERALD_TEST_PG_BINDIR
  if [ -n "${HERALD_TEST_PG_URL:-}" ]; then
    echo "using HERALD_TEST_PG_URL from the environment"
    return 0
  fi
  if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null \
    && { ! command -v pg_isready >/dev/null || pg_isready -q -h 127.0.0.1 -p 5432; }; then
    export HERALD_TEST_PG_URL="postgres://postgres@127.0.0.1:5432/postgres"
    echo "using the PostgreSQL server at 127.0.0.1:5432"
    return 0
  fi
  if [ -z "$HERALD_TEST_PG_BINDIR" ]; then
    echo "no PostgreSQL answers at 127.0.0.1:5432 and none is installed (run without --no-install)" >&2
    return 1
  fi
  local port
  port="$(free_port)"
  HERALD_PG_SCRATCH="$(mktemp -d /tmp/herald-test-pg.XXXXXX)"
  chmod 755 "$HERALD_PG_SCRATCH"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$HERALD_PG_SCRATCH"; fi
  as_pg "$HERALD_TEST_PG_BINDIR/initdb" -D "$HERALD_PG_SCRATCH/data" -U postgres \
    --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null || return 1
  as_pg "$HERALD_TEST_PG_BINDIR/pg_ctl" -D "$HERALD_PG_SCRATCH/data" -w -l "$HERALD_PG_SCRATCH/log" \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $HERALD_PG_SCRATCH -c max_connections=300" start >/dev/null || {
      cat "$HERALD_PG_SCRATCH/log" >&2; return 1; }
  trap stop_test_postgres EXIT
  export HERALD_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "started a throwaway PostgreSQL on 127.0.0.1:$port"
}
