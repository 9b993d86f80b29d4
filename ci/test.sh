#!/usr/bin/env bash
# The test command: install what is missing, build with every backend and with
# each backend alone (so no subset rots), and run the tests with ctest; then the
# installed package, the docs, the embedding build, and the reliability jobs
# (sanitizers, valgrind, a short fuzz run).  Prints the time of each phase.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
mkdir -p out
start=$(date +%s)
phase() { echo "== [$(( $(date +%s) - start )) s] $*"; }

phase "all four backends"
bash ci/build.sh out/build-all -DTLSPLUG_BACKENDS="openssl;mbedtls;wolfssl;gnutls"
(cd out/build-all && ctest --output-on-failure -j2 --timeout 900)
phase "installed package"
bash ci/install-test.sh out/build-all   # find_package and pkg-config
phase "benchmark smoke run"
bash ci/bench.sh out/build-all          # tlsplug-bench --quick, no speed assertions
phase "API reference"
bash ci/docs.sh out/docs                # Doxygen warnings are errors
phase "embedding: no built-in loop"
bash ci/build.sh out/build-noloop -DTLSPLUG_BACKENDS=openssl -DTLSPLUG_BUILTIN_LOOP=OFF
(cd out/build-noloop && ctest --output-on-failure -j2 --timeout 300 --no-tests=error \
   -R '^(config|engine|adapter|example)')
for b in openssl mbedtls wolfssl gnutls; do
  phase "$b alone"
  bash ci/build.sh "out/build-$b" -DTLSPLUG_BACKENDS="$b"
  (cd "out/build-$b" && ctest --output-on-failure -j2 --timeout 300 --no-tests=error \
     -R '^(loop|config|aio-mock|engine-.*|aio-tls-.*|misuse-.*|faults-.*|adapter-.*|conformance-memory)$')
done
phase "sanitizers"
bash ci/sanitize.sh
phase "valgrind"
bash ci/valgrind.sh
phase "fuzzing"
bash ci/fuzz.sh 20
phase "done"
echo "ci/test.sh: all green in $(( $(date +%s) - start )) s"
