#!/usr/bin/env bash
# Stop the PostgreSQL started by pg_up.sh and delete its directory. Needs PGTMP (and PGBIN) from pg_up's exports.
# Safe to call twice, or when pg_up never ran.
set -uo pipefail
PGTMP=${PGTMP:-}
[ -n "$PGTMP" ] || { echo "pg_down: PGTMP not set, nothing to do" >&2; exit 0; }
case "$(basename "$PGTMP")" in pgci.*) ;; *) echo "pg_down: refusing to touch $PGTMP" >&2; exit 1;; esac
[ -d "$PGTMP" ] || exit 0
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
rc=0
if [ -f "$PGTMP/data/postmaster.pid" ]; then
  (cd "$PGTMP" && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w -t 30 stop >/dev/null) || {
    echo "pg_down: fast stop failed, trying immediate" >&2
    (cd "$PGTMP" && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate -w stop >/dev/null) || rc=1; }
fi
[ "$rc" = 0 ] && rm -rf "$PGTMP"
exit $rc
