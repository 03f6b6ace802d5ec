#!/usr/bin/env bash
# Stop the moto S3 server started by s3_up.sh (needs S3PID, S3TMP from its exports). Safe to call twice.
set -uo pipefail
S3PID=${S3PID:-}; S3TMP=${S3TMP:-}
# Alive = exists and is not a zombie. The server is re-parented to PID 1, which on these machines
# reaps zombies only every second or two, so `kill -0` alone would wait for nothing.
alive() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1; [ -n "$st" ] && [ "$st" != Z ]; }
if [ -n "$S3PID" ] && alive "$S3PID"; then
  if tr '\0' ' ' <"/proc/$S3PID/cmdline" 2>/dev/null | grep -q 'moto.server'; then   # guard against PID reuse
    kill "$S3PID"
    for _ in $(seq 1 100); do alive "$S3PID" || break; sleep 0.05; done
    alive "$S3PID" && { echo "s3_down: $S3PID ignored SIGTERM, sending SIGKILL" >&2; kill -9 "$S3PID"; }
  else
    echo "s3_down: pid $S3PID is not moto.server, not killing it" >&2
  fi
fi
case "$(basename "${S3TMP:-x}")" in s3ci.*) rm -rf "$S3TMP";; esac
exit 0
