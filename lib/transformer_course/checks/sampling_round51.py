"""Round 51's sampler mistake: ``torch.multinomial(probs, B, replacement=True)``, B draws per row.

multinomial's second argument is how many draws EACH row gets, not how many rows there are. On
the checker's batch of 2·ROWS = 20,000 rows that is a (20,000, 20,000) tensor of ids, 400 million
draws: the learner waited a minute or more for a verdict. So before the big batch the checker
gives the sampler a small one (``probe``, 3 rows of 6 logits: B ≠ V ≠ 1, so a (B, B) answer
cannot be mistaken for the probabilities or a column of ids) and names the mistake at once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .harness import LEARNER_ERRORS, Mistake
from .quietly import quietly
from .sampling_draws import NotIds, returned
from .time_limit import TookTooLong, time_limit

PROBE_ROWS = 3  # B of the probe: not 1, not V (6), so (B, B) is neither (B, 1) nor (B, V)
PROBE_S = 5.0  # a sampler of 3 rows takes milliseconds: past this, the big batch decides


def _draws_per_row(logits, temperature, top_k):
    """The learner's slip, as written: num_samples = the batch size."""
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, logits.shape[0], replacement=True)


def _square(value: object, rows: int) -> bool:
    return isinstance(value, torch.Tensor) and rows > 1 and tuple(value.shape) == (rows, rows)


def _hint(rows: int = PROBE_ROWS, vocab: int = 6) -> str:
    return (
        f"Given logits of shape ({rows}, {vocab}), your sampler returned a ({rows}, {rows}) tensor: "
        f"{rows} draws for EACH row. torch.multinomial's second argument, num_samples, is how many "
        "tokens to draw from every row, not how many rows there are, so multinomial(probs, B) "
        "draws B per row (the checker's batch of 20,000 rows would get 400 million). Draw one per "
        "row, torch.multinomial(probs, num_samples=1).squeeze(-1), shape (B,)."
    )


B_DRAWS_PER_ROW = Mistake(
    name="num_samples = the batch size",
    hint=_hint(),
    compute=None,  # named by probe, before the big batch; recognise: if it ever gets that far
    recognise=returned(lambda got, bv: _square(got.value, bv[0])),
    example=_draws_per_row,
)
ROUND_51 = (B_DRAWS_PER_ROW,)


def probe(learner_fn: Callable, logits: torch.Tensor, temperature: float, top_k: int | None) -> str | None:
    """B_DRAWS_PER_ROW's hint where the learner's sampler, given ``PROBE_ROWS`` rows of
    ``logits`` (a fresh copy, from a forked random state, quietly), returns a (B, B) tensor;
    else None (it answered right, raised, or ran past PROBE_S: the big batch says what)."""
    rows = logits[torch.arange(PROBE_ROWS) * (logits.shape[0] // PROBE_ROWS)].clone()
    try:
        with torch.random.fork_rng(devices=[]), time_limit(PROBE_S), quietly():
            torch.default_generator.manual_seed(0)
            got = learner_fn(rows, temperature, top_k)
    except (TookTooLong, *LEARNER_ERRORS):
        return None
    if isinstance(got, NotIds):
        got = got.value
    return _hint(*rows.shape) if _square(got, rows.shape[0]) else None
