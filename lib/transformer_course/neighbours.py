"""A task that needs several heads, and the one-layer model that learns it (chapter 05).

Each position of a row of random symbols must name three symbols: the one just before it
(``previous``), the one just after it (``next``) and the first symbol of the row
(``first``). One attention head hands each position a single weighted mix of values,
and a mix of the symbol on the left and the symbol on the right cannot say which was
which; with three heads, each can fetch one of them.

``NeighbourReader`` is one ``MultiHeadAttention`` layer with nothing around it (no
residual, no feed-forward): whatever its three readouts know came through the heads.
After a few seconds of training, ``head_jobs`` measures where each head looks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate
from .attention import MultiHeadAttention
from .modes import evaluating
from .positional import sinusoidal_encoding

JOBS = ("previous", "next", "first")  # what each position must name, in the order of the readouts
NO_ANSWER = -100  # target where a job has no answer (nothing before position 0, nothing after the last)
MAX_SYMBOLS = 2**62  # symbol ids torch.randint can draw


def neighbour_rows(num_rows: int, *, length: int = 8, num_symbols: int = 6, seed: int = 0) -> torch.Tensor:
    """(num_rows, length) random symbol ids in [0, num_symbols), reproducible from ``seed``."""
    # Python ints: numpy's would wrap around in the product checked below (np.int64 max × 8)
    num_rows, length, num_symbols = (
        _validate.positive_int(name, value)
        for name, value in (("num_rows", num_rows), ("length", length), ("num_symbols", num_symbols))
    )
    if num_symbols > MAX_SYMBOLS:  # torch.randint overflows past int64
        raise ValueError(f"num_symbols must be at most {MAX_SYMBOLS:,}, got {num_symbols:,}")
    if length < 3:
        raise ValueError(f"length must be at least 3 (a position with a symbol on each side), got {length}")
    seed = _validate.seed("seed", seed)  # an int: manual_seed refuses numpy's
    _validate.fits_in_memory("num_rows × length", num_rows * length, bytes_each=8)  # int64 ids
    return torch.randint(0, num_symbols, (num_rows, length), generator=torch.Generator().manual_seed(seed))


def neighbour_targets(ids: torch.Tensor) -> torch.Tensor:
    """ids (N, L) → targets (N, 3, L): for each job of ``JOBS``, the symbol each position must name."""
    _validate.tensor("ids", ids, ndim=2, floating=False)
    _validate.stored("ids", ids)  # its symbols are copied into the targets
    targets = torch.full((ids.shape[0], len(JOBS), ids.shape[1]), NO_ANSWER, dtype=torch.long)
    targets[:, 0, 1:] = ids[:, :-1]  # previous: the symbol on the left
    targets[:, 1, :-1] = ids[:, 1:]  # next: the symbol on the right
    targets[:, 2, :] = ids[:, :1]  # first: the row's first symbol, everywhere
    return targets


class NeighbourReader(nn.Module):
    """ids (N, L) → logits (N, 3, L, num_symbols): one guess per job and position.

    Symbol embedding + sinusoidal positions → one ``MultiHeadAttention`` → three linear
    readouts of its output. ``weights`` keeps the attention weights (N, h, L, L) of the
    last call made with ``need_weights=True``.
    """

    def __init__(self, num_symbols: int = 6, d_model: int = 24, num_heads: int = 3, max_len: int = 16):
        super().__init__()
        self.num_symbols = num_symbols = _validate.positive_int("num_symbols", num_symbols)
        self.max_len = max_len = _validate.positive_int("max_len", max_len)
        d_model = _validate.positive_int("d_model", d_model)  # nn.Embedding's error names none
        # the embedding and the three readouts (num_symbols × d_model each), the layer's 4 × d_model²
        _validate.fits_in_memory("(num_symbols + d_model) × d_model", 4 * (num_symbols + d_model) * d_model)
        _validate.fits_in_memory("max_len × d_model", max_len * d_model)  # the positions' table
        self.embed = nn.Embedding(num_symbols, d_model)
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)
        self.attention = MultiHeadAttention(d_model, num_heads)
        self.readouts = nn.ModuleList(nn.Linear(d_model, num_symbols) for _ in JOBS)
        self.weights: torch.Tensor | None = None

    def forward(self, ids: torch.Tensor, *, need_weights: bool = False) -> torch.Tensor:
        _validate.tensor("ids", ids, ndim=2, floating=False)
        _validate.index_dtype("ids", ids)
        _validate.stored("ids", ids)
        if ids.shape[1] > self.max_len:
            raise ValueError(f"ids has {ids.shape[1]} positions (dimension 1) but max_len is {self.max_len}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_symbols):
            raise ValueError(f"ids must hold symbols in [0, {self.num_symbols}), got {ids.unique().tolist()}")
        x = self.embed(ids) + self.pe[: ids.shape[1]]  # (N, L, d_model)
        mixed, weights = self.attention(x, need_weights=need_weights)  # (N, L, d_model), (N, h, L, L)
        if need_weights:
            self.weights = weights.detach()
        return torch.stack([readout(mixed) for readout in self.readouts], dim=1)  # (N, 3, L, S)


# What ``model`` must be, said where one fails inside torch (an nn.Linear given ids, say).
_READER = "a NeighbourReader, ids (N, L) → logits (N, 3, L, S)"


def neighbour_loss(model: NeighbourReader, ids: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of every job at every position that has an answer, averaged."""
    _validate.takes("model", model, 1, "(ids), a NeighbourReader")
    _check_rows(ids)
    logits = _validate.model_call("model", model, ids, what=_READER)  # (N, 3, L, S)
    if (
        not isinstance(logits, torch.Tensor)
        or logits.dim() != 4
        or logits.shape[:3] != (ids.shape[0], 3, ids.shape[1])
    ):
        got = f"shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"model must return logits (N, 3, L, S), as a NeighbourReader does, got {got}")
    targets = neighbour_targets(ids).to(logits.device)  # (N, 3, L)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=NO_ANSWER)


@torch.no_grad()
def neighbour_accuracy(model: NeighbourReader, ids: torch.Tensor) -> torch.Tensor:
    """(3,): for each job of ``JOBS``, the share of positions (with an answer) named right."""
    _validate.instance("model", model, nn.Module, " (a NeighbourReader)")
    _validate.weights_device("model", model)  # its guesses are compared with the targets below
    _check_rows(ids)
    with evaluating(model):
        guesses = _validate.model_call("model", model, ids, what=_READER).argmax(dim=-1).cpu()  # (N, 3, L)
    targets = neighbour_targets(ids.cpu())
    answered = targets != NO_ANSWER
    return ((guesses == targets) & answered).sum(dim=(0, 2)) / answered.sum(dim=(0, 2))


def _check_rows(ids: object) -> None:
    """Rows with something to score: without a row, or a second position, every target is
    NO_ANSWER and the loss or the accuracy is 0/0 (NaN), silently."""
    _validate.tensor("ids", ids, ndim=2, floating=False)
    if ids.shape[0] < 1 or ids.shape[1] < 2:
        raise ValueError(f"ids must hold at least 1 row of at least 2 symbols, got shape {tuple(ids.shape)}")


def head_jobs(weights: torch.Tensor) -> torch.Tensor:
    """weights (N, h, L, L) → (h, 3): the mean weight each head puts on the previous
    symbol, the next one and the first one of the row, as in ``JOBS``.

    Measured at positions 2 … L-2 only, where the three are different positions (at
    position 1 the previous symbol is the first one).
    """
    _validate.tensor("weights", weights, ndim=4, floating=True)
    length = weights.shape[-1]
    if length < 5 or weights.shape[-2] != length:
        raise ValueError(
            f"weights must be self-attention (..., L, L) with L ≥ 5, got shape {tuple(weights.shape)}"
        )
    if weights.shape[0] < 1:  # the mean over no rows is NaN
        raise ValueError(f"weights must hold at least one row, got shape {tuple(weights.shape)}")
    _validate.stored("weights", weights)  # its values are read
    _validate.finite_tensor("weights", weights)
    rows = torch.arange(2, length - 1)  # positions with all three answers elsewhere
    looks = torch.stack(
        [
            weights[:, :, rows, rows - 1],  # previous
            weights[:, :, rows, rows + 1],  # next
            weights[:, :, rows, 0],  # first
        ],
        dim=-1,
    )  # (N, h, positions, 3)
    return looks.mean(dim=(0, 2)).cpu()
