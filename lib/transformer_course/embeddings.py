"""Token ids → vectors: a learned lookup table, and ways to compare the vectors."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate


class TokenEmbedding(nn.Module):
    """ids (..., T) long → vectors (..., T, d_model).

    With ``scale=True`` the vectors are multiplied by √d_model, as in the paper
    (section 3.4): the table is initialised small, and the scaling keeps token vectors
    from being drowned out by the positional encoding added next.
    """

    def __init__(self, vocab_size: int, d_model: int, *, scale: bool = True, padding_idx: int | None = None):
        super().__init__()
        self.vocab_size = _validate.positive_int("vocab_size", vocab_size)
        self.d_model = _validate.positive_int("d_model", d_model)
        self.scale = _validate.boolean("scale", scale)
        if padding_idx is not None:
            # As in nn.Embedding, a negative index counts from the end of the table.
            padding_idx = _validate.integer("padding_idx", padding_idx, low=-vocab_size, high=vocab_size)
        # Checked before nn.Embedding allocates the table (float32, 4 bytes a number).
        _validate.fits_in_memory("vocab_size × d_model", self.vocab_size * self.d_model)
        self.lookup = nn.Embedding(self.vocab_size, self.d_model, padding_idx=padding_idx)

    @property
    def weight(self) -> torch.Tensor:
        """The learned table, shape (vocab_size, d_model): row i is token i's vector."""
        return self.lookup.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        _validate.tensor("ids", ids, floating=False)
        _validate.index_dtype("ids", ids)
        _validate.same_device("ids", ids, self.weight.device, "the embedding table")
        _validate.ids_in_range("ids", ids, self.vocab_size)
        return self._forward(ids)

    def _forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``forward`` for ids already checked (a model checks them once)."""
        out = self.lookup(ids)
        return out * math.sqrt(self.d_model) if self.scale else out


def one_hot_embed(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The same lookup as a matrix product: one_hot(ids) (T, V) @ weight (V, d) → (T, d).

    Works for any leading batch dims of ``ids``. Slower than indexing; it exists to show
    that an embedding layer is a linear layer applied to one-hot vectors.
    """
    _validate.tensor("ids", ids, floating=False)
    _validate.tensor("weight", weight, ndim=2, floating=True)
    if weight.shape[0] == 0:
        raise ValueError("weight must have at least one row (one per token), got shape (0, ...)")
    _validate.same_device("ids", ids, weight.device, "weight")
    _validate.ids_in_range("ids", ids, weight.shape[0])
    # The one-hot matrix (ids.numel(), V) is int64, then a copy in weight's dtype.
    bytes_each = 8 + weight.element_size()
    _validate.fits_in_memory(
        "ids.numel() × weight.shape[0]", ids.numel() * weight.shape[0], bytes_each=bytes_each
    )
    return F.one_hot(ids.long(), num_classes=weight.shape[0]).to(weight.dtype) @ weight


def similarity_matrix(vectors: torch.Tensor, kind: str = "cosine") -> torch.Tensor:
    """Pairwise similarity of the rows of ``vectors`` (T, d) → (T, T).

    ``kind="dot"`` gives raw dot products (they grow with the vectors' length);
    ``kind="cosine"`` divides by both lengths, so it lies in [-1, 1].
    """
    _validate.tensor("vectors", vectors, ndim=2, floating=True)
    if not isinstance(kind, str):  # a numpy array fails at ==, naming nothing
        raise ValueError(f"kind must be 'cosine' or 'dot', got {type(kind).__name__}")
    if kind == "dot":
        return vectors @ vectors.T
    if kind == "cosine":
        # float16 and bfloat16 round a row's length and its products: a cosine came out as 1.01.
        # Computed in float32 and kept within [-1, 1], then handed back in the vectors' dtype.
        low = vectors.dtype in (torch.float16, torch.bfloat16)
        unit = F.normalize(vectors.float() if low else vectors, dim=-1)
        sims = unit @ unit.T
        return sims.clamp(-1.0, 1.0).to(vectors.dtype) if low else sims
    raise ValueError(f"kind must be 'cosine' or 'dot', got {kind!r}")
