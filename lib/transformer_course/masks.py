"""Which keys may each query see? Causal and padding masks, and how to combine them.

One convention in the whole course: a boolean mask is True where a query MAY attend
to a key, as in ``F.scaled_dot_product_attention``. ``nn.MultiheadAttention`` and
``nn.Transformer`` use the opposite (True = blocked): ``to_blocked`` converts.

A 2-D mask means (Lq, Lk). A (B, Lk) padding mask, as ``nn.MultiheadAttention``'s
key_padding_mask, is given to attention as (B, 1, 1, Lk): ``padding_mask`` makes it so,
or ``keep[:, None, None, :]`` with keep = ~key_padding_mask. Given as (B, Lk) it would be
read as one row per query, silently when B == Lq.
"""

from __future__ import annotations

import torch

from . import _validate


def causal_mask(length: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """(length, length) bool, lower-triangular: position i may see positions 0 … i."""
    length = _validate.positive_int("length", length)  # a numpy int becomes an int: no overflow below
    _validate.device("device", device)
    # The (length, length) bools and their lower triangle, checked before either is made.
    _validate.fits_in_memory("length × length", length * length, bytes_each=2)
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """ids (B, L) → (B, 1, 1, L) bool: False at padding keys.

    The two singleton dimensions broadcast over heads and query positions, so every
    head and every query ignores the same padded keys.
    """
    _validate.tensor("ids", ids, ndim=2, floating=False)
    # An int64 (any id a tensor can hold): a larger one fails inside the comparison, an OverflowError.
    pad_id = _validate.integer("pad_id", pad_id, low=-(2**63), high=2**63)
    return (ids != pad_id).unsqueeze(1).unsqueeze(2)


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Allowed only where every mask allows: a broadcasting AND. None entries are skipped.

    causal (Lq, Lk) & padding (B, 1, 1, Lk) → (B, 1, Lq, Lk).
    """
    present = [(i, _validate.bool_mask(f"masks[{i}]", m)) for i, m in enumerate(masks) if m is not None]
    if not present:
        return None
    first, out = present[0]
    for i, m in present[1:]:
        _validate.same_device(f"masks[{i}]", m, out.device, f"masks[{first}]")
        _validate.broadcastable(f"masks[{i}]", m.shape, "the masks before it", out.shape)
        out = out & m
    return out


def additive_mask(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """bool mask → float mask to add to scores: 0 where allowed, -inf where blocked."""
    _validate.bool_mask("mask", mask)
    _validate.float_dtype("dtype", dtype)  # -inf exists only in floating point
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))


def to_blocked(mask: torch.Tensor) -> torch.Tensor:
    """This course's mask (True = may attend) → PyTorch module convention (True = blocked)."""
    return ~_validate.bool_mask("mask", mask)
