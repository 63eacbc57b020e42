#!/bin/sh
# Container entry point: migrate once, then run the chosen process in the foreground.
set -e
what="${1:-up}"
[ $# -gt 0 ] && shift
case "$what" in
  app)  sophia db upgrade && exec streamlit run /srv/sophia/app/streamlit_app.py --server.address 0.0.0.0 \
          --server.port "${PORT:-8501}" --server.headless true --browser.gatherUsageStats false "$@" ;;
  api)  sophia db upgrade && exec uvicorn api.main:app --host 0.0.0.0 --port "${PORT:-8000}" "$@" ;;
  jobs) sophia db upgrade && exec python -m jobs.scheduler "$@" ;;
  up)   exec sophia up --host 0.0.0.0 "$@" ;;
  *)    exec "$what" "$@" ;;
esac
