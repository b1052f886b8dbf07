#!/usr/bin/env bash
# Installs what a fresh Debian machine with only the Rust toolchain lacks: libclang (bindgen for
# librocksdb-sys), a C++ compiler, OpenSSL (key interoperability test), kcat (a Kafka client
# for trying ingest by hand) and schemathesis (PyPI: tests/http.rs checks the HTTP API against
# its OpenAPI document with it). Idempotent: installs nothing that is already there.
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libclang-dev g++ make openssl kcat; do
  have_pkg "$pkg" || need+=("$pkg")
done
command -v python3 >/dev/null || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
schemathesis_version=4.32.5
if ! python3 -m schemathesis.cli --version 2>/dev/null | grep -q "version $schemathesis_version\$"; then
  echo "setup: installing schemathesis $schemathesis_version" >&2
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet \
    --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
