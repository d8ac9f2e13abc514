"""verl 0.9.1's own `verl.trainer.ppo.core_algos`, imported on CPU for the parity tests.

Where verl comes from: the .venv, where scripts/setup.sh installs `verl==0.9.*` with --no-deps plus
the pure-Python modules core_algos imports (omegaconf, pyyaml, tensordict, pyvers, cloudpickle,
codetiming); or, when UNIPO_VERL_PATH is set, an unpacked verl source tree (os.pathsep-separated
paths, e.g. "/tmp/verl/src:/tmp/verldeps_min", put first on sys.path).

`import verl` imports verl.protocol, which does `import ray` (used only by the trainer, never by
core_algos' functions). Ray is not installed: every `ray*` module is a MagicMock from the finder
below, installed only while verl is imported here, so the test process' ray (if any) is untouched.

load() returns the core_algos module, or raises ImportError with the reason (the tests skip on it).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from unittest.mock import MagicMock

VERL_VERSION_PREFIX = "0.9."


class _RayStub(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Every `ray` / `ray.*` import becomes a MagicMock module (only when ray itself is missing)."""

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "ray":
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = MagicMock(name=spec.name)
        module.__path__ = []
        module.__spec__ = spec
        return module

    def exec_module(self, module):
        pass


def load():
    extra = os.environ.get("UNIPO_VERL_PATH")
    if extra:
        for path in reversed(extra.split(os.pathsep)):
            if path and path not in sys.path:
                sys.path.insert(0, path)
    stub = None
    if importlib.util.find_spec("ray") is None:
        stub = _RayStub()
        sys.meta_path.insert(0, stub)
    try:
        import verl
        core_algos = importlib.import_module("verl.trainer.ppo.core_algos")
    except Exception as exc:  # missing module, broken install: say which
        raise ImportError(f"verl core_algos could not be imported ({type(exc).__name__}: {exc}); "
                          "run scripts/setup.sh or set UNIPO_VERL_PATH") from exc
    finally:
        if stub is not None:
            sys.meta_path.remove(stub)
    version = getattr(verl, "__version__", "")
    if not str(version).startswith(VERL_VERSION_PREFIX):
        raise ImportError(f"verl {version} found; the parity tests pin verl {VERL_VERSION_PREFIX}x")
    return core_algos


def actor_config(*, epsilon=0.2, epsilon_high=0.2, clip_cov_ratio=0.0002, clip_cov_lb=1.0, clip_cov_ub=5.0,
                 kl_cov_ratio=0.0002, ppo_kl_coef=0.1):
    """An ActorConfig-like DictConfig, all that verl's policy losses read (global_batch_info {}: one process)."""
    from omegaconf import OmegaConf
    return OmegaConf.create({
        "clip_ratio": epsilon, "clip_ratio_low": epsilon, "clip_ratio_high": epsilon_high, "clip_ratio_c": 3.0,
        "policy_loss": {"loss_mode": "vanilla", "clip_cov_ratio": clip_cov_ratio, "clip_cov_lb": clip_cov_lb,
                        "clip_cov_ub": clip_cov_ub, "kl_cov_ratio": kl_cov_ratio, "ppo_kl_coef": ppo_kl_coef},
        "global_batch_info": {}})
