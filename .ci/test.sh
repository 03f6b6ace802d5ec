#!/usr/bin/env bash
# Body of `make test`: system packages, venv, throwaway PostgreSQL + moto S3, then pytest "$@".
# Services are stopped on any exit (success, failure, Ctrl-C). Exit code = pytest's; 5 (no tests) is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s.%N)
elapsed() { python3 -c "import sys;print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
log() { echo "[test.sh] $*" >&2; }

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
APT_UPDATED=
apt_install() {
  [ -n "$APT_UPDATED" ] || { apt-get update -q >&2; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}
command -v chromium >/dev/null || { log "installing chromium"; apt_install chromium; }
[ -x /usr/lib/postgresql/15/bin/initdb ] || { log "installing postgresql-15"; apt_install postgresql-15; }

# 2. Python environment. `pip install -e` takes ~4 s even when nothing changes, so it is skipped while
#    .venv/.installed-test is newer than pyproject.toml (FORCE_INSTALL=1 to force).
[ -x .venv/bin/python ] || { log "creating .venv"; python3 -m venv .venv; }
if [ -n "${FORCE_INSTALL:-}" ] || [ ! .venv/.installed-test -nt pyproject.toml ]; then
  log "pip install -e '.[test]'"
  .venv/bin/pip install -q -e '.[test]' 2>&1 | { grep -v 'is ignored' || true; }   # pipefail keeps pip's status
  touch .venv/.installed-test .venv/.installed   # [test] includes everything `make run` needs
fi

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
