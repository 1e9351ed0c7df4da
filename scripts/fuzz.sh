#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target for SECONDS each (default 60), on the
# stable toolchain: `-s none` builds without a sanitizer, which would need
# nightly. Installs cargo-fuzz when it is missing. Fails if any target
# crashes, panics or times out; the input is then in fuzz/artifacts/<target>/
# (minimise it with `cargo fuzz tmin -s none <target> <input>` and keep it
# in fuzz/regressions/<target>/).
#
#   ./scripts/fuzz.sh          # 60 s per target
#   ./scripts/fuzz.sh 600      # 10 minutes per target
#
# New inputs libFuzzer finds go to fuzz/target/corpus/<target>/ (kept between
# runs, not committed); the committed seeds in fuzz/corpus/<target>/ and the
# regressions are read, never written.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: $0 [SECONDS per target]" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cargo fuzz build -s none

failed=()
for target in $(cargo fuzz list); do
    work="target/corpus/$target"
    log="target/fuzz-$target.log"
    mkdir -p "$work" "corpus/$target" "regressions/$target"
    echo "== $target: ${seconds}s (log: fuzz/$log)"
    if cargo fuzz run -s none "$target" "$work" "corpus/$target" "regressions/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        # The last status line (cov:, ft:, corp:, exec/s:) and the average speed.
        grep -E '^#[0-9]+' "$log" | tail -n 1
        grep -E 'stat::(number_of_executed_units|average_exec_per_sec)' "$log" || true
    else
        failed+=("$target")
        echo "!! $target failed:"
        grep -E 'panicked at|ERROR|SUMMARY|Test unit written|artifact_prefix|timeout' "$log" | head -n 20 || true
        tail -n 20 "$log"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzzing passed: every target ran ${seconds}s without a crash"
