"""Checkpoints: everything needed to continue a run bit for bit, written atomically.

One file per checkpoint, `<run>/checkpoints/update-000012.pt`, written under a temporary name and
renamed, so a crash leaves the previous checkpoint intact. Only the newest is kept.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from unipo.runs.space import disk_full_error, is_disk_full

_NAME = re.compile(r"^update-(\d{6,})\.pt$")


def checkpoint_path(directory: Path, step: int) -> Path:
    return directory / f"update-{step:06d}.pt"


def latest_checkpoint(directory: Path) -> tuple[int, Path] | None:
    if not directory.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return max(found) if found else None


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}


def restore_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def state_bytes(state) -> int:
    """Roughly what torch.save writes for state: its tensors' and arrays' bytes (plus a little)."""
    if isinstance(state, torch.Tensor):
        return state.element_size() * state.nelement()
    if isinstance(state, np.ndarray):
        return state.nbytes
    if isinstance(state, dict):
        return sum(state_bytes(v) for v in state.values()) + 64 * len(state)
    if isinstance(state, (list, tuple)):
        return sum(state_bytes(v) for v in state) + 8 * len(state)
    if isinstance(state, (str, bytes)):
        return len(state)
    return 16


def save_checkpoint(directory: Path, step: int, state: dict) -> Path:
    """Write under a temporary name, fsync, rename; on any failure the temporary file is removed
    (a full disk raises DiskFullError naming the file, the free space and about how much was needed)."""
    final = checkpoint_path(directory, step)
    temporary = final.with_name(final.name + ".tmp")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, Exception) and is_disk_full(exc):  # free space measured without the partial file
            raise disk_full_error(final, f"the checkpoint of step {step}", state_bytes(state)) from None
        raise
    for other in directory.iterdir():
        match = _NAME.match(other.name)
        if match and int(match.group(1)) != step:
            other.unlink(missing_ok=True)
    return final


def load_checkpoint(path: Path) -> dict:
    # Our own file (it holds Python RNG tuples and rollout text), so full unpickling is intended.
    return torch.load(path, map_location="cpu", weights_only=False)
