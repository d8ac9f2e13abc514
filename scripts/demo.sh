#!/usr/bin/env bash
# The main job on a fresh machine: set-up, then `unipo demo` (serves the web app at once, then trains
# six algorithms on identical data, several at a time where cores allow; the runs appear live).
# Extra arguments go to `unipo demo`, e.g. `--no-serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[demo] checking the set-up (the first time installs PyTorch and UNIPO into .venv, about a minute or two)"
bash scripts/setup.sh --no-test-deps
echo "[demo] starting: the web app comes up first; the runs appear in it, live, as they train"
exec .venv/bin/unipo demo "$@"
