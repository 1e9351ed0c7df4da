#!/usr/bin/env bash
# Installs what quickmc's demo and tests need on a Debian machine: memcached
# (and, for the tests, sasl2-bin, python3-venv, python3-dev and
# python3-pylibmc) and a C compiler (zstd-sys builds C code) via apt-get, and
# a Rust toolchain via rustup when cargo is missing.
# Safe to run again: it installs only what is missing.
set -euo pipefail

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

has_c_compiler() {
  command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || command -v clang >/dev/null 2>&1
}

need_apt=()
command -v memcached >/dev/null 2>&1 || need_apt+=(memcached)
if [ "${1:-}" = "--tests" ]; then
  command -v saslpasswd2 >/dev/null 2>&1 || need_apt+=(sasl2-bin)
  # The Python package's tests: a virtualenv from Debian's own python3
  # (Debian's pylibmc imports only there), its headers, and the real
  # pylibmc to compare with.
  [ -x /usr/bin/python3 ] || need_apt+=(python3)
  /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
  compgen -G '/usr/include/python3*/Python.h' >/dev/null || need_apt+=(python3-dev)
  /usr/bin/python3 -c 'import pylibmc' >/dev/null 2>&1 || need_apt+=(python3-pylibmc)
fi
# Needed whether or not cargo is already there: without it zstd-sys fails
# to build.
has_c_compiler || need_apt+=(build-essential)
rust_missing=false
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  rust_missing=true
  command -v curl >/dev/null 2>&1 || need_apt+=(curl ca-certificates)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# The Debian package starts a memcached service on 127.0.0.1:11211 where an
# init system runs; quickmc's demo and tests start their own on free ports.

if [ "$rust_missing" = true ]; then
  echo "setup: installing Rust with rustup" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
