"""More of ``assembly``'s catalogue (the encoder-decoder forward): the positions' slips met in
round 43b's battery, each with what it computes (or how it is recognised), its hint and a
learner-style example: a position table of one's own written wrong (sin and cos swapped, the
halves not interleaved, the exponent doubled), one row of the table for every token, the rows
given an axis in the middle, torch.sqrt of the int d_model. ``assembly_slips`` adds them to its
``ROUND_43B``; ``learners_forward`` is the learner-style forward its examples share.
"""

from __future__ import annotations

import math

import torch

from .describe import same
from .harness import Mistake

EMBED = "parts.embedding(ids) * math.sqrt(d_model) + parts.positions[: ids.shape[1]]"


def _forward(parts, src, trg_in, *, positions):
    """The right forward pass (masks built here), with ``positions(parts, ids)`` as the rows."""
    d = parts.embedding.embedding_dim
    embed = lambda ids: parts.embedding(ids) * math.sqrt(d) + positions(parts, ids)  # noqa: E731
    src_mask = (src != parts.pad_id)[:, None, None, :]  # (B, 1, 1, Ls)
    length = trg_in.shape[1]
    trg_mask = (
        torch.ones(length, length, dtype=torch.bool).tril() & (trg_in != parts.pad_id)[:, None, None, :]
    )
    memory = parts.encoder(embed(src), src_mask)
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def _table(length, d_model, *, swapped=False, halves=False, exponent=1.0):
    """A sinusoidal table (length, d_model) written wrong: sin and cos ``swapped``, the sines and
    cosines in two ``halves`` (not interleaved), the frequencies' exponent times ``exponent``."""
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    even = torch.arange(0, d_model, 2, dtype=torch.float32)  # 2i
    angle = position / 10000 ** (exponent * even / d_model)  # (L, d_model / 2)
    first, second = (angle.cos(), angle.sin()) if swapped else (angle.sin(), angle.cos())
    if halves:
        return torch.cat([first, second], dim=-1)
    return torch.stack([first, second], dim=-1).flatten(-2)  # columns sin, cos, sin, cos, …


def _own_table(**wrong):
    """The forward pass with the learner's own table, wrong as ``wrong`` says, for the positions."""
    rows = lambda parts, ids: _table(ids.shape[1], parts.embedding.embedding_dim, **wrong)  # noqa: E731
    return lambda parts, src, trg_in: _forward(parts, src, trg_in, positions=rows)


def _one_row_for_all(fn, case, got) -> bool:
    """Row L (or L − 1) of the table added to every token: positions[L], not positions[:L]."""
    rows = (
        lambda parts, ids: parts.positions[ids.shape[1]],
        lambda parts, ids: parts.positions[ids.shape[1] - 1],
    )
    return any(same(got, _forward(*case, positions=row), 1e-4) for row in rows)


def learners_forward(parts, src, trg_in, *, table=None, trg_mask=None):
    """A learner's forward pass with its own position ``table(L, d)`` and target mask."""
    d_model = parts.embedding.embedding_dim

    def embed(ids):
        rows = parts.positions[: ids.shape[1]] if table is None else table(ids.shape[1], d_model)
        return parts.embedding(ids) * math.sqrt(d_model) + rows

    src_mask = (src != parts.pad_id).unsqueeze(1).unsqueeze(2)
    memory = parts.encoder(embed(src), src_mask)
    length = trg_in.shape[1]
    mask = trg_mask(length) if trg_mask else torch.tril(torch.ones(length, length)).bool()
    mask = mask & (trg_in != parts.pad_id).unsqueeze(1).unsqueeze(2)
    return parts.output(parts.decoder(embed(trg_in), memory, mask, src_mask))


def roots_with_torch(parts, src, trg_in):
    scale = torch.sqrt(parts.embedding.embedding_dim)  # an int: torch.sqrt wants a tensor
    embed = lambda ids: parts.embedding(ids) * scale + parts.positions[: ids.shape[1]]  # noqa: E731
    src_mask = (src != parts.pad_id)[:, None, None, :]
    memory = parts.encoder(embed(src), src_mask)
    trg_mask = torch.ones(trg_in.shape[1], trg_in.shape[1], dtype=torch.bool).tril()
    trg_mask = trg_mask & (trg_in != parts.pad_id)[:, None, None, :]
    return parts.output(parts.decoder(embed(trg_in), memory, trg_mask, src_mask))


def adds_one_row(parts, src, trg_in):
    return learners_forward(parts, src, trg_in, table=lambda n, d: parts.positions[n])


def puts_the_positions_axis_in_the_middle(parts, src, trg_in):
    return learners_forward(parts, src, trg_in, table=lambda n, d: parts.positions[:n].unsqueeze(1))


def _learners_table(length, d_model, *, trig=(torch.sin, torch.cos), cat=False, two=1):
    pos = torch.arange(length).unsqueeze(1).float()
    freq = torch.exp(-math.log(10000.0) * two * torch.arange(0, d_model, 2).float() / d_model)
    if cat:
        return torch.cat([trig[0](pos * freq), trig[1](pos * freq)], dim=1)
    table = torch.zeros(length, d_model)
    table[:, 0::2], table[:, 1::2] = trig[0](pos * freq), trig[1](pos * freq)
    return table


def swaps_sin_and_cos(parts, src, trg_in):
    table = lambda n, d: _learners_table(n, d, trig=(torch.cos, torch.sin))  # noqa: E731
    return learners_forward(parts, src, trg_in, table=table)


def puts_the_cosines_after_the_sines(parts, src, trg_in):
    return learners_forward(parts, src, trg_in, table=lambda n, d: _learners_table(n, d, cat=True))


def doubles_the_exponent(parts, src, trg_in):
    return learners_forward(parts, src, trg_in, table=lambda n, d: _learners_table(n, d, two=2))


_TABLE = (
    "You built a position table of your own, and {wrong}. You are given chapter 02's: "
    "parts.positions[: ids.shape[1]], row p = [sin(p/10000^(0/d)), cos(p/10000^(0/d)), "
    "sin(p/10000^(2/d)), cos(p/10000^(2/d)), …]."
)


POSITION_MISTAKES = (
    Mistake(
        name="torch.sqrt of a number",
        hint="torch.sqrt takes a tensor, and d_model is a plain int (parts.embedding.embedding_dim): "
        "use math.sqrt(d_model) or d_model ** 0.5.",
        compute=None,
        error=r"sqrt\(\): argument 'input' \(position 1\) must be Tensor, not (int|float)",
        example=roots_with_torch,
    ),
    Mistake(
        name="one position row for every token",
        hint="You added ONE row of the table, parts.positions[L], to every token: all of them then "
        "get the same position. Each token takes its own row, the first L rows: "
        f"parts.positions[: ids.shape[1]] (a slice, with the colon): {EMBED}.",
        compute=None,
        recognise=_one_row_for_all,
        example=adds_one_row,
    ),
    # On the first input: (5, 1, 16) positions meet the (B = 2, 5, 16) embedding at dim 0.
    Mistake(
        name="positions with an axis in the middle",
        hint="Your positions are (L, 1, d_model) (unsqueeze(1), or [:, None]): against the (B, L, "
        "d_model) embedding, their L meets the batch axis. The (L, d_model) rows broadcast as "
        "they are, or with the new axis in FRONT, parts.positions[: ids.shape[1]].unsqueeze(0).",
        compute=None,
        error=r"size of tensor a \(2\) must match the size of tensor b \(5\) at non-singleton dimension 0",
        example=puts_the_positions_axis_in_the_middle,
    ),
    Mistake(
        name="own position table, sin and cos swapped",
        hint=_TABLE.format(wrong="its sines and cosines are swapped: the even columns are the sines"),
        compute=_own_table(swapped=True),
        example=swaps_sin_and_cos,
    ),
    Mistake(
        name="own position table, halves not interleaved",
        hint=_TABLE.format(
            wrong="its sines fill the first half and its cosines the second: they "
            "alternate, sines in the even columns (0::2), cosines in the odd ones (1::2)"
        ),
        compute=_own_table(halves=True),
        example=puts_the_cosines_after_the_sines,
    ),
    Mistake(
        name="own position table, exponent doubled",
        hint=_TABLE.format(
            wrong="its exponent is doubled, 10000^(2·2i/d): 2i is already the even "
            "column's index, so the exponent is 2i/d, torch.arange(0, d, 2) / d"
        ),
        compute=_own_table(exponent=2.0),
        example=doubles_the_exponent,
    ),
)
