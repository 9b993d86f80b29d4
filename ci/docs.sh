#!/usr/bin/env bash
# ci/docs.sh [OUT_DIR]: build the API reference from the public headers with
# Doxygen (docs/Doxyfile), warnings as errors.  HTML goes to OUT_DIR
# (default out/docs/html).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
out=${1:-out/docs}
mkdir -p "$out"
log=$out/doxygen.log
if ! { cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out"; echo "WARN_AS_ERROR = YES"; } |
    doxygen - >"$log" 2>&1; then
  cat "$log"
  echo "ci/docs.sh: doxygen failed (warnings are errors)"
  exit 1
fi
if [ -s "$log" ]; then
  cat "$log"
fi
echo "ci/docs.sh: API reference in $out/html/index.html ($(ls "$out/html" | wc -l) files)"
