#!/usr/bin/env bash
# Create .venv and install the pinned requirements; a no-op when nothing changed.
# Usage: scripts/bootstrap.sh [--dry-run] requirements.txt|requirements-dev.txt
#   --dry-run: say what would be installed (and whether llama-cpp-python would compile),
#   install nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
dry_run=""
if [ "${1:-}" = "--dry-run" ]; then
  dry_run=1
  shift
fi
requirements="${1:-requirements.txt}"
python_bin="$(command -v python3.11 || command -v python3)"

# llama-cpp-python has no binary wheel for most machines: pip compiles it, which is what
# takes minutes. Say so only when the venv does not already hold the pinned version.
llama_pin() {
  sed -n 's/^llama[-_]cpp[-_]python==\([^ ;#]*\).*/\1/Ip' requirements.txt "$requirements" | head -n 1
}
llama_installed() {
  [ -x .venv/bin/python ] || return 0
  .venv/bin/python -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))' \
    2>/dev/null || true
}
install_note() {
  local pin
  pin="$(llama_pin)"
  if [ -n "$pin" ] && [ "$(llama_installed)" != "$pin" ]; then
    echo " (several minutes: llama-cpp-python $pin compiles)"
  fi
}

stamp_for() { echo ".venv/.installed-$(cat requirements.txt "$1" | sha256sum | cut -c1-16)"; }
stamp="$(stamp_for "$requirements")"
# requirements-dev.txt starts with "-r requirements.txt": a venv that holds it holds both.
if [ "$requirements" = requirements.txt ] && [ -f requirements-dev.txt ] \
  && [ -f "$(stamp_for requirements-dev.txt)" ]; then
  stamp="$(stamp_for requirements-dev.txt)"
fi
if [ -f "$stamp" ]; then
  if [ -n "$dry_run" ]; then echo "Up to date: nothing to install for $requirements"; fi
  exit 0
fi
if [ -n "$dry_run" ]; then
  echo "Would install $requirements$(install_note)"
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv"
  "$python_bin" -m venv .venv
fi
echo "Installing $requirements$(install_note)"
.venv/bin/python -m pip install --quiet --upgrade pip
# The CPU build of torch first, so nothing can pull the CUDA one in.
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -r "$requirements"
touch "$stamp"
