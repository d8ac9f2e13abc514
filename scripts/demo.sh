#!/usr/bin/env bash
# The main job on a fresh machine: set-up, then `unipo demo` (trains six algorithms on identical
# data and opens the web app). Extra arguments go to `unipo demo`, e.g. `--no-serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-test-deps
exec .venv/bin/unipo demo "$@"
