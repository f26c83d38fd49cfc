#!/usr/bin/env bash
# Run the whole test suite: install, lint, start the embedded services, run pytest.
# Extra arguments go to pytest (e.g. ./test.sh tests/knowledge -x).
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh requirements-dev.txt
# shellcheck disable=SC1091
. .venv/bin/activate

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Chromium for the browser tests"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: run 'sudo apt-get install chromium' once." >&2
    exit 1
  fi
fi

ruff check .
ruff format --check .
lint-imports --no-cache

started="$(python manage.py services start --print-started)"
cleanup() { if [ -n "$started" ]; then python manage.py services stop --only "$started" >/dev/null; fi; }
trap cleanup EXIT
python -m pytest "$@"
