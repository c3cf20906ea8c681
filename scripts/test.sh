#!/usr/bin/env bash
# The whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
source scripts/system-packages.sh servers test-tools
exec .venv/bin/python -m pytest "$@"
