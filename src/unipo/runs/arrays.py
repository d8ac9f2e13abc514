"""Turn what the engine hands over (torch tensors, numpy arrays, lists) into numpy arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

from unipo.errors import UnipoError


def to_numpy(value: Any, field: str) -> np.ndarray:
    """A numpy copy of value without importing torch (tensors are duck-typed by .detach())."""
    if hasattr(value, "detach"):
        tensor = value.detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.float()  # bfloat16 has no numpy dtype
        return tensor.numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise UnipoError(f"StepRecord.{field}: cannot be read as an array ({exc})") from None


def per_response(value: Any, field: str, n: int, dtype: type) -> np.ndarray:
    array = to_numpy(value, field)
    if array.shape != (n,):
        raise UnipoError(f"StepRecord.{field}: expected shape [{n}] (one per response), got {list(array.shape)}")
    return _cast(array, field, dtype)


def per_token(value: Any, field: str, shape: tuple[int, int], dtype: type) -> np.ndarray:
    array = to_numpy(value, field)
    if array.shape != shape:
        raise UnipoError(f"StepRecord.{field}: expected shape {list(shape)} like mask, got {list(array.shape)}")
    return _cast(array, field, dtype)


def _cast(array: np.ndarray, field: str, dtype: type) -> np.ndarray:
    if array.dtype == object:
        # Lists that contain None: keep None as NaN (floats) so it is stored as null.
        if dtype is np.float32:
            array = np.array([np.nan if v is None else v for v in array.ravel()], dtype=np.float64).reshape(array.shape)
    try:
        return array.astype(dtype, copy=False)
    except (TypeError, ValueError) as exc:
        raise UnipoError(f"StepRecord.{field}: cannot convert to {np.dtype(dtype).name} ({exc})") from None
