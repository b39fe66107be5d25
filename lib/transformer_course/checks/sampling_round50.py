"""More of ``sampling``'s catalogue, met in round 50's review: a None top_k compared or
subtracted, ``top_k or 1`` (one token kept where None keeps all), num_samples set to the batch
size, and a pass's note for a sampler that seeds the random numbers itself.

As in ``sampling.distribution``, what a mistake computes is the probabilities each of the two
distinct rows of logits (rows 0 and ROWS of the batch) is drawn with, (2, V).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F

from . import sampling_learners as learner
from .describe import same
from .harness import LEARNER_ERRORS, Mistake
from .result import Result
from .sampling_draws import ATOL, ROWS


def _softmax(logits, temperature, top_k):
    """The right draws of the two distinct rows, (2, V)."""
    rows = logits[[0, ROWS]].double() / temperature
    if top_k is not None:
        rows = rows.masked_fill(rows < rows.topk(top_k, dim=-1).values[:, -1:], float("-inf"))
    return torch.softmax(rows, dim=-1)


def _one_kept_for_none(fn, case, got) -> bool:
    """Argmax draws where top_k is None, right draws where it is given (``top_k or 1``): the
    sampler draws, it just filtered None down to one token."""
    logits, temperature, top_k = case
    if top_k is not None:
        return False
    rows = logits[[0, ROWS]].double() / temperature
    if not same(got, F.one_hot(rows.argmax(dim=-1), rows.shape[-1]).double(), ATOL):
        return False
    torch.default_generator.manual_seed(0)  # as check_function seeds each call (CPU, forked)
    probe = (logits.clone(), 1.0, 3)  # the third case's knobs: a top_k the sampler handles
    return same(fn(*probe), _softmax(*probe), ATOL)


def _one_draw_for_all(fn, case, got) -> bool:
    """Both distinct rows drew one and the same token every time: one draw, copied to every row."""
    if not isinstance(got, torch.Tensor) or got.shape[0] != 2:
        return False
    token = int(got[0].argmax())
    # … where the right draws of the second row are not that token alone
    return bool(got[:, token].min() > 1 - ATOL) and bool(_softmax(*case)[1, token] < 1 - 4 * ATOL)


# Checked before "argmax", which it equals on the cases without top_k.
NONE_KEEPS_ONE = Mistake(
    name="top_k None keeps one token",
    hint="With top_k None every token must stay, and yours kept only the likeliest one there, so "
    "those draws are all the same token (top_k or 1?). With a top_k given, your draws are right. "
    "Filter only when it is given, if top_k is not None: …, or keep top_k or V tokens "
    "(V = logits.shape[-1]).",
    compute=None,
    recognise=_one_kept_for_none,
    example=learner.keeps_one_token_for_none,
)

ROUND_50 = (
    Mistake(
        name="top_k None compared or subtracted",
        hint="top_k may be None, which means no top-k at all, and None cannot be compared with a "
        "number or take part in arithmetic (top_k > 0, min(top_k, V), top_k - 1). Test for it "
        "first: if top_k is not None: … (and then every token stays).",
        compute=None,
        error=r"TypeError: .*('NoneType' and|and 'NoneType')",
        example=learner.compares_none_with_zero,
    ),
    Mistake(
        name="num_samples is the batch size",
        hint="torch.multinomial(probs, n) draws n tokens from EACH row of probs, and (without "
        "replacement) there are only V tokens to draw. One token per row is "
        "torch.multinomial(probs, 1).squeeze(-1): num_samples=1, whatever the batch size.",
        compute=None,
        error=r"cannot sample n_sample > prob_dist\.size\(-1\) samples without replacement",
        example=learner.draws_a_batch_per_row,
    ),
    Mistake(
        name="one draw for the whole batch",
        hint="Every row of your batch got one and the same token: you drew once (from the first "
        "row's probabilities) and copied it to every row. Draw one token PER ROW from the (B, V) "
        "probabilities: torch.multinomial(probs, 1).squeeze(-1).",
        compute=None,
        recognise=_one_draw_for_all,
        example=learner.draws_once_for_the_batch,
    ),
)

_RESEEDS = (
    " But your function draws the same tokens on every call for the same logits: it seeds the "
    "random numbers itself (torch.manual_seed inside?). In generation every step would then draw "
    "alike, and each call resets the notebook's random state. Seed once, outside the function, "
    "if you want a run you can repeat."
)


def note_reseeding(result: Result, learner_fn: Callable) -> Result:
    """``result`` with a note where it passed and two calls in a row, the random state left to
    run on between them, draw the very same ids from 256 rows of 8 equally likely tokens
    (by chance: 8**-256)."""
    if not result.passed:
        return result
    logits = torch.zeros(256, 8)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(1)
            first, second = learner_fn(logits.clone(), 1.0, None), learner_fn(logits.clone(), 1.0, None)
    except LEARNER_ERRORS:
        return result
    if not (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)):
        return result
    if first.shape != second.shape or not torch.equal(first, second):
        return result
    base = result.message[: len(result.message) - len(result.warning)]
    return replace(result, message=base + _RESEEDS + result.warning, note=result.note + _RESEEDS)
