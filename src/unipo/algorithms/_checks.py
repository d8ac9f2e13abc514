"""Input validation shared by the algorithm components.

Every check raises ValueError naming the argument and what was expected, so that a caller
(or the CLI, which turns it into a UnipoError) can tell the user exactly what to fix.
"""
from __future__ import annotations

import torch


def require_tensor(name: str, value, *, dims: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if value.dim() not in dims:
        wanted = " or ".join(f"{d}-d" for d in dims)
        raise ValueError(f"{name}: expected a {wanted} tensor, got shape {tuple(value.shape)}")
    return value


def require_shape(name: str, value: torch.Tensor, shape: tuple[int, ...], like: str) -> None:
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)} (same as {like}), got {tuple(value.shape)}")


def require_finite(name: str, value: torch.Tensor) -> None:
    # Fast path: one reduction; a non-finite sum (NaN/Inf present, or overflow) triggers the exact check.
    if not value.is_floating_point() or bool(torch.isfinite(value.detach().sum())):
        return
    if not bool(torch.isfinite(value).all()):
        bad = (~torch.isfinite(value)).nonzero()
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{name}: contains NaN or Inf ({len(bad)} value(s), first at index {first}); "
            "padding positions must hold finite values too"
        )


def require_all_finite(named: list[tuple[str, torch.Tensor]]) -> None:
    """require_finite for several tensors with one reduction each and a single host sync.

    The per-tensor sums are added into one scalar: a NaN/Inf anywhere (or an overflow) makes it
    non-finite, and only then are the tensors checked one by one, in order, so the error raised
    is exactly the one the sequential checks would raise.
    """
    total = None
    for _, value in named:
        if value.is_floating_point():
            s = value.detach().sum()
            total = s if total is None else total + s
    if total is None or bool(torch.isfinite(total)):
        return
    for name, value in named:
        require_finite(name, value)


def token_shape(name: str, value, shape: tuple[int, ...], like: str = "logprobs") -> torch.Tensor:
    """An [N, T] tensor with the shape of `like` (values not checked)."""
    require_tensor(name, value, dims=(2,))
    require_shape(name, value, shape, like)
    return value


def token_tensor(name: str, value, shape: tuple[int, ...], like: str = "logprobs") -> torch.Tensor:
    """A finite [N, T] float tensor with the shape of `like`."""
    token_shape(name, value, shape, like)
    require_finite(name, value)
    return value


def mask_tensor(mask, shape: tuple[int, ...], like: str = "logprobs") -> torch.Tensor:
    require_tensor("mask", mask, dims=(2,))
    require_shape("mask", mask, shape, like)
    if mask.is_floating_point():
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask: expected only 0 and 1 values")
    return mask.bool()


def mask_weights(mask, shape: tuple[int, ...], dtype: torch.dtype, like: str = "logprobs") -> torch.Tensor:
    """mask_tensor(), returned as 0/1 values of `dtype` (the mask's own memory reinterpreted when it is bool:
    a bool→float cast is several times slower than the same-size uint8→float one)."""
    mask = mask_tensor(mask, shape, like)
    return mask.view(torch.uint8).to(dtype)


def response_shape(name: str, value, n: int) -> torch.Tensor:
    """An [N] tensor, one value per response (values not checked)."""
    require_tensor(name, value, dims=(1,))
    if value.shape[0] != n:
        raise ValueError(f"{name}: expected {n} values (one per response), got {value.shape[0]}")
    return value


def response_tensor(name: str, value, n: int) -> torch.Tensor:
    """A finite [N] tensor, one value per response."""
    response_shape(name, value, n)
    require_finite(name, value)
    return value
