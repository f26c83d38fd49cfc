#!/usr/bin/env bash
# Run reviewdesk: install, start the embedded services, migrate, load the demo, then run a
# Celery worker and the web server. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh requirements.txt
# shellcheck disable=SC1091
. .venv/bin/activate
mkdir -p var/log
host="${HOST:-127.0.0.1}"
port="${PORT:-8000}"

started="$(python manage.py services start --print-started)"
worker_pid=""
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "Stopping…"
  if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then
    kill -TERM "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
  fi
  if [ -n "$started" ]; then python manage.py services stop --only "$started"; fi
}
trap cleanup EXIT INT TERM

python manage.py migrate --noinput
python manage.py seed_demo
python manage.py llm_model --prepare

celery -A reviewdesk worker -Q default,ingest,llm --concurrency "${WORKER_CONCURRENCY:-2}" \
  --loglevel INFO >>var/log/worker.log 2>&1 &
worker_pid=$!
echo "Celery worker started (log: var/log/worker.log)"
echo
echo "  reviewdesk is running: open http://${host}:${port}/"
echo
python manage.py runserver "${host}:${port}" --noreload
