# Shared by .ci/test.sh and .ci/bench.sh (sourced): timing, apt installs, the project's venv.
# Callers set LOG_TAG first.

elapsed() { python3 -c "import sys;print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
log() { echo "[$LOG_TAG] $*" >&2; }

APT_UPDATED=
apt_install() {
  [ -n "$APT_UPDATED" ] || { apt-get update -q >&2; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
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
