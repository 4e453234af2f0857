#!/usr/bin/env bash
# make-tls-certificates.sh - a throwaway CA and a server certificate for 127.0.0.1, for the
# demo, the benchmarks and anything else that starts a TLS MariaDB on this machine.
#
# Usage: scripts/make-tls-certificates.sh DIR [NAME]
#
# Writes DIR/ca.pem (the CA to give the relay as ssl-ca), DIR/server.pem and DIR/server.key
# (for mariadbd --ssl-cert/--ssl-key; subjectAltName IP:127.0.0.1 and DNS:localhost, so
# VERIFY_IDENTITY passes), valid two days. NAME goes into the CA's common name. The same
# certificates as Tests/TestSupport/TestCertificates.swift makes for the tests. openssl's output
# goes to DIR/openssl.log, and is printed if it fails.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DIR [NAME]" >&2; exit 2; }
dir=$1
name=${2:-binlog-relay}
mkdir -p "$dir"
(
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.pem -subj "/CN=$name CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
    # mariadbd may run as another user than the one who made the key.
    chmod 644 server.key
) >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; echo "make-tls-certificates.sh: openssl failed" >&2; exit 1; }
