#!/usr/bin/env bash
# Runs `quickmc demo`: starts a throwaway memcached and walks through the
# main operations. Installs memcached first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo run --quiet --release --features cli -- demo "$@"
