#!/usr/bin/env bash
# The main job: install what is missing, build with every backend, and run
# the demo: a tlsplug server and client of each backend talking over
# loopback, each printing its handshake summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
mkdir -p out
bash ci/build.sh out/build-all -DTLSPLUG_BACKENDS="openssl;mbedtls;wolfssl;gnutls"
bin=out/build-all/tools/tlsplug
pki=out/build-all/pki
echo "== backends"
"$bin" backends
echo "== every client backend against every server backend, over loopback"
for sb in openssl mbedtls wolfssl gnutls; do
  for cb in openssl mbedtls wolfssl gnutls; do
    "$bin" server --backend "$sb" --cert "$pki/server-ec-chain.pem" --key "$pki/server-ec.key.pem" \
      --once >out/demo-srv.out 2>out/demo-srv.err &
    srv=$!
    for _ in $(seq 100); do [ -s out/demo-srv.out ] && break; sleep 0.05; done
    port=$(sed -n '1s/.*://p' out/demo-srv.out)
    echo "-- client $cb -> server $sb (port $port)"
    printf 'hello from %s\n' "$cb" | "$bin" client --backend "$cb" --ca "$pki/ca.pem" localhost "$port" \
      2>&1 | sed 's/^/   client: /'
    srv_rc=0
    wait $srv || srv_rc=$?
    sed 's/^/   server: /' out/demo-srv.err
    [ $srv_rc = 0 ] || { echo "demo: server $sb failed (exit $srv_rc) with client $cb"; exit 1; }
  done
done
if [ -x out/build-all/conformance/tlsplug-conformance ]; then
  echo "== conformance matrix"
  # the matrix is printed whatever the outcome; an unexpected result fails
  # the job after the file names are printed
  rc=0
  (cd out/build-all && ./conformance/tlsplug-conformance --out conformance) || rc=$?
  echo "matrix files: out/build-all/conformance/conformance.md and conformance.json"
  exit $rc
fi
