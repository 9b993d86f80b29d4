#!/usr/bin/env bash
# The valgrind pass: the unit, engine, aio, adapter, misuse, resumption,
# OpenSSL error-queue, fuzz-replay and
# in-memory conformance tests under memcheck on a normal build.  Any error or
# definite/indirect leak fails.  Not here: the shell tests and examples (other
# programs, the network), the allocation-failure sweeps and the soak (they
# count memory themselves and take minutes), the fault-injection tests (their
# stalls are bounded in wall time, which valgrind's slowdown overruns), the
# conformance runs against real sockets and external peers.
# ci/valgrind.supp holds suppressions for proven library-internal reports only.
#   bash ci/valgrind.sh [ctest-regex]     (a regex of test names to run instead)
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
mkdir -p out
start=$(date +%s)
dir=out/build-valgrind
bash ci/build.sh "$dir" -DTLSPLUG_BACKENDS="openssl;mbedtls;wolfssl;gnutls"
logs=$dir/valgrind
rm -rf "$logs" && mkdir -p "$logs"
# ctest lists the tests with their commands; each runs under valgrind, two at
# a time, with its own log.
(cd "$dir" && ctest --show-only=json-v1) >"$logs/tests.json"
default='^(loop|config|aio-mock|engine-.*|aio-tls-.*|aio-direct-.*|adapter-.*|misuse-.*|resume-.*|openssl-error-queue|conformance-memory|fuzz-.*)$'
python3 - "$logs" "${1:-$default}" "$PWD/ci/valgrind.supp" <<'PY'
import json, os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
logs, pattern, supp = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
tests = json.load(open(os.path.join(logs, "tests.json")))["tests"]
shell = re.compile(r"\.sh$|^(bash|sh)$")
todo = []
for t in tests:
    cmd = t["command"]
    if not re.search(pattern, t["name"]):
        continue
    if any(shell.search(os.path.basename(c)) for c in cmd[:2]):
        continue  # scripts spawn other programs: not memcheck material
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    todo.append((t["name"], cmd, props))
vg = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
      "--error-exitcode=99", "--num-callers=30", "--gen-suppressions=all",
      "--suppressions=" + supp]
def run(item):
    name, cmd, props = item
    env = dict(os.environ)
    for kv in props.get("ENVIRONMENT", []):
        k, _, v = kv.partition("=")
        env[k] = v
    log = os.path.join(logs, name + ".log")
    t0 = time.time()
    with open(log, "w") as f:
        rc = subprocess.call(vg + ["--log-file=" + log + ".vg"] + cmd, stdout=f,
                             stderr=subprocess.STDOUT, env=env,
                             cwd=props.get("WORKING_DIRECTORY"))
    # ctest's SKIP_RETURN_CODE: the test said it does not apply (memcheck
    # still ran it up to there, and an error there would exit 99)
    skip = props.get("SKIP_RETURN_CODE")
    return name, ("skip" if skip is not None and rc == int(skip) else rc), time.time() - t0, log
# the long ones first, so the two workers finish together
todo.sort(key=lambda item: not item[0].startswith("conformance"))
bad = 0
with ThreadPoolExecutor(2) as ex:
    for name, rc, secs, log in ex.map(run, todo):
        summary = ""
        with open(log + ".vg") as f:
            for line in f:
                if "ERROR SUMMARY" in line:
                    summary = line.split("== ", 1)[-1].strip()
        mark = "skip" if rc == "skip" else "ok  " if rc == 0 else "FAIL"
        print(f"{mark} {name:28s} {secs:6.1f} s  {summary}", flush=True)
        if rc not in (0, "skip"):
            bad += 1
            sys.stdout.write(open(log).read()[-3000:])
            sys.stdout.write(open(log + ".vg").read()[-12000:])
print(f"{len(todo)} tests under valgrind, {bad} failed")
sys.exit(1 if bad or not todo else 0)  # no test run is no evidence
PY
echo "ci/valgrind.sh: memcheck clean in $(( $(date +%s) - start )) s"
