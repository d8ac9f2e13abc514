#!/usr/bin/env bash
# Debian's Chromium for the end-to-end tests (browsers cannot be downloaded by Playwright here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "[setup] /usr/bin/chromium is missing and we are not root: install Debian's 'chromium' package" >&2
  exit 1
fi
echo "[setup] installing Debian's chromium"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
