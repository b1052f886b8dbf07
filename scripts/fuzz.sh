#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a while (default 60 s each; `scripts/fuzz.sh 600`
# for ten minutes each), starting from the seed inputs in fuzz/seeds/<target>. New inputs the
# fuzzer finds are kept between runs in a corpus beside the build; a failing input is written to
# fuzz/artifacts/<target>/ and the script stops with libFuzzer's report.
#
# cargo-fuzz asks for a nightly compiler for the flags it passes; RUSTC_BOOTSTRAP=1 lets this
# project's stable toolchain accept them. The targets run without AddressSanitizer
# (`--sanitizer none`): the code under test is safe Rust, so what fuzzing looks for is panics,
# overflows (debug assertions are on) and broken properties, not memory errors.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${IDLEDGER_FUZZ_TARGET_DIR:-$HOME/.cache/idledger/fuzz-target}
for target in leaf checkpoint tlog_proof event bundle secrets entry_bundle tile_path witness_request cosigned formats export; do
    corpus="$CARGO_TARGET_DIR/corpus/$target"
    mkdir -p "$corpus"
    echo "fuzz: $target for ${seconds}s"
    log="$CARGO_TARGET_DIR/fuzz-$target.log"
    if cargo fuzz run --sanitizer none -O "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        grep -E "^Done [0-9]+ runs|stat::number_of_executed_units|stat::new_units_added" "$log"
    else
        tail -n 40 "$log"
        echo "fuzz: $target failed; the input is in fuzz/artifacts/$target/ (full log: $log)"
        exit 1
    fi
done
