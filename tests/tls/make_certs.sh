#!/usr/bin/env bash
# Makes the certificates the TLS tests of every language use, in DIR:
#   self.pem/key      the one-liner self-signed RSA certificate for 127.0.0.1
#   self-ec.pem/key   the same with an EC key
#   other.pem/key     a self-signed certificate for example.com only
#   expired.pem/key   a self-signed certificate for 127.0.0.1 that expired in 2020
#   ca.pem/key        a throwaway CA, and leaf.pem/key: a server certificate
#                     for 127.0.0.1 and localhost signed by it
#
#   tests/tls/make_certs.sh DIR
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
q() {
    local out
    out=$("$@" 2>&1) || { echo "make_certs.sh: $*: $out" >&2; exit 1; }
}

# The README's one-liner, as a new user types it.
q openssl req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1"
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout self-ec.key -out self-ec.pem \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1"
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out other.pem \
    -subj "/CN=example.com" -addext "subjectAltName=DNS:example.com"

# Past dates need `openssl ca` (OpenSSL 3.0's req and x509 only count days from now).
q openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout expired.key -out expired.csr \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1"
: >index.txt
cat >expired.cnf <<'CNF'
[ca]
default_ca = old
[old]
database = index.txt
new_certs_dir = .
serial = expired.srl
policy = any
default_md = sha256
copy_extensions = copy
[any]
commonName = supplied
CNF
echo 01 >expired.srl
q openssl ca -batch -config expired.cnf -selfsign -keyfile expired.key -in expired.csr \
    -startdate 20200101000000Z -enddate 20200201000000Z -notext -out expired.pem

# A CA and a proper server certificate signed by it.
q openssl req -x509 -days 2 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=kapokmq test CA" -keyout ca.key -out ca.pem
q openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
    -keyout leaf.key -out leaf.csr
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
    "extendedKeyUsage=serverAuth" >leaf.ext
q openssl x509 -req -days 2 -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -extfile leaf.ext -out leaf.pem
