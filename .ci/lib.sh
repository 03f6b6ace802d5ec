# Shared by .ci/test.sh and .ci/bench.sh (sourced): timing, apt installs, the project's venv.
# Callers set LOG_TAG first.

elapsed() { python3 -c "import sys;print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
log() { echo "[$LOG_TAG] $*" >&2; }

APT_UPDATED=
apt_install() {
  [ -n "$APT_UPDATED" ] || { apt-get update -q >&2; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}

# WeasyPrint (report PDFs) loads Pango through cffi at run time, and needs one font to set text in.
ensure_pdf_libs() {
  # grep without -q reads all its input: no SIGPIPE for pipefail to count as a failure.
  if ! ldconfig -p | grep 'libpangoft2-1.0.so.0' >/dev/null || ! fc-list 2>/dev/null | grep -i 'dejavu' >/dev/null; then
    log "installing Pango and fonts for report PDFs"
    apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-dejavu-core
  fi
}

# The venv with the test extra. `pip install -e` takes ~4 s even when nothing changes, so it is
# skipped while .venv/.installed-test is newer than pyproject.toml (FORCE_INSTALL=1 to force).
ensure_venv() {
  [ -x .venv/bin/python ] || { log "creating .venv"; python3 -m venv .venv; }
  if [ -n "${FORCE_INSTALL:-}" ] || [ ! .venv/.installed-test -nt pyproject.toml ]; then
    log "pip install -e '.[test]'"
    .venv/bin/pip install -q -e '.[test]' 2>&1 | { grep -v 'is ignored' || true; }   # pipefail keeps pip's status
    touch .venv/.installed-test .venv/.installed   # [test] includes everything `make run` needs
  fi
}

# Services started by the caller; `stop_services` (the EXIT trap) stops whichever were started.
PGTMP= S3PID= S3TMP=
stop_services() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  [ -n "$S3PID" ] && S3PID=$S3PID S3TMP=$S3TMP bash .ci/s3_down.sh
  [ -n "$PGTMP" ] && PGTMP=$PGTMP PGBIN=${PGBIN:-} bash .ci/pg_down.sh
  log "finished in $(elapsed "$T0") s, exit code $rc"
  exit "$rc"
}
stop_services_on_exit() {
  trap stop_services EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

# A throwaway PostgreSQL. Assignment form, never `eval "$(...)"`: under set -e a failed $(...)
# inside eval is ignored (RECIPES §3).
start_postgres() {
  local t PGENV
  t=$(date +%s.%N)
  PGENV=$(bash .ci/pg_up.sh)
  eval "$PGENV"
  log "postgres up on port $PGPORT in $(elapsed "$t") s"
}

# moto's S3 server on a free port; exports TEST_S3_ENDPOINT_URL and dummy AWS credentials.
start_s3() {
  local t S3ENV
  t=$(date +%s.%N)
  S3ENV=$(bash .ci/s3_up.sh)
  eval "$S3ENV"
  export TEST_S3_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
  log "moto S3 up at $TEST_S3_ENDPOINT_URL in $(elapsed "$t") s"
}
