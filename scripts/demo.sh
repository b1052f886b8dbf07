#!/usr/bin/env bash
# The README's first command: set up what is missing, build, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idledger/target}"
cargo build --release --locked
exec "$CARGO_TARGET_DIR/release/idledger" demo "$@"
