#!/usr/bin/env bash
# Installs what a fresh Debian machine with only the Rust toolchain lacks: libclang (bindgen for
# librocksdb-sys), a C++ compiler, OpenSSL (key interoperability test) and kcat (a Kafka client
# for trying ingest by hand). Idempotent: installs nothing that is already there.
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libclang-dev g++ make openssl kcat; do
  have_pkg "$pkg" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
