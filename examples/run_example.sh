#!/usr/bin/env bash
# run_example.sh NAME EXAMPLE_BIN PKI_DIR [TLSPLUG_CLI]: runs the examples
# that need a peer, on loopback with the test PKI.
#   https_get: against `openssl s_server -www`
#   echo_uv:   with the tlsplug command-line client as the peer
set -euo pipefail
name=$1 bin=$2 pki=$3 cli=${4:-}
work=$(mktemp -d)
srv=
cleanup() {
  if [ -n "$srv" ]; then kill "$srv" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # FILE PATTERN
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run_example: '$2' never appeared in $1"; cat "$1"; exit 1
}

case $name in
https_get)
  openssl s_server -www -accept 0 -naccept 1 -cert "$pki/server-ec-chain.pem" -cert_chain "$pki/inter.pem" \
    -key "$pki/server-ec.key.pem" >"$work/srv.out" 2>&1 &
  srv=$!
  wait_for "$work/srv.out" '^ACCEPT'
  port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$work/srv.out")
  "$bin" --ca "$pki/ca.pem" localhost "$port" / >"$work/out" 2>"$work/err" ||
    { cat "$work/err"; exit 1; }
  cat "$work/err"
  head -1 "$work/out"
  head -1 "$work/out" | grep -q '^HTTP/1.[01] 200' || { echo "no 200 response"; exit 1; }
  # a wrong trust anchor must fail with a certificate error, not a response
  openssl s_server -www -accept 0 -naccept 1 -cert "$pki/server-ec-chain.pem" -cert_chain "$pki/inter.pem" \
    -key "$pki/server-ec.key.pem" >"$work/srv2.out" 2>&1 &
  srv=$!
  wait_for "$work/srv2.out" '^ACCEPT'
  port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$work/srv2.out")
  if "$bin" --ca "$pki/other.pem" localhost "$port" / >"$work/out2" 2>"$work/err2"; then
    echo "https_get trusted a server it should not"; exit 1
  fi
  grep -q certificate-untrusted "$work/err2" || { cat "$work/err2"; exit 1; }
  echo "https_get: untrusted server refused"
  ;;
echo_uv)
  "$bin" --once "$pki/server-ec-chain.pem" "$pki/server-ec.key.pem" >"$work/srv.out" 2>"$work/srv.err" &
  srv=$!
  wait_for "$work/srv.out" listening
  port=$(sed -n '1s/.*://p' "$work/srv.out")
  printf 'hello over libuv\n' | "$cli" client --ca "$pki/ca.pem" localhost "$port" >"$work/out" 2>"$work/err" ||
    { cat "$work/err"; exit 1; }
  grep -q 'hello over libuv' "$work/out" || { echo "no echo"; cat "$work/out" "$work/err"; exit 1; }
  wait "$srv"
  srv=
  cat "$work/srv.err"
  echo "echo_uv: echoed over libuv"
  ;;
*)
  echo "run_example: unknown example $name"; exit 2 ;;
esac
