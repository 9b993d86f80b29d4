#!/usr/bin/env bash
# Makes the test PKI with the openssl command-line tool, at build time, so
# nothing in the repository can expire.  Usage: make-pki.sh OUTDIR
# Idempotent: does nothing if OUTDIR/.done is newer than this script.
set -euo pipefail
out=${1:?usage: make-pki.sh OUTDIR}
mkdir -p "$out"
if [ -f "$out/.done" ] && [ "$out/.done" -nt "$0" ]; then exit 0; fi
cd "$out"
rm -f ./*.pem ./*.srl ./*.cnf ./*.csr .done
export OPENSSL_CONF=/dev/null

ec()  { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# ext FILE KIND [SAN]: extension file for a CA, a server or a client leaf.
ext() {
  local f=$1 kind=$2 san=${3:-}
  case $kind in
    ca) printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >"$f" ;;
    server) printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\nsubjectAltName=%s\n' "$san" >"$f" ;;
    client) printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >"$f" ;;
  esac
}

# sign NAME KEY SUBJECT ISSUER KIND [SAN] [DAYS_FROM] [DAYS_TO]
# Validity is set with -not_before/-not_after style via faketime-free
# 'openssl x509 -days'; for expired / not-yet-valid we use 'openssl ca'-less
# explicit dates through x509 -set_serial plus -not_before (OpenSSL 3).
sign() {
  local name=$1 key=$2 subj=$3 issuer=$4 kind=$5 san=${6:-} nb=${7:-} na=${8:-}
  ext "$name.ext.cnf" "$kind" "$san"
  openssl req -new -key "$key" -subj "$subj" -out "$name.csr" 2>/dev/null
  local dates=(-days 3650)
  if [ -n "$nb" ]; then dates=(-not_before "$nb" -not_after "$na"); fi
  if [ "$issuer" = self ]; then
    openssl x509 -req -in "$name.csr" -signkey "$key" -extfile "$name.ext.cnf" \
      -set_serial "0x$(openssl rand -hex 8)" "${dates[@]}" -out "$name.pem" 2>/dev/null
  else
    openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key.pem" \
      -extfile "$name.ext.cnf" -set_serial "0x$(openssl rand -hex 8)" "${dates[@]}" \
      -out "$name.pem" 2>/dev/null
  fi
  rm -f "$name.csr" "$name.ext.cnf"
}

# openssl x509 in 3.0 has no -not_before; use 'openssl ca' for dated certs.
dated() { # NAME KEY SUBJECT ISSUER SAN STARTDATE ENDDATE (YYYYMMDDHHMMSSZ)
  local name=$1 key=$2 subj=$3 issuer=$4 san=$5 sd=$6 ed=$7
  mkdir -p ca-db && : > ca-db/index.txt && echo 01 > ca-db/serial
  ext "$name.ext.cnf" server "$san"
  cat > "$name.ca.cnf" <<CNF
[ca]
default_ca=d
[d]
database=ca-db/index.txt
serial=ca-db/serial
new_certs_dir=ca-db
default_md=sha256
policy=p
unique_subject=no
[p]
commonName=supplied
CNF
  openssl req -new -key "$key" -subj "$subj" -out "$name.csr" 2>/dev/null
  openssl ca -batch -config "$name.ca.cnf" -cert "$issuer.pem" -keyfile "$issuer.key.pem" \
    -in "$name.csr" -out "$name.pem" -extfile "$name.ext.cnf" -startdate "$sd" -enddate "$ed" \
    -notext 2>/dev/null
  rm -rf "$name.csr" "$name.ext.cnf" "$name.ca.cnf" ca-db
}

# Roots and intermediate.
ec root.key.pem;   sign root root.key.pem "/CN=tlsplug test root" self ca
ec inter.key.pem;  sign inter inter.key.pem "/CN=tlsplug test intermediate" root ca
ec other.key.pem;  sign other other.key.pem "/CN=tlsplug unknown root" self ca

SAN="DNS:localhost,DNS:tlsplug.test,IP:127.0.0.1"
# Server leaves, issued by the intermediate; *-chain.pem = leaf + intermediate.
ec server-ec.key.pem;   sign server-ec server-ec.key.pem "/CN=localhost" inter server "$SAN"
rsa server-rsa.key.pem; sign server-rsa server-rsa.key.pem "/CN=localhost" inter server "$SAN"
for n in server-ec server-rsa; do cat $n.pem inter.pem > $n-chain.pem; done
# Second name for SNI switching.
ec server-alt.key.pem; sign server-alt server-alt.key.pem "/CN=alt.tlsplug.test" inter server "DNS:alt.tlsplug.test"
cat server-alt.pem inter.pem > server-alt-chain.pem
# The same name and key issued by the root: openssl s_server takes no chain
# for its SNI certificate (-cert2), so the peers run serves this one.
sign server-alt-root server-alt.key.pem "/CN=alt.tlsplug.test" root server "DNS:alt.tlsplug.test"
# Variants.
ec bad.key.pem
dated expired bad.key.pem "/CN=localhost" inter "$SAN" 20200101000000Z 20210101000000Z
cat expired.pem inter.pem > expired-chain.pem
dated notyet bad.key.pem "/CN=localhost" inter "$SAN" 20990101000000Z 21000101000000Z
cat notyet.pem inter.pem > notyet-chain.pem
sign wronghost bad.key.pem "/CN=wrong.example" inter server "DNS:wrong.example"
cat wronghost.pem inter.pem > wronghost-chain.pem
sign selfsigned bad.key.pem "/CN=localhost" self server "$SAN"
sign unknownca bad.key.pem "/CN=localhost" other server "$SAN"
sign ipsan bad.key.pem "/CN=ip only" inter server "IP:127.0.0.1"
cat ipsan.pem inter.pem > ipsan-chain.pem
sign wildcard bad.key.pem "/CN=*.tlsplug.test" inter server "DNS:*.tlsplug.test"
cat wildcard.pem inter.pem > wildcard-chain.pem
# Bad signature: flip one byte inside the signature of a valid leaf.
python3 - server-ec.pem badsig.pem <<'PY'
import base64, sys
pem = open(sys.argv[1]).read().split('-----')[2]
der = bytearray(base64.b64decode(''.join(pem.split())))
der[-10] ^= 0x01
b64 = base64.b64encode(bytes(der)).decode()
with open(sys.argv[2], 'w') as f:
    f.write('-----BEGIN CERTIFICATE-----\n')
    f.write('\n'.join(b64[i:i+64] for i in range(0, len(b64), 64)))
    f.write('\n-----END CERTIFICATE-----\n')
PY
cp server-ec.key.pem badsig.key.pem
cat badsig.pem inter.pem > badsig-chain.pem
# Clients.
ec client.key.pem; sign client client.key.pem "/CN=tlsplug client" inter client
cat client.pem inter.pem > client-chain.pem
ec client-untrusted.key.pem; sign client-untrusted client-untrusted.key.pem "/CN=untrusted client" other client
# Key that does not match its certificate; an encrypted key.
cp bad.key.pem mismatch.key.pem
openssl pkey -in server-ec.key.pem -aes256 -passout pass:secret -out server-ec.enc.key.pem 2>/dev/null
# Trust bundles: root only (the chains carry the intermediate).
cp root.pem ca.pem
touch .done
