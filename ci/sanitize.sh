#!/usr/bin/env bash
# The sanitizer run: every backend built together with AddressSanitizer and
# UndefinedBehaviorSanitizer, then the whole ctest suite (unit, engine, aio,
# cli, fuzz replay, conformance when it is built).  Any report fails the run:
# leaks are checked at exit and every report aborts the test that made it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
mkdir -p out
start=$(date +%s)
dir=out/build-sanitize
bash ci/build.sh "$dir" -DTLSPLUG_SANITIZE=ON -DTLSPLUG_BACKENDS="openssl;mbedtls;wolfssl;gnutls"
asan=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
# proven library leaks only
export LSAN_OPTIONS=suppressions=$PWD/ci/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Left out unless SANITIZE_ALL=1: the soak tests (their memory bound reads the
# process allocator, which ASan replaces) and the conformance runs over TCP and
# against external programs (the same cases as conformance-memory, which runs
# here, but many minutes more under ASan; ci/test.sh runs them).
skip='soak-.*|conformance-tcp|conformance-peers'
[ "${SANITIZE_ALL:-0}" = 1 ] && skip='(none)'
# The tests that feed GnuTLS malformed keys meet the GnuTLS leak in
# ci/lsan.supp, which matches only on whole malloc stacks (Debian's libraries
# have no frame pointers).  Whole stacks make mallocs ~10x slower, so only
# these tests get them.
slow='misuse-gnutls|fuzz-config-gnutls|alloc-fail-gnutls'
cd "$dir"
ASAN_OPTIONS=$asan ctest --output-on-failure -j2 --timeout 600 -E "^($skip|$slow)\$"
ASAN_OPTIONS=$asan:fast_unwind_on_malloc=0 ctest --output-on-failure -j2 --timeout 600 --no-tests=error \
  -R "^($slow)\$"
cd - >/dev/null
echo "ci/sanitize.sh: ASan+UBSan clean in $(( $(date +%s) - start )) s"
