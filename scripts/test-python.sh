#!/usr/bin/env bash
# Builds the Python package (python/) and runs its tests: pytest against
# real memcached processes, side by side with Debian's pylibmc. The
# virtualenv (target/python-venv, gitignored) is made from Debian's
# /usr/bin/python3 with --system-site-packages, where python3-pylibmc
# imports; maturin, pytest and cryptography come from the package index. The extension is
# built in the dev profile (quick to build; the benchmark wants a release
# build: `pip install ./python`). Run ./scripts/setup.sh --tests first, as
# ./scripts/test.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

venv=target/python-venv
if ! /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "test-python: /usr/bin/python3 with venv is needed: apt-get install python3 python3-venv (./scripts/setup.sh --tests)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "test-python: making $venv from /usr/bin/python3 (--system-site-packages)" >&2
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
# cryptography: the TLS tests make their certificates with it.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2" pytest cryptography

# pip runs maturin from PATH (--no-build-isolation: the venv's own).
export PATH="$PWD/$venv/bin:$PATH"
echo "test-python: building and installing the quickmc wheel (pip install ./python, dev profile)" >&2
# The root target directory: the dependencies the Rust suite just built are
# reused where their features match.
CARGO_TARGET_DIR="$PWD/target" MATURIN_PEP517_ARGS="--profile dev" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-build-isolation --force-reinstall --no-deps ./python

# From the repository root, so the installed package (not python/quickmc,
# which has no compiled extension) is the one imported.
"$venv/bin/pytest" -q -p no:cacheprovider python/tests
