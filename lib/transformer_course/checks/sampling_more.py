"""More of ``sampling``'s catalogue: the top-k thresholds met in the ninth audit that fail with
an error (the last row's values, the k-th value read at index k), each with its hint and a
learner-style example (in ``sampling_learners``).
"""

from __future__ import annotations

from . import sampling_learners as learner
from .harness import Mistake

MORE_MISTAKES = (
    Mistake(
        name="the last row's top k",
        hint="values[-1] is the LAST ROW of topk's values, the k largest logits of the last row, "
        "shape (k,): compared with the (B, V) logits it lines up with the vocabulary and fails. "
        "Each row needs its own k-th largest, the last COLUMN: values[:, -1:] (or nanoGPT's "
        "v[:, [-1]]), shape (B, 1).",
        compute=None,
        # The k values against the V logits: k is one digit in every case, the batch is not.
        error=r"size of tensor a \(\d+\) must match the size of tensor b \(\d\) at non-singleton dimension 1",
        example=learner.reads_the_last_rows_values,
    ),
    Mistake(
        name="the k-th value at index k",
        hint="topk(k) returns k values per row, at indices 0 … k-1: index k is past the end. The "
        "k-th largest is the last of them, values[:, k - 1] (keep its axis: values[:, -1:], "
        "shape (B, 1)).",
        compute=None,
        error=r"index (\d+) is out of bounds for dimension 1 with size \1\b",
        example=learner.indexes_the_kth_at_k,
    ),
)
