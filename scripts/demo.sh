#!/usr/bin/env bash
# ./dev demo: run splice on the example system in examples/shop.
# splice starts a private PostgreSQL, Redis, RabbitMQ and Kafka, the shop's API and its worker,
# runs the suites, writes every report to reports/ and stops everything again.
# Extra arguments go to `splice run` (for example -v, or -k orders).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source scripts/bootstrap.sh
source scripts/system-packages.sh servers

mkdir -p reports
status=0
# the app and the worker start as `python -m shop...`: the venv's python comes first
(cd examples/shop && PATH="$root/.venv/bin:$PATH" splice run \
  --html "$root/reports/demo.html" --junit "$root/reports/demo.xml" \
  --json "$root/reports/demo.json" "$@") || status=$?

if [ "$status" -le 1 ]; then
  echo "demo: open reports/demo.html to see every request, row, key and message;"
  echo "      'cd examples/shop && ../../.venv/bin/splice serve' shows the run history"
fi
exit "$status"
