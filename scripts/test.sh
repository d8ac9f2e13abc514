#!/usr/bin/env bash
# The whole test suite on a fresh machine: Python set-up, the browser for end-to-end tests,
# front-end unit tests, then pytest (slow and end-to-end tests included).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/setup-browser.sh

if [ -f frontend/package-lock.json ]; then
  echo "[test] front-end unit tests (vitest)"
  (cd frontend && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm test --silent)
fi

echo "[test] pytest"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test at all; that is a failure of the suite, not a pass.
exit $rc
