#!/usr/bin/env bash
# Prepares the Python interop test (tests/interop.rs, tests/interop/client.py): a virtual
# environment at target/interop-venv with pinned grpcio, grpcio-tools, protobuf and anyascii from
# PyPI (anyascii: the transliteration tables of the variant tokens, docs/tokens.md; the same
# upstream release as the Rust crate any_ascii pinned in Cargo.toml).
#
# Idempotent: if the venv already has exactly these versions it does nothing. Works on a fresh
# Debian machine with python3: when `python3 -m venv` lacks ensurepip (Debian ships it in the
# python3-venv package) and we are root, it installs python3-venv with apt-get.
#
# Usage: bash tests/interop/setup.sh        (from anywhere; paths are relative to the repo)
set -euo pipefail

# The newest mutually compatible trio on PyPI when this was written: grpcio-tools 1.85.1
# requires grpcio>=1.85.1 and protobuf>=7.35.1,<8; all three need Python >= 3.10.
GRPCIO_VERSION=1.85.1
GRPCIO_TOOLS_VERSION=1.85.1
PROTOBUF_VERSION=7.36.2
# Must equal the any_ascii crate version in Cargo.toml (both are built from anyascii 0.3.3).
ANYASCII_VERSION=0.3.3

repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$repo/target/interop-venv"
python="$venv/bin/python"

say() { echo "interop setup: $*"; }

# True if the venv exists and holds exactly the pinned versions.
venv_ready() {
  [ -x "$python" ] || return 1
  "$python" - "$GRPCIO_VERSION" "$GRPCIO_TOOLS_VERSION" "$PROTOBUF_VERSION" "$ANYASCII_VERSION" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
want = dict(zip(["grpcio", "grpcio-tools", "protobuf", "anyascii"], sys.argv[1:]))
sys.exit(0 if all(version(name) == v for name, v in want.items()) else 1)
EOF
}

# Tokens v2 (tests/interop/tokens_v2.py) uses libsodium's ristretto255 functions through ctypes.
if ! python3 -c 'import ctypes, ctypes.util; ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23").crypto_core_ristretto255_from_hash' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "libsodium with ristretto255 is missing; installing libsodium23 with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsodium23
  else
    say "libsodium >= 1.0.18 is missing (as root: apt-get install libsodium23)" >&2
    exit 1
  fi
fi

if venv_ready; then
  say "$venv already has grpcio $GRPCIO_VERSION, grpcio-tools $GRPCIO_TOOLS_VERSION, protobuf $PROTOBUF_VERSION, anyascii $ANYASCII_VERSION; nothing to do"
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1; then
  say "python3 is not installed (on Debian: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  say "python3 $(python3 -c 'import platform; print(platform.python_version())') is too old; grpcio $GRPCIO_VERSION needs 3.10 or later" >&2
  exit 1
fi

# Debian's python3 has the venv module but not ensurepip unless python3-venv is installed.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "python3 cannot create virtual environments; installing python3-venv with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
  else
    say "python3 cannot create virtual environments: install python3-venv (as root: apt-get install python3-venv)" >&2
    exit 1
  fi
fi

if [ -e "$venv" ]; then
  say "recreating $venv (missing or different package versions)"
  rm -rf "$venv"
fi
mkdir -p "$repo/target"
say "creating $venv with $(python3 -c 'import sys; print(sys.executable, sys.version.split()[0])')"
if ! python3 -m venv "$venv"; then
  rm -rf "$venv"
  say "python3 -m venv failed" >&2
  exit 1
fi

say "installing grpcio==$GRPCIO_VERSION grpcio-tools==$GRPCIO_TOOLS_VERSION protobuf==$PROTOBUF_VERSION anyascii==$ANYASCII_VERSION from PyPI"
if ! "$python" -m pip install --quiet --disable-pip-version-check --no-input \
  "grpcio==$GRPCIO_VERSION" "grpcio-tools==$GRPCIO_TOOLS_VERSION" "protobuf==$PROTOBUF_VERSION" \
  "anyascii==$ANYASCII_VERSION"; then
  rm -rf "$venv"
  say "pip install failed; removed the partial venv" >&2
  exit 1
fi

if ! venv_ready; then
  say "the installed versions are not the pinned ones:" >&2
  "$python" -m pip list >&2 || true
  exit 1
fi
say "done: $("$python" -m pip list --format=freeze 2>/dev/null | grep -E '^(grpcio|grpcio-tools|protobuf|anyascii)==' | paste -sd ' ' -)"
