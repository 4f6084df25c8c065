#!/usr/bin/env bash
# Installs everything the tests need, then runs lint, type checks and the test suite.
#   Debian packages (apt-get, when missing): ffmpeg espeak-ng chromium chromium-driver
#   Node packages: tests/node (npm ci; Debian nodejs + npm when npm is missing)
#   Python packages: a virtualenv in .venv from requirements*.txt
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {  # Debian packages, once, with sudo when not root
  echo "installing Debian packages: $*"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
for tool in ffmpeg espeak-ng; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# The admin page's browser test: Debian's headless Chromium and its WebDriver.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
fi

# Node test peers (MCP server-everything, dynalite), pinned in tests/node/package-lock.json.
if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy src telegram_bot.py tests bench
.venv/bin/pytest "$@"
