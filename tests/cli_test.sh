#!/usr/bin/env bash
# The tlsplug command-line program, end to end over loopback:
#  - every client backend against every server backend (both built in);
#  - tlsplug client against openssl s_server, tlsplug server against
#    openssl s_client (and gnutls-cli/gnutls-serv when installed);
#  - failures end with "tlsplug: error: <class>: <message>" and exit non-zero.
# Usage: cli_test.sh TLSPLUG_BINARY PKI_DIR "BACKEND;LIST"
set -u
bin=$1 pki=$2
IFS=';' read -r -a backends <<<"$3"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 fail=0

ok()  { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# start_server BACKEND EXTRA... : runs "tlsplug server --once" and sets $port.
start_server() {
  local b=$1; shift
  rm -f "$tmp/srv.out"
  "$bin" server --backend "$b" --cert "$pki/server-ec-chain.pem" --key "$pki/server-ec.key.pem" \
    --once "$@" >"$tmp/srv.out" 2>"$tmp/srv.err" &
  srv_pid=$!
  for _ in $(seq 100); do
    [ -s "$tmp/srv.out" ] && break
    sleep 0.05
  done
  port=$(sed -n '1s/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/srv.out")
}

wait_server() {
  local rc
  for _ in $(seq 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.05; done
  kill "$srv_pid" 2>/dev/null
  wait "$srv_pid" 2>/dev/null; rc=$?
  return $rc
}

# 1. backends
out=$("$bin" backends)
for b in "${backends[@]}"; do
  if grep -q "^$b " <<<"$out"; then ok "backends lists $b"; else bad "backends lists $b: $out"; fi
done

# 2. every pair through the CLI
for sb in "${backends[@]}"; do
  for cb in "${backends[@]}"; do
    start_server "$sb"
    if [ -z "$port" ]; then bad "$cb -> $sb: server did not print its port"; continue; fi
    msg="hello from $cb to $sb"
    got=$(printf '%s\n' "$msg" | timeout 20 "$bin" client --backend "$cb" --ca "$pki/ca.pem" localhost "$port" 2>"$tmp/cli.err")
    crc=$?
    wait_server; src=$?
    if [ $crc -eq 0 ] && [ $src -eq 0 ] && [ "$got" = "$msg" ] &&
       grep -q "handshake: backend=$cb" "$tmp/cli.err" && grep -q "handshake: backend=$sb" "$tmp/srv.err"; then
      ok "client $cb -> server $sb: $(grep -o 'version=[^ ]* cipher=[^ ]*' "$tmp/cli.err")"
    else
      bad "client $cb -> server $sb (client $crc, server $src, got '$got')"
      cat "$tmp/cli.err" "$tmp/srv.err"
    fi
  done
done

# 3. failure reporting: a client that does not trust the server's CA
b=${backends[0]}
start_server "$b"
printf 'x\n' | timeout 20 "$bin" client --backend "$b" --ca "$pki/other.pem" localhost "$port" >/dev/null 2>"$tmp/cli.err"
crc=$?
wait_server
last=$(tail -n 1 "$tmp/cli.err")
if [ $crc -ne 0 ] && [[ "$last" == "tlsplug: error: certificate-untrusted: "* ]]; then
  ok "untrusted server: '$last'"
else
  bad "untrusted server: exit $crc, last line '$last'"
fi
# hostname mismatch: ask for another name
start_server "$b"
printf 'x\n' | timeout 20 "$bin" client --backend "$b" --ca "$pki/ca.pem" --sni other.example 127.0.0.1 "$port" >/dev/null 2>"$tmp/cli.err"
crc=$?
wait_server
last=$(tail -n 1 "$tmp/cli.err")
if [ $crc -ne 0 ] && [[ "$last" == "tlsplug: error: certificate-hostname-mismatch: "* ]]; then
  ok "wrong name: '$last'"
else
  bad "wrong name: exit $crc, last line '$last'"
fi
# nothing listening
p=$(free_port)
timeout 20 "$bin" client --backend "$b" --ca "$pki/ca.pem" localhost "$p" </dev/null >/dev/null 2>"$tmp/cli.err"
crc=$?
last=$(tail -n 1 "$tmp/cli.err")
if [ $crc -ne 0 ] && [[ "$last" == "tlsplug: error: io-error: "* ]]; then ok "refused: '$last'"; else bad "refused: exit $crc '$last'"; fi
# a bad option value
"$bin" client --min-version 1.1 localhost 1 >/dev/null 2>&1
if [ $? -eq 2 ]; then ok "bad option is a usage error"; else bad "bad option exit code"; fi

# 4. real peers: openssl s_server / s_client, gnutls-serv / gnutls-cli
for b in "${backends[@]}"; do
  p=$(free_port)
  timeout 20 openssl s_server -accept "127.0.0.1:$p" -cert "$pki/server-ec.pem" -cert_chain "$pki/inter.pem" \
    -key "$pki/server-ec.key.pem" -naccept 1 -rev >"$tmp/ss.out" 2>&1 &
  ss=$!
  for _ in $(seq 100); do grep -q ACCEPT "$tmp/ss.out" 2>/dev/null && break; sleep 0.05; done
  got=$(printf 'hello\n' | timeout 20 "$bin" client --backend "$b" --ca "$pki/ca.pem" localhost "$p" 2>"$tmp/cli.err")
  crc=$?
  kill $ss 2>/dev/null; wait $ss 2>/dev/null
  if [ $crc -eq 0 ] && [ "$got" = "olleh" ]; then ok "tlsplug client ($b) -> openssl s_server"
  else bad "tlsplug client ($b) -> openssl s_server: exit $crc got '$got'"; cat "$tmp/cli.err" "$tmp/ss.out"; fi

  start_server "$b"
  got=$( (printf 'ping\n'; sleep 0.5) | timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$pki/ca.pem" \
    -verify_return_error -servername localhost -brief 2>"$tmp/sc.err")
  crc=$?
  wait_server; src=$?
  if [ $crc -eq 0 ] && [ "$got" = "ping" ] && [ $src -eq 0 ]; then ok "openssl s_client -> tlsplug server ($b)"
  else bad "openssl s_client -> tlsplug server ($b): client $crc server $src got '$got'"; cat "$tmp/sc.err" "$tmp/srv.err"; fi

  if command -v gnutls-cli >/dev/null; then
    start_server "$b"
    got=$( (printf 'gnu\n'; sleep 0.5) | timeout 20 gnutls-cli --x509cafile="$pki/ca.pem" -p "$port" localhost --logfile=/dev/null 2>"$tmp/gc.err" | tail -n 1)
    crc=$?
    wait_server; src=$?
    if [ "$got" = "gnu" ] && [ $src -eq 0 ]; then ok "gnutls-cli -> tlsplug server ($b)"
    else bad "gnutls-cli -> tlsplug server ($b): server $src got '$got'"; cat "$tmp/gc.err" "$tmp/srv.err"; fi
  fi
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
