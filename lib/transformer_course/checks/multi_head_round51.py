"""Round 51: the multi-head checker's "scaled by √d_model" hint, in the numbers of the input it
failed on: the sizes, what the learner divided by, what each head should be divided by."""

from __future__ import annotations

import math
from dataclasses import replace

from .result import Result

D_MODEL_HINT = "not by √d_model: the dot products are over d_head numbers."


def _root(n: int) -> str:
    return f"√{n} = {math.isqrt(n)}" if math.isqrt(n) ** 2 == n else f"√{n} ≈ {math.sqrt(n):.3g}"


def in_numbers(result: Result, cases: list) -> Result:
    """``result`` with the first input where √d_model and √d_head differ (more than one head:
    the input the checker failed on), where its message is the √d_model hint alone."""
    if not result.message.endswith(D_MODEL_HINT):
        return result
    for number, (x, *_, h) in enumerate(cases, 1):
        d_model = x.shape[-1]
        if h > 1:
            said = (
                f" On input #{number} (x {tuple(x.shape)}, d_model = {d_model}, {h} heads, so "
                f"d_head = {d_model} / {h} = {d_model // h}), you divided by √d_model = "
                f"{_root(d_model)}; each head's scores are divided by √d_head = {_root(d_model // h)}."
            )
            return replace(result, message=result.message + said)
    return result
