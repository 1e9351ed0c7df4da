#!/usr/bin/env bash
# Runs the whole test suite (unit, integration against real memcached
# processes, doctests, CLI tests). Installs memcached and sasl2-bin first
# when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --tests
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --all-features --all-targets
cargo test --all-features --doc
