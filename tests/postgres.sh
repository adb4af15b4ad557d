#!/usr/bin/env bash
# make test-postgres: the step tests and the reliability suite against a throwaway
# PostgreSQL server, which listens on 127.0.0.1 only, keeps its data in a temporary
# folder, and is stopped and deleted when this script ends, even when tests fail.
# Usage: tests/postgres.sh PYTHON [PYTEST-ARGUMENTS...]
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1
shift

# initdb and postgres from PATH, else from Debian's /usr/lib/postgresql/<version>/bin.
if command -v initdb >/dev/null; then
  bindir=$(dirname "$(command -v initdb)")
else
  bindir=$( (ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true) | sort -V | tail -n 1)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/postgres" ]; then
  cat >&2 <<'EOF'
PostgreSQL's initdb and postgres were not found. Install the server, then run this again:
  Debian or Ubuntu:  sudo apt-get install postgresql
  macOS (Homebrew):  brew install postgresql
EOF
  exit 1
fi

# initdb and postgres refuse to run as root: then they run as the postgres user.
as_owner=""
if [ "$(id -u)" = 0 ]; then as_owner="runuser -u postgres --"; fi

workdir=$(mktemp -d)
pg_ctl="$bindir/pg_ctl -D $workdir/data -l $workdir/postgres.log"
stop_and_delete() {
  if [ -f "$workdir/data/postmaster.pid" ]; then
    $as_owner $pg_ctl -m immediate stop >/dev/null || true
  fi
  rm -rf "$workdir"
}
trap stop_and_delete EXIT
trap 'exit 130' INT TERM
if [ "$(id -u)" = 0 ]; then
  chown postgres "$workdir"
fi

port=$("$python" -c 'from tests.live import free_port; print(free_port())')
$as_owner "$bindir/initdb" -D "$workdir/data" -U postgres --auth=trust \
  --encoding=UTF8 --no-locale --no-sync >"$workdir/initdb.log" \
  || { cat "$workdir/initdb.log" >&2; exit 1; }
# TCP on loopback only, no Unix socket. fsync off: the data is thrown away, and the
# crash test kills the app's server, not this one. In the configuration file, so that
# pg_ctl alone starts the server again after a test has stopped it.
cat >>"$workdir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
fsync = off
EOF
$as_owner $pg_ctl -w start >/dev/null || { cat "$workdir/postgres.log" >&2; exit 1; }
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"

# The tests share this one database, so they run one at a time (no xdist).
# TEST_POSTGRES_CTL lets a test stop and start the server under a running app.
TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres" \
  TEST_POSTGRES_CTL="$as_owner $pg_ctl" \
  "$python" -m pytest -p no:xdist \
  tests/test_step*.py tests/test_before_registration.py tests/test_reliability*.py "$@"
