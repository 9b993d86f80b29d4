#!/usr/bin/env bash
# Installs the Debian packages tlsplug needs, only those missing.
# Used by every other script here; safe to run again.
set -euo pipefail
pkgs=(build-essential cmake pkg-config ccache python3 openssl ca-certificates
      libssl-dev libmbedtls-dev libwolfssl-dev libgnutls28-dev gnutls-bin
      libcmocka-dev libuv1-dev libevent-dev valgrind clang-14 libclang-rt-14-dev
      doxygen tshark)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "ci/setup.sh: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
