#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (test/browser/), which drive it with
# playwright-core. `npx playwright install` cannot download browsers here, so the distribution
# package is used. Idempotent: does nothing when /usr/bin/chromium is already present.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "install-chromium: $CHROMIUM already present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-chromium: must run as root (or with sudo available) to apt-get install chromium" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: installing Debian's chromium (apt-get update + install, about 40 s)..."
LOG="$(mktemp -t install-chromium.XXXXXX)"
trap 'rm -f "$LOG"' EXIT
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium; } >"$LOG" 2>&1; then
  echo "install-chromium: apt-get failed; its output:" >&2
  cat "$LOG" >&2
  exit 1
fi

if [ ! -x "$CHROMIUM" ]; then
  echo "install-chromium: apt-get finished but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "install-chromium: done ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
