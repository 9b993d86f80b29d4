#!/usr/bin/env bash
# ci/build.sh BUILD_DIR [cmake options...]: configure and build, with ccache
# when it is there.  Warnings are errors.
set -euo pipefail
dir=$1; shift
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$(dirname "$0")/.." -B "$dir" -DTLSPLUG_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${launcher[@]}" "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
if ! cmake --build "$dir" -j"$(nproc)" >"$dir.build.log" 2>&1; then
  grep -E -B2 -A6 "error|Error" "$dir.build.log" | head -80
  exit 1
fi
