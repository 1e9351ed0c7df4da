#!/usr/bin/env bash
# Runs the benchmark suite (criterion; real memcached processes on
# 127.0.0.1, started by the suite) and prints a table of ratios against the
# raw-socket baseline. Extra arguments go to criterion, e.g. a filter:
#   ./scripts/bench.sh get_multi
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo bench --bench quickmc --features tls,tokio -- "$@"
echo
echo "machine: $(nproc) cores, $(uname -sr); $(memcached -V); $(date -u +%Y-%m-%d)"
cargo run --quiet --release --example bench_table -- --markdown
