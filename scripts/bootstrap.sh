#!/usr/bin/env bash
# Create .venv and install the pinned requirements; a no-op when nothing changed.
# Usage: scripts/bootstrap.sh requirements.txt|requirements-dev.txt
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${1:-requirements.txt}"
python_bin="$(command -v python3.11 || command -v python3)"
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv"
  "$python_bin" -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements.txt "$requirements" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing $requirements (first time: several minutes; llama-cpp-python compiles)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # The CPU build of torch first, so nothing can pull the CUDA one in.
  .venv/bin/python -m pip install --quiet torch==2.13.0
  .venv/bin/python -m pip install --quiet -r "$requirements"
  touch "$stamp"
fi
