#!/usr/bin/env bash
# Body of `make test`: system packages, venv, throwaway PostgreSQL + moto S3, then pytest "$@".
# Services are stopped on any exit (success, failure, Ctrl-C). Exit code = pytest's; 5 (no tests) is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s.%N)
LOG_TAG=test.sh
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

# Services: the trap stops whatever was started. Set before starting anything.
PGTMP= S3PID= S3TMP=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  [ -n "$S3PID" ] && S3PID=$S3PID S3TMP=$S3TMP bash .ci/s3_down.sh
  [ -n "$PGTMP" ] && PGTMP=$PGTMP PGBIN=${PGBIN:-} bash .ci/pg_down.sh
  log "finished in $(elapsed "$T0") s, exit code $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# 1. System packages (RECIPES §2, §3). Never `playwright install`: it downloads a browser we cannot fetch.
command -v chromium >/dev/null || { log "installing chromium"; apt_install chromium; }
[ -x /usr/lib/postgresql/15/bin/initdb ] || { log "installing postgresql-15"; apt_install postgresql-15; }

# 2. Python environment (.ci/lib.sh: reinstalls only when pyproject.toml changed).
ensure_venv

# 3. Services. Assignment form, never `eval "$(...)"`: under set -e a failed $(...) inside eval is ignored.
t=$(date +%s.%N)
PGENV=$(bash .ci/pg_up.sh)
eval "$PGENV"
log "postgres up on port $PGPORT in $(elapsed "$t") s"
t=$(date +%s.%N)
S3ENV=$(bash .ci/s3_up.sh)
eval "$S3ENV"
log "moto S3 up at $TEST_S3_ENDPOINT_URL in $(elapsed "$t") s"
export TEST_DATABASE_URL=$DATABASE_URL TEST_S3_ENDPOINT_URL

# 4. Tests.
rc=0
.venv/bin/python -m pytest "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
  log "pytest collected no tests (exit code 5): treated as a failure"
fi
exit "$rc"
