"""The checks of attention's inputs, apart from the attention they guard.

``attention`` checks every argument once, where it comes in (see its docstring), with these:
the shapes of q and k, a scale, a mask against the scores it must broadcast to, the
(B, L, d) sequences a multi-head module is given, whether the (…, Lq, Lk) weights fit in
memory, and whether an ``nn.MultiheadAttention`` is one ``MultiHeadAttention`` can copy.
Each raises a ValueError that names the argument and what was expected.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import _validate


def check_weights_fit(q: torch.Tensor, k: torch.Tensor) -> None:
    """The weights (..., Lq, Lk) of q (..., Lq, d_k) and k (..., Lk, d_k) fit in memory: a long
    sequence's are refused by name, not half allocated (torch's "can't allocate memory")."""
    for name, x in (("q", q), ("k", k)):  # checked by check_qk where attention calls this
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            got = f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a tensor of at least 2 dimensions (..., L, d_k), got {got}")
    lead = [max(a, b) for a, b in zip(reversed(q.shape[:-2]), reversed(k.shape[:-2]))]
    longer = q.shape[:-2] if q.dim() > k.dim() else k.shape[:-2]
    numel = math.prod(lead) * math.prod(longer[: len(longer) - len(lead)]) * q.shape[-2] * k.shape[-2]
    what = "Lq × Lk (the queries' and keys' lengths: the attention weights are (..., Lq, Lk))"
    _validate.fits_in_memory(what, numel, bytes_each=q.element_size())


def check_qk(q: torch.Tensor, k: torch.Tensor) -> None:
    _validate.tensor("q", q, floating=True)
    _validate.tensor("k", k, floating=True)
    if q.dim() < 2 or k.dim() < 2:
        raise ValueError(
            f"q and k must be at least 2-D (..., L, d_k), got {tuple(q.shape)} and {tuple(k.shape)}"
        )
    if q.shape[-1] == 0:
        raise ValueError(f"q must have a last dimension d_k >= 1, got shape {tuple(q.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"k must have the same last dimension as q (d_k = {q.shape[-1]}), got shape {tuple(k.shape)}"
        )
    _validate.like("k", k, q, "q")
    # The dimensions before (L, d_k) are batch and heads: k's must match q's (or be 1).
    _check_grouped_heads(q, k)
    _validate.broadcastable("k's batch dimensions", k.shape[:-2], "q's", q.shape[:-2])


def _check_grouped_heads(q: torch.Tensor, k: torch.Tensor) -> None:
    """k with fewer heads (dimension -3) than q, each shared by a group of query heads, is
    PyTorch's grouped-query attention (``enable_gqa=True``), which this function does not do:
    refused with the repeat that makes it ordinary attention."""
    if q.dim() < 3 or k.dim() < 3 or _validate.broadcasts(k.shape[:-2], q.shape[:-2]):
        return
    heads, kv_heads = q.shape[-3], k.shape[-3]
    if kv_heads > 1 and heads > kv_heads and heads % kv_heads == 0:
        raise ValueError(
            f"k's batch dimensions of shape {tuple(k.shape[:-2])} and q's of shape {tuple(q.shape[:-2])} "
            f"do not broadcast together: k has {kv_heads} heads (dimension -3), q {heads}. There is no "
            f"enable_gqa here: for grouped-query attention repeat k and v for each group of query "
            f"heads first, k.repeat_interleave({heads // kv_heads}, dim=-3) (and v the same)"
        )


def check_scale(scale: float | None) -> float | None:
    """None, or a finite number > 0 returned as a float (an int beyond float's range, 10**400,
    or a huge one torch cannot take as a scalar, 10**30, failed inside the multiplication)."""
    if scale is not None:
        return _validate.finite_number("scale", scale, above=0, note=" (None: 1/√d_k)")
    return scale


def check_mask(
    mask: torch.Tensor,
    scores_shape: tuple[int, ...],
    device: torch.device,
    name: str = "mask",
    inputs: tuple[str, str] = ("q", "k"),
) -> None:
    """``mask`` (called ``name``) broadcasts to the scores (..., Lq, Lk); ``inputs`` names the
    arguments that give Lq and Lk, blamed when one of them is empty and the mask is not."""
    _validate.bool_mask(name, mask)
    _validate.same_device(name, mask, device, "q")
    # The mask must broadcast *to* the scores (each of its dimensions 1 or the scores'): one
    # that would widen them fails inside the masking ("output with shape … doesn't match the
    # broadcast shape").
    fits = all(m == s or m == 1 for m, s in zip(reversed(mask.shape), reversed(scores_shape)))
    if mask.dim() > len(scores_shape) or not fits:
        problem = (
            f"{name} of shape {tuple(mask.shape)} does not broadcast to the "
            f"scores' shape {tuple(scores_shape)} (..., Lq, Lk)"
        )
        raise ValueError(_empty_input(mask, scores_shape, name, inputs) + problem)


def _empty_input(
    mask: torch.Tensor, scores_shape: tuple[int, ...], name: str, inputs: tuple[str, str]
) -> str:
    """Where an empty query (Lq = 0) or key (Lk = 0) meets a mask made for a real length, the
    input is what is wrong, not the mask: "x is empty … while mask was made for Lq = 4". The
    no-mask path takes an empty input (an empty output), and so does a mask that broadcasts
    to it (0 or 1 in that place)."""
    for dim, what, given in ((-2, "Lq", inputs[0]), (-1, "Lk", inputs[1])):
        if scores_shape[dim] == 0 and mask.dim() >= -dim and mask.shape[dim] > 1:
            return (
                f"{given} is empty (no positions: {what} = 0) while {name} was made for "
                f"{what} = {mask.shape[dim]}; give a non-empty {given}, or a {name} of size 0 or 1 "
                f"there: "
            )
    return ""


def check_sequences(
    d_model: int,
    weight: torch.Tensor,
    widths: dict[str, tuple[int, str]] | None = None,
    **inputs: torch.Tensor,
) -> None:
    """(B, L, d_model) inputs with the first one's batch size, on the device and in the dtype of
    ``weight``; a ``value`` has as many positions as its ``key``. ``widths`` maps an input's name
    to its last dimension and what that is called, where it is not d_model (kdim, vdim)."""
    widths = widths or {}
    first, batch = next(iter(inputs.items()))
    seen: list[torch.Tensor] = []
    for name, x in inputs.items():
        if any(x is s for s in seen):
            continue  # self-attention passes one tensor as query, key and value: check it once
        seen.append(x)
        if isinstance(x, torch.Tensor) and x.dim() == 2:  # one unbatched sequence (L, d), as PyTorch allows
            shape = tuple(x.shape)
            raise ValueError(f"{name} must be 3-D (B, L, d), got shape {shape}: one sequence is {name}[None]")
        _validate.tensor(name, x, ndim=3, floating=True)
        _validate.size(name, x, -1, *widths.get(name, (d_model, "d_model")))
        _validate.size(name, x, 0, batch.shape[0], f"the batch size of {first}")
        _validate.like_weights(name, x, weight)
    if "value" in inputs:
        _validate.size("value", inputs["value"], 1, inputs["key"].shape[1], "as many positions as key")


def check_torch_mha(mine: nn.Module, mha: object, name: str) -> None:
    """``mha`` (called ``name``) is an ``nn.MultiheadAttention`` that ``mine`` can copy: the same
    sizes and bias, with weights, and nothing this module does not compute."""
    if not all(hasattr(mine, a) for a in ("d_model", "num_heads", "kdim", "vdim", "q_proj")):
        got = type(mine).__name__
        raise ValueError(f"mine must be lib's MultiHeadAttention (the module to copy into), got {got}")
    if not isinstance(mha, nn.MultiheadAttention):
        raise ValueError(f"{name} must be an nn.MultiheadAttention, got {type(mha).__name__}")
    if any(p.is_meta for p in mha.parameters()):
        raise ValueError(f"{name} must hold weights to copy, got a module on the meta device")
    want = (mine.d_model, mine.num_heads, mine.kdim, mine.vdim)
    if (mha.embed_dim, mha.num_heads, mha.kdim, mha.vdim) != want:
        raise ValueError(
            f"{name} must have embed_dim={mine.d_model}, num_heads={mine.num_heads}, kdim={mine.kdim}, "
            f"vdim={mine.vdim}; got {mha.embed_dim}, {mha.num_heads}, {mha.kdim}, {mha.vdim}"
        )
    if mha.bias_k is not None:  # a learned key and value added to every sequence: not computed here
        raise ValueError(
            f"{name} must have add_bias_kv=False: this module has no place for bias_k and bias_v"
        )
    if mha.add_zero_attn:  # a key and value of zeros added to every sequence: not computed here
        raise ValueError(
            f"{name} must have add_zero_attn=False: this module attends to the keys it is given only"
        )
    if (mha.in_proj_bias is None) != (mine.q_proj.bias is None):
        raise ValueError(
            f"{name} must have bias={mine.q_proj.bias is not None}, as this module has; "
            f"got bias={mha.in_proj_bias is not None}"
        )
