#!/usr/bin/env bash
# make test-redis: the tests that need Redis (marker `redis`: step 6's limits shared by
# gunicorn workers, Redis stopped and started again under a running server) against a
# throwaway redis-server, which listens on 127.0.0.1 only, keeps nothing on disk, and is
# stopped when this script ends, even when tests fail.
# Usage: tests/redis.sh PYTHON [PYTEST-ARGUMENTS...]
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1
shift

if ! command -v redis-server >/dev/null; then
  cat >&2 <<'END'
redis-server was not found. Install it, then run this again:
  Debian or Ubuntu:  sudo apt-get install redis-server
  macOS (Homebrew):  brew install redis
END
  exit 1
fi

workdir=$(mktemp -d)
stop_and_delete() {
  if [ -f "$workdir/redis.pid" ]; then
    kill "$(cat "$workdir/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap stop_and_delete EXIT
trap 'exit 130' INT TERM

port=$("$python" -c 'from tests.live import free_port; print(free_port())')
# In a configuration file, so that a test can start the server again after stopping it.
cat >"$workdir/redis.conf" <<END
bind 127.0.0.1
port $port
daemonize yes
pidfile $workdir/redis.pid
logfile $workdir/redis.log
dir $workdir
save ""
appendonly no
END
redis-server "$workdir/redis.conf"
"$python" -c "import sys; from tests.live import RedisServer; RedisServer(sys.argv[1]).wait()" \
  "redis://127.0.0.1:$port" \
  || { cat "$workdir/redis.log" >&2; exit 1; }
echo "Redis $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port"

# The tests share this one server, so they run one at a time (no xdist).
# TEST_REDIS_CONF lets a test stop the server and start it again under a running app.
TEST_REDIS_URL="redis://127.0.0.1:$port" TEST_REDIS_CONF="$workdir/redis.conf" \
  "$python" -m pytest -p no:xdist -m redis "$@"
