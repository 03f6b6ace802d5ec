#!/usr/bin/env bash
# Vendor govuk-frontend and htmx 2 from the npm registry (no CDN, no node build).
# Run from anywhere; writes auditapp/static/vendor/. See RECIPES.md §5 and §6.
set -euo pipefail
cd "$(dirname "$0")/.."
GOVUK=6.3.0   # the release govuk-frontend-jinja 4.1.0 targets
HTMX=2.0.11   # NOT htmx 4: flask-htmx 0.4 needs the HX-Trigger* request headers
DEST=auditapp/static/vendor; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
(cd "$T" && npm pack -q "govuk-frontend@$GOVUK" "htmx.org@$HTMX" >/dev/null)
mkdir -p "$T/g" "$T/h" "$DEST/govuk-frontend"
tar xzf "$T/govuk-frontend-$GOVUK.tgz" -C "$T/g"; tar xzf "$T/htmx.org-$HTMX.tgz" -C "$T/h"
cp "$T/h/package/dist/htmx.min.js" "$DEST/"; cp "$T/h/package/LICENSE" "$DEST/htmx.LICENSE"
# govuk-frontend's licence. The 6.3.0 npm tarball ships no LICENSE file (package.json says "MIT" and
# README.md's "Licence" section covers it), so if none is found, write the MIT text of the upstream
# repository's LICENSE.txt (github.com/alphagov/govuk-frontend) plus the README's licence section.
GLIC=$(find "$T/g/package" -maxdepth 1 -type f -iname 'licen[cs]e*' | head -1)
if [ -n "$GLIC" ]; then
  cp "$GLIC" "$DEST/govuk-frontend/LICENSE.txt"
else
  grep -q '"license": "MIT"' "$T/g/package/package.json" || { echo "govuk-frontend is no longer MIT?" >&2; exit 1; }
  { cat <<'MIT'
The MIT License (MIT)

Copyright (C) 2017 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
MIT
    echo; echo "---- From govuk-frontend@$GOVUK package/README.md ----"; echo
    sed -n '/^## Licence/,/^## /p' "$T/g/package/README.md" | sed '$d'
  } > "$DEST/govuk-frontend/LICENSE.txt"
fi
G="$T/g/package/dist/govuk"
cp "$G/govuk-frontend.min.js" "$DEST/govuk-frontend/"
# Not vendored on purpose: $G/assets/fonts (GDS Transport) and $G/assets/images (crown, crest)
python3 .ci/unbrand_css.py "$G/govuk-frontend.min.css" "$DEST/govuk-frontend/govuk-frontend.min.css"
# Record the registry's integrity hash, and check it matches the tarball actually unpacked.
integrity() {  # $1 = package@version, $2 = tarball
  local want got
  want=$(npm view "$1" dist.integrity)
  got="sha512-$(openssl dgst -sha512 -binary "$2" | base64 -w0)"
  [ "$want" = "$got" ] || { echo "integrity mismatch for $1: registry $want, tarball $got" >&2; exit 1; }
  echo "$want"
}
GINT=$(integrity "govuk-frontend@$GOVUK" "$T/govuk-frontend-$GOVUK.tgz")
HINT=$(integrity "htmx.org@$HTMX" "$T/htmx.org-$HTMX.tgz")
{ echo "govuk-frontend $GOVUK MIT $GINT"
  echo "htmx.org $HTMX 0BSD $HINT"; } > "$DEST/VERSIONS"
echo "vendored into $DEST:"; (cd "$DEST" && find . -type f | sort | xargs ls -l | awk '{print "  " $5 "\t" $9}')
