"""Argument checks shared by every module: one clear ValueError naming the argument.

Learners call these functions with tensors they built by hand, so a wrong shape must
say which argument was wrong and what was expected, not fail deep inside a matmul.
"""

from __future__ import annotations

import torch


def tensor(
    name: str, x: object, *, ndim: int | tuple[int, ...] | None = None, floating: bool | None = None
) -> torch.Tensor:
    """Check that ``x`` is a tensor with ``ndim`` dimensions (one of, if a tuple)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if x.dim() not in allowed:
            want = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(f"{name} must be {want}, got shape {tuple(x.shape)}")
    if floating is True and not x.is_floating_point():
        raise ValueError(f"{name} must hold floating-point numbers, got dtype {x.dtype}")
    if floating is False and (x.is_floating_point() or x.dtype == torch.bool):
        raise ValueError(f"{name} must hold integer ids, got dtype {x.dtype}")
    return x


def size(name: str, x: torch.Tensor, dim: int, expected: int, what: str) -> None:
    """Check one dimension of ``x``; ``what`` says where the expected size comes from."""
    if x.shape[dim] != expected:
        raise ValueError(
            f"{name} must have size {expected} in dimension {dim} ({what}), got shape {tuple(x.shape)}"
        )


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def ids_in_range(name: str, ids: torch.Tensor, vocab_size: int) -> None:
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"{name} must hold ids in [0, {vocab_size}), got values from {int(ids.min())} to {int(ids.max())}"
        )
