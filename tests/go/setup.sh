#!/usr/bin/env bash
# Prepares the Go receipt check (tests/go_receipt.rs, tests/go/verify_receipt.go): Go and Go's
# reference transparency-log packages (golang.org/x/mod/sumdb/note and sumdb/tlog) from Debian,
# so the check needs no module download: it builds in GOPATH mode against /usr/share/gocode.
#
# Idempotent: does nothing if both are present. Installs golang-go and golang-golang-x-mod-dev
# with apt-get when missing and we are root; otherwise says what to install and fails.
#
# Usage: bash tests/go/setup.sh        (from anywhere)
set -euo pipefail

say() { echo "go setup: $*"; }
note_pkg=/usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go

if command -v go >/dev/null 2>&1 && [ -f "$note_pkg" ]; then
  say "$(go version) and golang.org/x/mod in /usr/share/gocode already present; nothing to do"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  say "needs the Debian packages golang-go and golang-golang-x-mod-dev (run as root with apt-get, or install them)"
  exit 1
fi
say "installing golang-go and golang-golang-x-mod-dev with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends golang-go golang-golang-x-mod-dev >/dev/null
say "$(go version) installed"
