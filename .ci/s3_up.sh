#!/usr/bin/env bash
# Start moto's S3 server (the venv's python, `python -m moto.server`) in the background on a free
# 127.0.0.1 port, with MOTO_DISABLE_GLOBAL_CORS=true so bucket CORS rules apply as on real S3 (RECIPES.md §4).
# Returns once it answers HTTP. stdout: ONE `export ...` line; everything else goes to stderr. Use it as:
#   S3ENV=$(bash .ci/s3_up.sh); eval "$S3ENV"; trap 'bash .ci/s3_down.sh' EXIT
set -euo pipefail
exec 3>&1 1>&2            # keep stdout clean for the export line (fd 3)
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
[ -x "$PY" ] || { echo "s3_up: $PY not found (create the venv first)" >&2; exit 1; }
S3TMP=$(mktemp -d -t s3ci.XXXXXX)

S3PID=
for attempt in 1 2; do     # the free-port pick can race: retry once
  PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  # </dev/null, >log and 3>&-: the server must hold none of our pipes, or $(...) never returns
  MOTO_DISABLE_GLOBAL_CORS=true "$PY" -m moto.server -H 127.0.0.1 -p "$PORT" </dev/null >"$S3TMP/moto.log" 2>&1 3>&- &
  pid=$!
  for _ in $(seq 1 200); do    # up to 20 s
    kill -0 "$pid" 2>/dev/null || break
    if "$PY" -c 'import sys,urllib.request;urllib.request.urlopen(sys.argv[1],timeout=1)' \
         "http://127.0.0.1:$PORT/moto-api/" >/dev/null 2>&1; then S3PID=$pid; break 2; fi
    sleep 0.1
  done
  echo "s3_up: moto on port $PORT did not come up (attempt $attempt):" >&2; tail -20 "$S3TMP/moto.log" >&2
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
done
[ -n "$S3PID" ] || { rm -rf "$S3TMP"; exit 1; }

echo "export TEST_S3_ENDPOINT_URL=http://127.0.0.1:$PORT S3PID=$S3PID S3TMP=$S3TMP AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-2" >&3
