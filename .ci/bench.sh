#!/usr/bin/env bash
# Body of `make bench`: wrk, venv, a throwaway PostgreSQL, then benchmarks/run.py (see benchmarks/README.md).
# PostgreSQL is stopped on any exit (success, failure, Ctrl-C). Exit code = run.py's.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s.%N)
LOG_TAG=bench.sh
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

stop_services_on_exit  # .ci/lib.sh: stops whatever was started, however the script ends

# 1. System packages (RECIPES §3, §10).
command -v wrk >/dev/null || { log "installing wrk"; apt_install wrk; }
command -v chromium >/dev/null || { log "installing chromium"; apt_install chromium; }  # the capture figures
[ -x /usr/lib/postgresql/15/bin/initdb ] || { log "installing postgresql-15"; apt_install postgresql-15; }
ensure_pdf_libs  # .ci/lib.sh: Pango and a font for the report PDFs (WeasyPrint)

# 2. Python environment: the same venv and install stamp as .ci/test.sh (gunicorn is a main dependency).
ensure_venv

# 3. PostgreSQL and the S3 endpoint. Assignment form, never `eval "$(...)"`: under set -e a failed $(...) inside eval is ignored.
start_postgres
export DATABASE_URL
start_s3   # the evidence upload benchmark runs against moto's S3 server

# 4. Benchmarks. Not exec: the EXIT trap must still stop PostgreSQL afterwards.
rc=0
.venv/bin/python benchmarks/run.py || rc=$?
# 5. The sync model test at bench size (make test runs 500 + 250 sequences; here 2,000 + 1,000).
log "sync model test, ${SYNC_MODEL_EXAMPLES:=2000} sequences (+ half as many with two tablets)"
TEST_DATABASE_URL=$DATABASE_URL SYNC_MODEL_EXAMPLES=$SYNC_MODEL_EXAMPLES \
  .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_sync_model.py || rc=$?
# 6. The capture screen in headless Chromium (issue 3's figures): a rating click -> IndexedDB -> screen, and
#    a 120-item audit opened offline. The browser test prints them; nothing there is asserted against a time.
log "capture screen figures (headless Chromium)"
capture_log=$(mktemp)
if TEST_DATABASE_URL=$DATABASE_URL .venv/bin/python -m pytest -q -s -p no:cacheprovider -p no:logging \
     tests/test_capture_browser.py -k "worker_and_a_120_item_audit" >"$capture_log" 2>&1; then
  grep -E "^\[capture figures\]" "$capture_log"
else
  rc=1; tail -40 "$capture_log"
fi
rm -f "$capture_log"
exit "$rc"
