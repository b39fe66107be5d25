"""More of ``sampling``'s catalogue, met in round 50's review (finding 11): one top-k threshold
for the whole batch, the first row's k-th largest logit (``logits[0].topk(k).values[-1]``).

As in ``sampling.distribution``, what a mistake computes is the probabilities each of the two
distinct rows of logits (rows 0 and ROWS of the batch) is drawn with, (2, V).
"""

from __future__ import annotations

import torch

from . import sampling_learners as learner
from .describe import same
from .harness import Mistake
from .sampling_draws import ATOL, ROWS


def _first_rows_threshold(logits, temperature, top_k):
    """Every row keeps what is not below row 0's k-th largest logit, (2, V)."""
    rows = logits[[0, ROWS]].double() / temperature  # row 0 of the batch is the first distinct row
    if top_k is not None:
        kth = rows[0].topk(top_k).values[-1]  # a number, not one per row
        rows = rows.masked_fill(rows < kth, float("-inf"))
    return torch.softmax(rows, dim=-1)


def _thresholds_with_the_first_row(fn, case, got) -> bool:
    """Draws as from row 0's threshold on this case, and again at temperature 2.5, top_k 2 (the
    fourth case's knobs). At top_k 3, T 1, where a learner's first failure is, these draws are
    only 0.074 from "top-k ignored"'s; at 2.5 and 2 they are 0.15 or more from every other
    mistake's, as the checker needs (3 × ATOL: tests/test_exercises.py)."""
    logits, _, top_k = case
    if top_k is None or not same(got, _first_rows_threshold(*case), ATOL):
        return False
    torch.default_generator.manual_seed(0)  # as check_function seeds each call (CPU, forked)
    probe = (logits.clone(), 2.5, 2)
    return same(fn(*probe), _first_rows_threshold(*probe), ATOL)


ROUND_50B = (
    Mistake(
        name="the first row's threshold for every row",
        hint="Your top-k used ONE threshold for every row: the first row's k-th largest logit "
        "(logits[0].topk(k)…), or one number taken over the whole batch. Each row keeps its own k "
        "largest, so each row needs its own k-th largest: logits.topk(k, dim=-1).values[:, -1:], "
        "shape (B, 1), and logits < kth compares every row with its own.",
        compute=None,
        recognise=_thresholds_with_the_first_row,
        example=learner.thresholds_with_the_first_row,
    ),
)
