#!/usr/bin/env bash
# The README's second command: set up what is missing, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idledger/target}"
cargo test --release --locked --workspace "$@"
