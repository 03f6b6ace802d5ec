#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 (fsync off) on a free 127.0.0.1 port with database app_test.
# stdout: ONE line of `export ...`; everything else goes to stderr. Use it as (see RECIPES.md §3):
#   PGENV=$(bash .ci/pg_up.sh); eval "$PGENV"; trap 'bash .ci/pg_down.sh' EXIT
# (never `eval "$(bash .ci/pg_up.sh)"`: under set -e a failure there is silently ignored).
set -euo pipefail
exec 3>&1 1>&2            # keep stdout clean for the export line (fd 3)

if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "pg_up: installing postgresql-15 via apt" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-15
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGTMP=$(mktemp -d -t pgci.XXXXXX)
chown postgres:postgres "$PGTMP"
cd "$PGTMP"               # initdb/pg_ctl run as postgres: avoid "could not change directory" noise
fail() { echo "pg_up: $*" >&2; for f in initdb.log pg.log; do [ -f "$PGTMP/$f" ] && { echo "--- $f" >&2; tail -20 "$PGTMP/$f" >&2; }; done
         runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate -w stop >/dev/null 2>&1 || true
         rm -rf "$PGTMP"; exit 1; }

runuser -u postgres -- "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
  >"$PGTMP/initdb.log" 2>&1 || fail "initdb failed"

# The free-port pick can race (the port is released before postgres binds it): retry once.
started=
for attempt in 1 2; do
  PGPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  if runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/pg.log" -w -t 30 \
       -o "-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
       start >/dev/null 3>&-; then   # 3>&-: the daemon must not inherit our stdout, or $(...) never returns
    started=1; break
  fi
  echo "pg_up: start on port $PGPORT failed (attempt $attempt)" >&2
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate -w stop >/dev/null 2>&1 || true
done
[ -n "$started" ] || fail "could not start postgres"
"$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres app_test || fail "createdb failed"

echo "export PGTMP=$PGTMP PGBIN=$PGBIN PGPORT=$PGPORT PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=app_test DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PGPORT/app_test" >&3
