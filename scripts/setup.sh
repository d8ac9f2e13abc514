#!/usr/bin/env bash
# Creates .venv with UNIPO and everything the tests need; safe to run again (it only adds what is missing).
# Usage: bash scripts/setup.sh [--no-test-deps]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
want_test=1
[ "${1:-}" = "--no-test-deps" ] && want_test=0

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
py=.venv/bin/python
stamp=.venv/.unipo-setup-$(sha1sum pyproject.toml | cut -c1-12)-$want_test
if [ ! -f "$stamp" ]; then
  # torch first and pinned: the local CPU wheel satisfies every later requirement, so pip never
  # reaches for the multi-GB CUDA build.
  "$py" -m pip install -q --upgrade pip >/dev/null
  "$py" -m pip install -q "torch==2.13.*"
  if [ $want_test = 1 ]; then
    "$py" -m pip install -q -e ".[test]"
  else
    "$py" -m pip install -q -e .
  fi
  touch "$stamp"
fi
# verl's own core_algos for the parity tests (tests/algorithms/verl_oracle.py): the wheel without its
# dependencies (they would pull ray, vLLM and a CUDA torch), plus the few pure-Python modules
# core_algos needs at import time; ray is stubbed by the oracle, never installed.
if [ $want_test = 1 ] && [ ! -f .venv/.unipo-verl-0.9.1 ]; then
  "$py" -m pip install -q --no-deps "verl==0.9.*" "omegaconf==2.4.0" "tensordict==0.15.3" "pyvers==0.2.3" \
    "cloudpickle==3.1.3" "codetiming==1.4.0" "pyyaml>=6"
  touch .venv/.unipo-verl-0.9.1
fi
"$py" - <<'PY'
import torch, sys
if "+cpu" not in torch.__version__ and not torch.__version__.startswith("2.13"):
    sys.exit(f"[setup] unexpected torch build {torch.__version__}; expected the local 2.13 CPU wheel")
PY
