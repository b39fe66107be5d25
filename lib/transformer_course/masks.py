"""Which keys may each query see? Causal and padding masks, and how to combine them.

One convention in the whole course: a boolean mask is True where a query MAY attend
to a key, as in ``F.scaled_dot_product_attention``. ``nn.MultiheadAttention`` and
``nn.Transformer`` use the opposite (True = blocked): ``to_blocked`` converts.
"""

from __future__ import annotations

import torch

from . import _validate


def causal_mask(length: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """(length, length) bool, lower-triangular: position i may see positions 0 … i."""
    _validate.positive_int("length", length)
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """ids (B, L) → (B, 1, 1, L) bool: False at padding keys.

    The two singleton dimensions broadcast over heads and query positions, so every
    head and every query ignores the same padded keys.
    """
    _validate.tensor("ids", ids, ndim=2, floating=False)
    return (ids != pad_id).unsqueeze(1).unsqueeze(2)


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Allowed only where every mask allows: a broadcasting AND. None entries are skipped.

    causal (Lq, Lk) & padding (B, 1, 1, Lk) → (B, 1, Lq, Lk).
    """
    present = [m for m in masks if m is not None]
    for i, m in enumerate(present):
        if not isinstance(m, torch.Tensor) or m.dtype != torch.bool:
            raise ValueError(f"masks[{i}] must be a bool tensor, got {getattr(m, 'dtype', type(m))}")
    if not present:
        return None
    out = present[0]
    for m in present[1:]:
        out = out & m
    return out


def additive_mask(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """bool mask → float mask to add to scores: 0 where allowed, -inf where blocked."""
    _check_bool(mask)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))


def to_blocked(mask: torch.Tensor) -> torch.Tensor:
    """This course's mask (True = may attend) → PyTorch module convention (True = blocked)."""
    _check_bool(mask)
    return ~mask


def _check_bool(mask: torch.Tensor) -> None:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
