"""Where is each token? Sinusoidal encodings (the paper's) and learned position embeddings."""

from __future__ import annotations

import torch
from torch import nn

from . import _validate

MAX_SHIFT = 2**53  # largest |k| for shift_matrix: float64 holds every int up to it exactly


def sinusoidal_encoding(
    length: int,
    d_model: int,
    *,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The paper's encoding, shape (length, d_model).

    PE[pos, 2i] = sin(pos / base^(2i/d_model)),  PE[pos, 2i+1] = cos(pos / base^(2i/d_model)).
    Each pair of columns is a wave; its wavelength grows from 2π (i = 0) to about
    2π·base (the last pair), so fast waves tell neighbours apart and slow ones tell
    far-apart positions apart.
    """
    length = _validate.positive_int("length", length)  # a numpy int becomes an int: no overflow below
    d_model = _validate.positive_int("d_model", d_model)
    base = _validate.finite_number("base", base, above=1)  # a float: a huge int fails inside torch's pow
    _validate.float_dtype("dtype", dtype)
    _validate.device("device", device)
    # Before anything is allocated: the (length, d_model) table in float64, and the angles and
    # a sin or cos beside it while it is filled, about 16 bytes a number at the peak.
    _validate.fits_in_memory("length × d_model", length * d_model, bytes_each=16)
    pos = torch.arange(length, dtype=torch.float64, device=device)[:, None]  # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64, device=device)  # (⌈d/2⌉,)
    angle = pos / base ** (two_i / d_model)  # (L, ⌈d/2⌉)
    pe = torch.empty(length, d_model, dtype=torch.float64, device=device)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # an odd d_model has one sin too many
    return pe.to(dtype)  # computed in float64 so large positions stay accurate


def shift_matrix(
    k: int, d_model: int, *, base: float = 10000.0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The fixed (d_model, d_model) matrix M_k with PE[pos + k] = M_k @ PE[pos] for every pos.

    The paper's reason for sinusoids: moving k positions is the same linear map wherever
    you start. For each pair (sin, cos) at frequency ω, the angle formulas give

        sin((pos+k)ω) =  cos(kω)·sin(posω) + sin(kω)·cos(posω)
        cos((pos+k)ω) = -sin(kω)·sin(posω) + cos(kω)·cos(posω)

    so M_k is block-diagonal: one 2×2 rotation by the angle kω per pair. It depends on k
    only, never on pos; being a rotation it keeps lengths, which is why the dot product
    PE[pos]·PE[pos+k] depends only on the distance k. ``k`` may be negative (a step back).
    """
    k = _validate.integer("k", k)
    if abs(k) > MAX_SHIFT:  # float64 holds every int up to 2**53; past it k·ω is not k's angle
        raise ValueError(f"k must be an int in [-2**53, 2**53], got {k}")
    d_model = _validate.positive_int("d_model", d_model)
    if d_model % 2:
        raise ValueError(f"d_model must be even (one sin/cos pair per frequency), got {d_model}")
    base = _validate.finite_number("base", base, above=1)  # a float: a huge int fails inside torch's pow
    _validate.float_dtype("dtype", dtype)
    # The (d_model, d_model) matrix in float64, then in dtype: checked before either is made.
    _validate.fits_in_memory("d_model × d_model", d_model * d_model, bytes_each=16)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d/2,)
    angle = k / base ** (two_i / d_model)  # (d/2,): k·ω for each pair
    c, s = torch.cos(angle), torch.sin(angle)
    blocks = torch.stack([torch.stack([c, s], -1), torch.stack([-s, c], -1)], -2)  # (d/2, 2, 2)
    return torch.block_diag(*blocks).to(dtype)


class SinusoidalPositionalEncoding(nn.Module):
    """x (B, T, d_model) → x + PE[start : start + T]. Nothing to learn; any start + T ≤ max_len.

    ``start`` is the position of x's first vector: 0 for a whole sequence, t for the
    tokens that follow t cached ones (``kv_cache``).
    """

    def __init__(self, d_model: int, max_len: int = 512, *, base: float = 10000.0):
        super().__init__()
        self.d_model = _validate.positive_int("d_model", d_model)
        self.max_len = _validate.positive_int("max_len", max_len)
        # Checked here too, so that the message names max_len (sinusoidal_encoding calls it length).
        _validate.fits_in_memory("max_len × d_model", self.max_len * self.d_model, bytes_each=16)
        # A buffer moves with .to(device) but is not a parameter and not saved. In the default
        # dtype, as PyTorch's own modules build theirs: under torch.set_default_dtype(float64) a
        # float32 table cast up at every forward would add float32's rounding (3e-8) to the model.
        self.base = _validate.finite_number("base", base, above=1)
        table = sinusoidal_encoding(
            self.max_len, self.d_model, base=self.base, dtype=torch.get_default_dtype()
        )
        self.register_buffer("pe", table, persistent=False)

    def _apply(self, fn, recurse=True):
        """``.to``, ``.double()``, ``.to_empty`` …: the table is computed again for where it now
        lives, from the float64 formula (a float32 table cast up to float64 kept float32's rounding,
        1e-7 off; ``to_empty`` left uninitialised memory, which ``load_state_dict`` does not fill,
        as the table is not saved)."""
        before = self.pe
        super()._apply(fn, recurse)
        # Only where the call made a new table: a call that changed nothing (.to() the device and
        # dtype it has, every step of a loop) keeps the table, shared memory and all.
        if self.pe is not before and not self.pe.is_meta and self.pe.is_floating_point():
            base = getattr(self, "base", 10000.0)  # a module pickled before ``base`` was kept
            exact = sinusoidal_encoding(self.max_len, self.d_model, base=base, dtype=torch.float64)
            self.pe = exact.to(self.pe.device, self.pe.dtype)
        return self

    def forward(self, x: torch.Tensor, *, start: int = 0) -> torch.Tensor:
        _check_input(x, self.d_model, self.max_len, self.pe, start)
        return self._forward(x, start)

    def _forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``forward`` for x already checked."""
        return x + self.pe[start : start + x.shape[1]].to(x.dtype)


class LearnedPositionalEmbedding(nn.Module):
    """x (B, T, d_model) → x + E[start … start+T-1], where E is an ``nn.Embedding`` over positions.

    Learned like word vectors (as in BERT and GPT), so it starts as noise, must be
    trained, and knows nothing about positions ≥ max_len.
    """

    def __init__(self, d_model: int, max_len: int = 512):
        super().__init__()
        self.d_model = _validate.positive_int("d_model", d_model)
        self.max_len = _validate.positive_int("max_len", max_len)
        _validate.fits_in_memory("max_len × d_model", self.max_len * self.d_model)  # before the table is made
        self.table = nn.Embedding(self.max_len, self.d_model)

    @property
    def pe(self) -> torch.Tensor:
        """The learned table, shape (max_len, d_model), row p for position p."""
        return self.table.weight

    def forward(self, x: torch.Tensor, *, start: int = 0) -> torch.Tensor:
        _check_input(x, self.d_model, self.max_len, self.pe, start)
        return self._forward(x, start)

    def _forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``forward`` for x already checked. Rows start … start+T-1 of the table, a slice:
        the same numbers (and gradients) as looking up torch.arange(start, start + T)."""
        return x + self.table.weight[start : start + x.shape[1]]


def _check_input(x: torch.Tensor, d_model: int, max_len: int, table: torch.Tensor, start: int) -> int:
    """Checks x (B, T, d_model) at positions start … start+T-1; returns the end, start + T."""
    _validate.tensor("x", x, ndim=3, floating=True)
    _validate.size("x", x, -1, d_model, "d_model")
    _validate.same_device("x", x, table.device, "the position table")
    start = _validate.integer("start", start, low=0, high=max_len + 1)  # past max_len: named, not "x has …"
    if start + x.shape[1] > max_len:
        where = f" from position {start}" if start else ""
        raise ValueError(f"x has {x.shape[1]} positions (dimension 1){where} but max_len is {max_len}")
    return start + x.shape[1]
