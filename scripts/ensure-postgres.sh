#!/usr/bin/env bash
# Makes sure the local PostgreSQL (127.0.0.1:5432) accepts connections before the tests that use
# it (the Store contract on PostgreSQL) run. Starts the Debian cluster if it is down, waits up to
# 30 s, and fails loudly if it cannot.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
WAIT_SECONDS="${ENSURE_POSTGRES_WAIT_SECONDS:-30}"

ready() { pg_isready -q -h "$HOST" -p "$PORT"; }

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "ensure-postgres: ERROR: pg_isready not found; is PostgreSQL installed?" >&2
  exit 1
fi

if ready; then
  echo "ensure-postgres: PostgreSQL already accepting connections on $HOST:$PORT"
  exit 0
fi

VERSION="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$VERSION" ]; then
  echo "ensure-postgres: ERROR: no cluster under /etc/postgresql; cannot start PostgreSQL" >&2
  exit 1
fi

echo "ensure-postgres: starting PostgreSQL $VERSION/main..."
pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start || true

for _ in $(seq 1 "$WAIT_SECONDS"); do
  if ready; then
    echo "ensure-postgres: PostgreSQL accepting connections on $HOST:$PORT"
    exit 0
  fi
  sleep 1
done

echo "" >&2
echo "!!! ensure-postgres: PostgreSQL on $HOST:$PORT is NOT accepting connections after ${WAIT_SECONDS}s." >&2
echo "!!! Tried: pg_ctlcluster --skip-systemctl-redirect $VERSION main start" >&2
echo "!!! Check /var/log/postgresql/ for the reason." >&2
exit 1
