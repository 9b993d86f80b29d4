#!/usr/bin/env bash
# keylog_tshark.sh TLSPLUG_BIN PKI_DIR "BACKENDS": SSLKEYLOGFILE makes a
# capture decryptable.  Per backend that can log keys, two loopback exchanges
# between a tlsplug server and client of that backend are captured with
# dumpcap (capture filter on the port): one where only the client logs keys
# (default version: TLS 1.3 where the backend has it), one where only the
# server does (TLS 1.2).  tshark must find the plaintext with the key log and
# must not find it without.  A backend without key logging (wolfSSL as
# Debian builds it) must still talk, and write nothing to the file.
# Exits 77 (skipped) without tshark/dumpcap or the right to capture on lo.
set -uo pipefail
bin=$1 pki=$2 backends=${3//;/ } # a CMake list or words
[ -x "$bin" ] || { echo "FAIL: $bin is not a program"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "${KEEP:-}" ] && cp -r "$work" "$KEEP"; rm -rf "$work"
}
trap cleanup EXIT

for t in tshark dumpcap; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed (Debian: tshark)"; exit 77; }
done
if ! timeout 10 dumpcap -q -i lo -f "tcp port 9" -a duration:1 -w "$work/probe.pcapng" \
    >"$work/probe.log" 2>&1; then
  echo "SKIP: cannot capture on lo: $(tail -1 "$work/probe.log")"
  exit 77
fi

fail=0
passed=0
note() { echo "$*"; }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# wait_for FILE PATTERN: up to 10 s for PATTERN to appear in FILE.
wait_for() {
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# capture_live FILE PORT: up to 10 s for a sentinel datagram to be captured.
capture_live() {
  for _ in $(seq 100); do
    echo sentinel >"/dev/udp/127.0.0.1/$2" 2>/dev/null
    sleep 0.1
    [ "$(tshark -r "$1" -Y udp 2>/dev/null | wc -l)" -gt 0 ] && return 0
  done
  return 1
}

# exchange NAME BACKEND WHO(client|server|none) [server options...]: one
# captured conversation; leaves $work/NAME.pcapng, $work/NAME.keys, $port.
exchange() {
  local name=$1 b=$2 who=$3
  shift 3
  local keys=$work/$name.keys skeys=/dev/null ckeys=/dev/null
  : >"$keys"
  [ "$who" = server ] && skeys=$keys
  [ "$who" = client ] && ckeys=$keys
  # An empty SSLKEYLOGFILE means "off", like unset.
  [ "$skeys" = /dev/null ] && skeys=
  [ "$ckeys" = /dev/null ] && ckeys=
  SSLKEYLOGFILE=$skeys "$bin" server --backend "$b" --cert "$pki/server-ec-chain.pem" \
    --key "$pki/server-ec.key.pem" --once "$@" >"$work/$name.srv.out" 2>"$work/$name.srv.err" &
  local srv=$!
  pids+=("$srv")
  wait_for "$work/$name.srv.out" listening || { bad "$name: server did not start"; return 1; }
  port=$(sed -n '1s/.*://p' "$work/$name.srv.out")
  dumpcap -q -i lo -f "tcp port $port or udp port $port" -w "$work/$name.pcapng" \
    >"$work/$name.cap.log" 2>&1 &
  local cap=$!
  pids+=("$cap")
  # "Capturing on" is printed before the filter is live: under load the
  # ClientHello was missed and nothing could be decrypted.  Wait until a UDP
  # datagram sent to the same port number shows up in the file instead.
  capture_live "$work/$name.pcapng" "$port" || { bad "$name: capture did not start"; return 1; }
  printf 'tlsplug-keylog-probe-%s\n' "$name" |
    SSLKEYLOGFILE=$ckeys timeout 20 "$bin" client --backend "$b" --ca "$pki/ca.pem" \
      localhost "$port" >"$work/$name.cli.out" 2>"$work/$name.cli.err"
  local rc=$?
  wait "$srv"
  sleep 0.3 # let the last segments reach the capture
  kill -INT "$cap" 2>/dev/null
  wait "$cap" 2>/dev/null
  if [ $rc -ne 0 ] || ! grep -q "tlsplug-keylog-probe-$name" "$work/$name.cli.out"; then
    bad "$name: exchange failed: $(tail -1 "$work/$name.cli.err")"
    return 1
  fi
  return 0
}

# plaintext_seen NAME KEYS: does tshark, given KEYS, show the probe text?
plaintext_seen() {
  local name=$1 keys=$2
  tshark -r "$work/$name.pcapng" -d "tcp.port==$port,tls" -o "tls.keylog_file:$keys" \
    -q -z follow,tls,ascii,0 2>/dev/null | grep -q "tlsplug-keylog-probe-$name"
}

check() {
  local name=$1 label=$2
  local lines
  lines=$(grep -c -E '^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0) ' \
    "$work/$name.keys")
  if [ "$lines" -eq 0 ]; then
    bad "$name: $label wrote no key log lines"
    return
  fi
  if plaintext_seen "$name" /dev/null; then
    bad "$name: plaintext visible without the key log (not encrypted?)"
  elif ! plaintext_seen "$name" "$work/$name.keys"; then
    bad "$name: tshark could not decrypt the capture with the key log"
  else
    note "ok: $name: $label key log ($(wc -l <"$work/$name.keys") lines) decrypts the capture"
    passed=$((passed + 1))
  fi
}

for b in $backends; do
  if ! "$bin" backends | grep "^$b " | grep -q keylog; then
    # No key logging in this build of the library: the variable is ignored.
    if exchange "$b-nokeylog" "$b" client; then
      if [ -s "$work/$b-nokeylog.keys" ]; then
        bad "$b: wrote a key log although it has no key logging"
      else
        note "ok: $b: no key logging in this library build; SSLKEYLOGFILE is ignored"
        passed=$((passed + 1))
      fi
    fi
    continue
  fi
  exchange "$b-client" "$b" client && check "$b-client" "$b client"
  exchange "$b-server12" "$b" server --max-version 1.2 && check "$b-server12" "$b server (TLS 1.2)"
done

echo "keylog-tshark: $passed passed, $fail failed"
[ $fail -eq 0 ]
