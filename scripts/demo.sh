#!/usr/bin/env bash
# Runs `quickmc demo`: starts a throwaway memcached and walks through the
# main operations. Installs memcached first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# The first build takes minutes: say so, and let cargo show its progress.
echo "demo: building quickmc with cargo (the first build takes a few minutes)..." >&2
exec cargo run --release --features cli -- demo "$@"
