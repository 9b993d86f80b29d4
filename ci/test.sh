#!/usr/bin/env bash
# The test command: install what is missing, build with every backend and
# with each backend alone (so no subset rots), and run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
mkdir -p out
start=$(date +%s)
bash ci/build.sh out/build-all -DTLSPLUG_BACKENDS="openssl;mbedtls;wolfssl;gnutls"
(cd out/build-all && ctest --output-on-failure -j2 --timeout 300)
for b in openssl mbedtls wolfssl gnutls; do
  echo "== $b alone"
  bash ci/build.sh "out/build-$b" -DTLSPLUG_BACKENDS="$b"
  (cd "out/build-$b" && ctest --output-on-failure -j2 --timeout 300 -E '^cli$')
done
echo "ci/test.sh: all green in $(( $(date +%s) - start )) s"
