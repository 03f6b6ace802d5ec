#!/usr/bin/env bash
# Body of `make test`: system packages, venv, throwaway PostgreSQL + moto S3, then pytest "$@".
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
.venv/bin/python -m pytest "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
  log "pytest collected no tests (exit code 5): treated as a failure"
fi
exit "$rc"
