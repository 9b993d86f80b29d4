#!/usr/bin/env bash
# ci/bench.sh [BUILD_DIR]: smoke test of tlsplug-bench (--quick, a few
# seconds): it runs every case for every built backend, and its --json output
# is well formed.  No assertion on speed: the figures are printed only.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-out/build-all}
bench="$dir/bench/tlsplug-bench"
if [ ! -x "$bench" ]; then
  bash ci/setup.sh
  bash ci/build.sh "$dir"
fi
start=$(date +%s)
"$bench" --quick
"$bench" --quick --only bulk,handshake --json >"$dir/bench-quick.json"
python3 - "$dir/bench-quick.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
assert rows, "no results"
for r in rows:
    assert set(r) == {"backend", "metric", "tlsplug", "native", "ratio"}, r
    assert isinstance(r["metric"], str) and isinstance(r["backend"], str), r
assert any("throughput" in r["metric"] for r in rows), "no throughput metric"
assert any("handshake" in r["metric"] for r in rows), "no handshake metric"
print(f"ci/bench.sh: {len(rows)} JSON rows for {len({r['backend'] for r in rows})} backends")
PY
echo "ci/bench.sh: tlsplug-bench --quick ran in $(( $(date +%s) - start )) s"
