"""More of ``sampling``'s catalogue: the top-k thresholds met in the ninth audit that fail with
an error (the last row's values, the k-th value read at index k), and the tenth audit's axes
(the softmax or the top-k taken down the batch) and the k smallest kept, and the round-41
battery's (the temperature divided twice, a sigmoid, −∞ among the probabilities), each with its
hint and a learner-style example (in ``sampling_learners``).

What a mistake computes is, as in ``sampling.distribution``, the probabilities each of the two
distinct rows of logits (rows 0 and ROWS of the batch) is drawn with, (2, V).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import sampling_learners as learner
from .describe import same
from .failure import Failure, reduced_away, took
from .harness import Mistake
from .sampling_draws import ATOL, ROWS


def _top_k_down_the_batch(logits, temperature, top_k):
    """Each token's k-th largest logit down the batch as every row's threshold."""
    x = logits.double() / temperature
    if top_k is not None:
        x = x.masked_fill(x < x.topk(top_k, dim=0).values[-1:], -math.inf)
    return torch.softmax(x[[0, ROWS]], dim=-1)


def _softmax_down_the_batch(logits, temperature, top_k):
    """A softmax over dim=0, which the draw then renormalises row by row (a column that top-k
    emptied in every row is NaN there: the sampler raises, so it is never compared)."""
    x = logits.double() / temperature
    if top_k is not None:
        x = x.masked_fill(x < x.topk(top_k, dim=-1).values[:, -1:], -math.inf)
    probs = torch.softmax(x, dim=0)[[0, ROWS]].nan_to_num(0.0)
    return probs / probs.sum(dim=-1, keepdim=True)


def _sigmoid(logits, temperature, top_k):
    """A sigmoid per token in place of the softmax, which the draw renormalises row by row."""
    x = logits[[0, ROWS]].double() / temperature
    if top_k is not None:
        x = x.masked_fill(x < x.topk(top_k, dim=-1).values[:, -1:], -math.inf)
    probs = torch.sigmoid(x)
    return probs / probs.sum(dim=-1, keepdim=True)


def _divided_twice(logits, temperature, top_k):
    x = logits[[0, ROWS]].double() / temperature**2
    if top_k is not None:
        x = x.masked_fill(x < x.topk(top_k, dim=-1).values[:, -1:], -math.inf)
    return torch.softmax(x, dim=-1)


def _draws_like(mistaken) -> Callable:
    """A ``recognise``: the draws match ``mistaken``'s distribution on this input AND on the same
    logits at temperature 0.5 without top-k, where the two temperatures' mistakes (and the right
    distribution) lie far apart; on some inputs they differ by little more than the noise."""

    def recognise(fn, case, got) -> bool:
        logits = case[0]
        if not same(got, mistaken(*case), ATOL):
            return False
        torch.default_generator.manual_seed(0)  # as check_function seeds each call (CPU, forked)
        return same(fn(logits.clone(), 0.5, None), mistaken(logits, 0.5, None), ATOL)

    return recognise


def _softmax_twice(logits, temperature, top_k):
    """softmax(softmax(logits) / T): the temperature on the probabilities, then a second softmax,
    which gives the tokens top-k removed (probability 0, exp 1) a share again."""
    x = logits[[0, ROWS]].double()
    if top_k is not None:
        x = x.masked_fill(x < x.topk(top_k, dim=-1).values[:, -1:], -math.inf)
    return torch.softmax(torch.softmax(x, dim=-1) / temperature, dim=-1)


def _learner_softmaxes_twice(logits, temperature, top_k):
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(torch.softmax(logits, dim=-1) / temperature, dim=-1)  # T on the probabilities
    return torch.multinomial(probs, 1).squeeze(-1)


def _smallest_kept(logits, temperature, top_k):
    """The k smallest logits of each row kept, the others −∞."""
    x = logits[[0, ROWS]].double() / temperature
    if top_k is not None:
        x = x.masked_fill(x > x.topk(top_k, dim=-1, largest=False).values[:, -1:], -math.inf)
    return torch.softmax(x, dim=-1)


MORE_MISTAKES = (
    Mistake(
        name="the top k compared with the logits",
        hint="topk's values, (B, k), or values[-1], the LAST ROW of them (k,), compared with the "
        "(B, V) logits line up with the vocabulary and fail. Each row needs its own k-th "
        "largest, the last COLUMN: values[:, -1:] (or nanoGPT's v[:, [-1]]), shape (B, 1).",
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
    Mistake(
        name="softmax down the batch",
        hint="Your softmax ran down the BATCH (dim=0): each token's probability was shared out "
        "among the rows, so what a row draws depends on the other rows. Take the softmax over "
        "the vocabulary (dim=-1), each row on its own: torch.softmax(logits, dim=-1).",
        compute=_softmax_down_the_batch,
        example=learner.softmax_down_the_batch,
    ),
    Mistake(
        name="top-k down the batch",
        hint="Your top-k ran down the BATCH (topk(k, dim=0)): it took each token's k largest "
        "logits among the rows, so a row keeps the tokens where it beats the other rows, not "
        "its own k best. Take each row's k largest over the vocabulary: "
        "logits.topk(k, dim=-1).values[:, -1:], shape (B, 1).",
        compute=_top_k_down_the_batch,
        example=learner.top_k_down_the_batch,
    ),
    Mistake(
        name="the k smallest kept",
        hint="Your top-k keeps the k SMALLEST logits, the least likely tokens: its threshold "
        "is the k-th smallest (topk(k, largest=False), or an ascending sort) and its mask "
        "blocks what is ABOVE it. Keep the k largest: kth = logits.topk(k, dim=-1).values[:, "
        "-1:], then logits.masked_fill(logits < kth, float('-inf')).",
        compute=_smallest_kept,
        example=learner.keeps_the_smallest,
    ),
    # --- met in the round-41 battery ---
    Mistake(
        name="temperature divided twice",
        hint="Your logits are divided by the temperature twice (T² in all): once by you, and once "
        "more by what you passed them to (the lib's next_token_probs(..., temperature=T) divides "
        "too), or twice in your own code. Divide once: logits / temperature.",
        compute=None,
        recognise=_draws_like(_divided_twice),
        example=learner.divides_twice,
    ),
    Mistake(
        name="sigmoid in place of the softmax",
        hint="You turned the logits into probabilities with a sigmoid, one yes/no per token: "
        "the next token is ONE choice among V, so the probabilities come from a softmax over "
        "the vocabulary, torch.softmax(logits, dim=-1), whose exp keeps the gaps between logits.",
        compute=None,
        recognise=_draws_like(_sigmoid),
        example=learner.sigmoid_instead_of_softmax,
    ),
    # --- met in round 45's adversarial pass ---
    Mistake(
        name="temperature on the probabilities, then a second softmax",
        hint="You divided the PROBABILITIES by the temperature and took a softmax again: "
        "probabilities lie between 0 and 1, so the second softmax is almost flat, and it gives "
        "the tokens top-k removed (probability 0, exp(0) = 1) a share again. The temperature "
        "divides the LOGITS, then one softmax: torch.softmax(logits / temperature, dim=-1).",
        compute=None,
        recognise=_draws_like(_softmax_twice),
        example=_learner_softmaxes_twice,
    ),
)

# Named by check_sample_next_token: multinomial refusing, with top_k, even one row alone.
MASKED_PROBABILITIES = Mistake(
    name="−∞ among the probabilities",
    hint="With top_k, torch.multinomial refuses your probabilities even for a single row: they "
    "hold −∞ or NaN. −∞ belongs on the LOGITS, before the softmax, whose exp turns it into 0: "
    "logits.masked_fill(logits < kth, float('-inf')), then the softmax. Set after the softmax, "
    "−∞ is a negative probability; and a mask multiplied in, logits * keep + (1 - keep) * "
    "(−∞), gives 0 · (−∞) = NaN.",
    compute=None,
    example=learner.masks_the_probabilities,
)


# --- Round 47c: a broadcast error is named by where it failed, not by its text alone ---

KEEPDIM = Mistake(  # before "the k-th largest without its axis": both raise the same error
    name="a reduction without keepdim",
    hint="A reduction over the vocabulary lost its axis: logits.max(dim=-1).values (or "
    "e.sum(dim=-1), in a softmax by hand) is (B,), which lines up with the V tokens, not with "
    "the rows. Keep the reduced axis, keepdim=True: logits.max(dim=-1, keepdim=True).values, "
    "e.sum(dim=-1, keepdim=True), shape (B, 1).",
    compute=None,
    error=r"must match the size of tensor",
    failed_at=reduced_away,
    example=learner.shifts_without_keepdim,
)


def took_the_kth_value(failure: Failure, case: tuple) -> bool:
    """top_k is set and the operation that failed took each row's k-th largest logit, (B,), of
    the logits as given or divided by the temperature."""
    logits, temperature, top_k = case
    if top_k is None:
        return False
    kths = (x.topk(top_k, dim=-1).values[:, -1] for x in (logits, logits / temperature))
    return any(took(failure, kth) for kth in kths)
