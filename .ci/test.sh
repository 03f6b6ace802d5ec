#!/usr/bin/env bash
# Body of `make test`: system packages, venv, throwaway PostgreSQL + moto S3, then pytest "$@".
# A whole run (no arguments) then runs the date-sensitive modules again under libfaketime, 400 days ahead
# and 200 days back (RECIPES §12): the suite must pass on any date. Any failure fails `make test`.
# Services are stopped on any exit (success, failure, Ctrl-C). Exit code = pytest's; 5 (no tests) is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s.%N)
LOG_TAG=test.sh
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

stop_services_on_exit  # .ci/lib.sh: stops whatever was started, however the script ends

# 1. System packages (RECIPES §2, §3). Never `playwright install`: it downloads a browser we cannot fetch.
command -v chromium >/dev/null || { log "installing chromium"; apt_install chromium; }
command -v faketime >/dev/null || { log "installing faketime"; apt_install faketime; }
[ -x /usr/lib/postgresql/15/bin/initdb ] || { log "installing postgresql-15"; apt_install postgresql-15; }
ensure_pdf_libs  # .ci/lib.sh: Pango and a font for the report PDFs (WeasyPrint)

# 2. Python environment (.ci/lib.sh: reinstalls only when pyproject.toml changed).
ensure_venv

# 3. Services. Assignment form, never `eval "$(...)"`: under set -e a failed $(...) inside eval is ignored.
start_postgres
start_s3
export TEST_DATABASE_URL=$DATABASE_URL

# 4. Tests.
rc=0
# Two workers (one per core on these machines; TEST_WORKERS=1 for one process), a module per worker at a time
# (--dist loadfile: a module's fixtures, databases and live servers stay in one process).
XDIST=(-n "${TEST_WORKERS:-2}" --dist loadfile)
.venv/bin/python -m pytest "${XDIST[@]}" --durations=15 "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
  log "pytest collected no tests (exit code 5): treated as a failure"
fi

# 5. The same suite on other dates: the modules where dates decide something (expiry, the roll-up, visits,
# home pages, share links, actions, placements, review queues, the dashboard, the CLI), not the browser tests.
# libfaketime shifts the clock of pytest and the app inside it (and of the CLI it starts); only pytest is
# wrapped, never pip or apt. The PostgreSQL server keeps the real time: the app never asks it for the time.
DATE_SENSITIVE=(tests/test_time.py tests/test_rollup.py tests/test_rollup_hooks.py tests/test_decisions.py
  tests/test_placements.py tests/test_placement_stats.py tests/test_placement_pages.py tests/test_cli_directory.py
  tests/test_cli_placements.py tests/test_share_links.py tests/test_watch_notifications.py
  tests/test_dashboard_pages.py tests/test_evidence_review.py tests/test_maintainers.py tests/test_pages.py)
if [ "$#" -eq 0 ]; then
  for shift in +400d -200d; do
    t=$(date +%s.%N)
    frc=0
    faketime -f "$shift" .venv/bin/python -m pytest "${XDIST[@]}" -q -p no:cacheprovider "${DATE_SENSITIVE[@]}" || frc=$?
    log "date-sensitive tests at today $shift (libfaketime): exit code $frc in $(elapsed "$t") s"
    [ "$rc" -ne 0 ] || rc=$frc
  done
else
  log "pytest arguments given: the faketime runs (whole runs only) are skipped"
fi
exit "$rc"
