#!/usr/bin/env bash
# Make sure PostgreSQL answers at 127.0.0.1:5432 (the PostgreSQL store tests need it): start the
# local cluster if it is stopped, install it from Debian's packages if it is missing. Fails
# (rather than letting the tests skip) when it cannot.
set -euo pipefail
ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
ready && exit 0
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "PostgreSQL is not installed; installing it" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -n | tail -n 1)
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do ready && break; sleep 1; done
if ! ready; then
  echo "PostgreSQL does not answer at 127.0.0.1:5432" >&2
  exit 1
fi
# Trust auth for local TCP connections is what the tests expect (the machine image sets it up).
psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -c "create database test" >/dev/null
