#!/usr/bin/env bash
# Run reviewdesk: install, start the embedded services, migrate, load the demo, then run a
# Celery worker and the web server. Ctrl-C, or SIGINT/SIGTERM sent to this script, stops
# everything it started.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh requirements.txt
# shellcheck disable=SC1091
. .venv/bin/activate
var_dir="${REVIEWDESK_VAR_DIR:-var}"
mkdir -p "$var_dir/log"
host="${HOST:-127.0.0.1}"
port="${PORT:-8000}"

started=""
step_pid=""
worker_pid=""
server_pid=""
stopping=""

# Stop one child: SIGTERM, then after `patience` seconds a harder signal, then SIGKILL.
stop_process() {
  local pid="$1" harder="${2:-KILL}" patience="${3:-20}" tenths=0
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$tenths" -lt $((patience * 10)) ]; do
    sleep 0.1
    tenths=$((tenths + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$harder" "$pid" 2>/dev/null || true
    sleep 2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  if [ -n "$stopping" ]; then return; fi
  stopping=1
  # A second Ctrl-C while stopping must not leave the rest running.
  trap '' INT TERM
  echo
  echo "Stopping…"
  stop_process "$step_pid"
  stop_process "$server_pid"
  # The worker's warm shutdown finishes the task at hand; past 20 s, a cold one (SIGQUIT)
  # stops its pool too (generation runs and ingest jobs resume from where they stopped).
  stop_process "$worker_pid" QUIT
  if [ -n "$started" ]; then python manage.py services stop --only "$started"; fi
}

on_signal() {
  cleanup
  trap - EXIT
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

started="$(python manage.py services start --print-started)"

# Every long-running step runs in the background and the script waits for it: bash runs a
# trap only between commands, so a signal arriving while a foreground command runs would
# wait for that command to end; `wait` returns at once and lets the trap stop everything.
step() {
  "$@" &
  step_pid=$!
  wait "$step_pid"
  step_pid=""
}

step python manage.py migrate --noinput
step python manage.py seed_demo
step python manage.py llm_model --prepare

celery -A reviewdesk worker -Q default,ingest,llm --concurrency "${WORKER_CONCURRENCY:-2}" \
  --loglevel INFO >>"$var_dir/log/worker.log" 2>&1 &
worker_pid=$!
echo "Celery worker started (log: $var_dir/log/worker.log)"
echo
echo "  reviewdesk is running: open http://${host}:${port}/"
echo
python manage.py runserver "${host}:${port}" --noreload &
server_pid=$!
wait "$server_pid"
