"""``SelfAttention`` as the tutorial writes it (einsum), and ``AttentionDesign``, its two switches.

See the package's docstring for what the switches change and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .. import _validate

SCALES = ("embed_size", "head_dim")


@dataclass(frozen=True)
class AttentionDesign:
    """The two switches between the tutorial's attention and the paper's."""

    shared_projections: bool = True  # True: one (head_dim × head_dim) W per Q/K/V shared by heads
    scale: str = "embed_size"  # divide energies by √embed_size (source) or √head_dim (paper)

    def __post_init__(self):
        _validate.boolean("shared_projections", self.shared_projections)
        if not isinstance(self.scale, str) or self.scale not in SCALES:  # an array fails at `in`
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")


SOURCE = AttentionDesign()
PAPER = AttentionDesign(shared_projections=False, scale="head_dim")


def _check_design(design: object) -> AttentionDesign:
    if not isinstance(design, AttentionDesign):
        raise ValueError(f"design must be an AttentionDesign (SOURCE or PAPER), got {type(design).__name__}")
    return design


class SelfAttention(nn.Module):
    """Multi-head attention in einsum, called as the source calls it: (values, keys, query, mask).

    values, keys (N, key_len, embed_size); query (N, query_len, embed_size); mask bool,
    True = may attend (the source's 1), broadcastable to (N, heads, query_len, key_len).
    Returns out (N, query_len, embed_size) and attention (N, heads, query_len, key_len):
    the source returns only ``out``; the course always hands back the weights it used.
    """

    def __init__(self, embed_size: int, heads: int, *, design: AttentionDesign = SOURCE):
        super().__init__()
        self.embed_size = embed_size = _validate.positive_int("embed_size", embed_size)
        self.heads = heads = _validate.positive_int("heads", heads)
        if embed_size % heads:
            raise ValueError(f"embed_size ({embed_size}) must be divisible by heads ({heads})")
        self.head_dim = embed_size // heads
        self.design = _check_design(design)
        # W_Q, W_K, W_V and W_O, float32: checked before nn.Linear allocates them
        _validate.fits_in_memory("embed_size × embed_size", 4 * embed_size * embed_size)
        # The names the error messages give the inputs: a block that calls this layer with its
        # own arguments ("value", "key", or the decoder's "x") names them as its caller wrote them.
        self.input_names = ("values", "keys", "query", "mask")
        width = self.head_dim if design.shared_projections else embed_size
        self.values = nn.Linear(width, width, bias=False)
        self.keys = nn.Linear(width, width, bias=False)
        self.queries = nn.Linear(width, width, bias=False)
        self.fc_out = nn.Linear(embed_size, embed_size)  # W_O: mixes the heads' outputs

    @property
    def divisor(self) -> float:
        """What the energies are divided by: √embed_size (source) or √head_dim (paper)."""
        return math.sqrt(self.embed_size if self.design.scale == "embed_size" else self.head_dim)

    def forward(
        self,
        values: torch.Tensor,
        keys: torch.Tensor,
        query: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_inputs(values, keys, query, mask)
        n, query_len, _ = query.shape
        v, k, q = (
            self._split(lin, t)
            for lin, t in ((self.values, values), (self.keys, keys), (self.queries, query))
        )
        # Every query against every key, in every head: (N, heads, query_len, key_len).
        energy = torch.einsum("nqhd,nkhd->nhqk", q, k) / self.divisor
        if mask is not None:
            # The most negative finite number, not -inf: a row with every key masked then
            # spreads evenly instead of turning into NaN (as the source's -1e20 does).
            energy = energy.masked_fill(~mask, torch.finfo(energy.dtype).min)
        attention = torch.softmax(energy, dim=3)  # each row over the keys sums to 1
        # Weighted sum of the values per head, then the heads side by side again.
        out = torch.einsum("nhqk,nkhd->nqhd", attention, v)  # (N, query_len, heads, head_dim)
        return self.fc_out(out.reshape(n, query_len, self.embed_size)), attention

    def _split(self, linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        """(N, L, embed_size) → (N, L, heads, head_dim), projected."""
        n, length, _ = x.shape
        if self.design.shared_projections:
            # Cut first, then project each slice with the same small matrix.
            return linear(x.reshape(n, length, self.heads, self.head_dim))
        # Project the whole vector, then cut: rows i·head_dim… of the weight are head i's.
        return linear(x).reshape(n, length, self.heads, self.head_dim)

    def _check_inputs(self, values, keys, query, mask) -> None:
        weight = self.fc_out.weight
        v_name, k_name, q_name, m_name = self.input_names
        for name, x in ((q_name, query), (k_name, keys), (v_name, values)):
            _validate.tensor(name, x, ndim=3, floating=True)
            _validate.size(name, x, -1, self.embed_size, "embed_size")
            _validate.size(name, x, 0, query.shape[0], f"the batch size of {q_name}")
            _validate.like_weights(name, x, weight)
        _validate.size(v_name, values, 1, keys.shape[1], f"as many positions as {k_name}")
        if mask is not None:
            _validate.bool_mask(m_name, mask)
            _validate.same_device(m_name, mask, query.device, q_name)
            energy_shape = (query.shape[0], self.heads, query.shape[1], keys.shape[1])
            pair = ((q_name, query),) if q_name == k_name else ((q_name, query), (k_name, keys))
            _check_mask_fits(m_name, mask, energy_shape, pair)

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> SelfAttention:
        """Copy an ``nn.MultiheadAttention``'s weights in (needs full projections: PAPER).

        Its outputs then equal PyTorch's when ``design.scale`` is "head_dim" too.
        """
        if not isinstance(mha, nn.MultiheadAttention):
            raise ValueError(f"mha must be an nn.MultiheadAttention, got {type(mha).__name__}")
        if self.design.shared_projections:
            raise ValueError(
                "this SelfAttention shares one (head_dim × head_dim) projection between its heads and "
                "cannot hold nn.MultiheadAttention's (embed_size × embed_size) ones: build it with "
                "design=PAPER (shared_projections=False)"
            )
        if (mha.embed_dim, mha.num_heads) != (self.embed_size, self.heads):
            raise ValueError(
                f"mha must have embed_dim={self.embed_size}, num_heads={self.heads}; "
                f"got {mha.embed_dim}, {mha.num_heads}"
            )
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError(
                "mha must take keys and values of embed_dim, without add_bias_kv or add_zero_attn"
            )
        # Read below (its bias's values) and copied: a meta module has none ("Tensor.item() cannot
        # be called on meta tensors"); copied into meta, nothing would arrive, without a word.
        check_holds_weights("mha", mha, self)
        if mha.in_proj_bias is not None and bool(mha.in_proj_bias.any()):
            raise ValueError(
                "mha.in_proj_bias must be zero (as nn.MultiheadAttention initialises it): "
                "this design's projections have no bias"
            )
        for linear, w in zip((self.queries, self.keys, self.values), mha.in_proj_weight.chunk(3)):
            linear.weight.copy_(w)
        self.fc_out.weight.copy_(mha.out_proj.weight)
        copy_bias(self.fc_out, mha.out_proj.bias)
        return self


def check_holds_weights(name: str, theirs: nn.Module, mine: nn.Module) -> None:
    """Neither PyTorch's module ``theirs`` (called ``name``) nor this design's ``mine`` is on the
    meta device, which holds shapes only: nothing to read from it, nor to copy into it."""
    _validate.instance(name, theirs, nn.Module, " (PyTorch's module to copy from)")
    _validate.instance("mine", mine, nn.Module, " (the module to copy into)")
    if any(p.is_meta for p in theirs.parameters()):
        raise ValueError(f"{name} must hold weights to copy, got a module on the meta device")
    if any(p.is_meta for p in mine.parameters()):
        raise ValueError(
            f"this {type(mine).__name__} (the one to copy into) is on the meta device, where nothing can "
            'be copied: give it memory first with .to_empty(device="cpu")'
        )


def copy_bias(linear: nn.Linear | nn.LayerNorm, bias: torch.Tensor | None) -> None:
    """Copy ``bias`` (features,) into the bias of ``linear`` (an nn.Linear or nn.LayerNorm); None
    (PyTorch's layer built without biases) is a bias of zero."""
    _validate.instance("linear", linear, nn.Module, " (an nn.Linear or nn.LayerNorm)")
    if not isinstance(getattr(linear, "bias", None), torch.Tensor):
        raise ValueError(f"linear must have a bias to copy into, got a {type(linear).__name__} without one")
    if bias is not None:
        _validate.tensor("bias", bias, ndim=1, floating=True)
        _validate.stored("bias", bias)  # a meta tensor has no values to copy
        # copy_ broadcasts: a (1,) bias would fill every entry with one number, without a word.
        _validate.size("bias", bias, 0, linear.bias.shape[0], "the size of linear's bias")
    with torch.no_grad():  # a copy into a Parameter, not a step for autograd to record
        if bias is None:
            linear.bias.zero_()  # PyTorch built without biases: the same as a bias of zero
        else:
            linear.bias.copy_(bias)


def _check_mask_fits(name: str, mask: torch.Tensor, energy_shape: tuple, inputs: tuple) -> None:
    """``mask`` expands to ``energy_shape`` (N, heads, query_len, key_len), the shape ``inputs``
    ((name, tensor) pairs) give; else refused naming the mask and those inputs. Expands, not
    merely broadcasts: a mask larger where the energies have 1 (a query_len of 1, one head)
    would make the energies larger and fail later inside torch ("shape … is invalid")."""
    fits = mask.dim() <= 4 and all(m in (1, e) for m, e in zip(reversed(mask.shape), reversed(energy_shape)))
    if not fits:
        described = " and ".join(f"{n} of shape {tuple(x.shape)}" for n, x in inputs)
        raise ValueError(
            f"{name} of shape {tuple(mask.shape)} does not fit {described}: it must broadcast to "
            f"the energies' shape {tuple(energy_shape)} (N, heads, query_len, key_len)"
        )
