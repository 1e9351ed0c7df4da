#!/usr/bin/env bash
# Runs the whole test suite (unit, integration against real memcached
# processes, doctests, CLI tests), then the Python package's tests
# (scripts/test-python.sh). Installs memcached, sasl2-bin and the Python
# test dependencies first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --tests
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --all-features --all-targets
cargo test --all-features --doc
./scripts/test-python.sh
