"""More of exercise 03's catalogue (``attention_scores``): the wrong answers met in round 41's
battery, each with what it computes (or how it is recognised) and its hint; the learner-style
examples are in ``attention_learners``.
"""

from __future__ import annotations

import math

import torch

from . import attention_learners as learner
from .attention_scalings import on_a_probe_too
from .harness import Mistake, fresh, varies_between_calls


def _scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q @ k.transpose(-2, -1)


def _zeroed(index):
    """The scores with the entries [..., index] (a slice of rows and columns) left at 0."""

    def scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        s = _scores(q, k).clone()
        s[(..., *index)] = 0.0
        return s

    return scores


def ignores_arguments(*positions: int):
    """A recognise: the result stays the same when the arguments at ``positions`` are replaced
    by other numbers of the same shape, the rest kept; so the function never reads them (a
    layer with its own weights, or a notebook's variable, stands in for them)."""

    def recognise(learner_fn, case, got) -> bool:
        if not isinstance(got, torch.Tensor) or not got.is_floating_point():
            return False
        other = torch.Generator().manual_seed(41)
        changed = list(fresh(case))
        for p in positions:
            changed[p] = torch.randn(changed[p].shape, generator=other) + 0.5
        outputs = []
        for args in (fresh(case), changed):
            torch.default_generator.manual_seed(0)  # a layer made inside starts the same
            outputs.append(learner_fn(*args))
        alike = [isinstance(o, torch.Tensor) and o.shape == got.shape for o in outputs]
        return all(alike) and torch.equal(outputs[0], outputs[1])

    return recognise


_DISTANCES = (
    "Your scores are distances between the queries and the keys (torch.cdist, or the sum of "
    "squared differences): attention's score is the DOT PRODUCT q_i · k_j, larger when the two "
    "point the same way: q @ k.transpose(-2, -1)."
)

_ONE_SHORT = (
    "Your last {what} is all zeros: the loop over the {whose} stops one short, range(n - 1). "
    "Loop over all of them, or take every pair at once: q @ k.transpose(-2, -1)."
)

MORE_SCORES_MISTAKES = (
    Mistake(
        name="multiplied by √d_k",
        hint="You multiplied the scores by √d_k: this exercise wants the raw scores, "
        "q @ k.transpose(-2, -1), with no scaling (chapter 04 DIVIDES them by √d_k).",
        compute=None,  # on the square first case × √d_k is × 2: confirmed where they differ
        recognise=on_a_probe_too(lambda q, k: _scores(q, k) * math.sqrt(q.shape[-1])),
        example=learner.multiplies_by_the_root,
    ),
    Mistake(
        name="distances",
        hint=_DISTANCES,
        compute=lambda q, k: torch.cdist(q.double(), k.double()),
        example=learner.measures_distances,
    ),
    Mistake(
        name="minus squared distances",
        hint=_DISTANCES,
        compute=lambda q, k: -(torch.cdist(q.double(), k.double()) ** 2),
        example=learner.measures_squared_distances,
    ),
    Mistake(
        name="the attention's output",
        hint="You returned the attention's OUTPUT, the weights times the values "
        "(F.scaled_dot_product_attention does all of it, softmax included). This exercise wants "
        "only the first step, the raw scores q @ k.transpose(-2, -1).",
        compute=lambda q, k: torch.softmax(_scores(q, k) / math.sqrt(q.shape[-1]), dim=-1) @ k,
        example=learner.returns_the_attention_output,
    ),
    Mistake(
        name="q @ q.T",
        hint="Your scores compare the queries with themselves, q @ q.T: the keys never come in. "
        "Each query meets each KEY: q @ k.transpose(-2, -1).",
        compute=lambda q, k: _scores(q, q),
        example=learner.compares_the_queries_with_themselves,
    ),
    Mistake(
        name="last key never scored",
        hint=_ONE_SHORT.format(what="column", whose="keys"),
        compute=_zeroed((slice(None), slice(-1, None))),
        example=learner.stops_one_key_short,
    ),
    Mistake(
        name="last query never scored",
        hint=_ONE_SHORT.format(what="row", whose="queries"),
        compute=_zeroed((slice(-1, None), slice(None))),
        example=learner.stops_one_query_short,
    ),
    Mistake(
        name="exponentiated",
        hint="You took exp of the scores (the top half of a softmax): the raw scores can be "
        "negative, and that is fine. Return q @ k.transpose(-2, -1) as it is; chapter 04 turns it "
        "into weights.",
        compute=lambda q, k: torch.exp(_scores(q, k)),
        example=learner.exponentiates,
    ),
    Mistake(
        name="log-softmax",
        hint="You applied a (log-)softmax to the scores: this exercise wants the raw scores that go "
        "into the softmax, q @ k.transpose(-2, -1), with no softmax and no scaling.",
        compute=lambda q, k: torch.log_softmax(_scores(q, k), dim=-1),
        example=learner.takes_the_log_softmax,
    ),
    Mistake(
        name="softmax over the queries",
        hint="You returned attention weights, a softmax of the scores, and over the QUERIES "
        "(dim=-2) at that: this exercise wants only the raw scores, q @ k.transpose(-2, -1), "
        "with no softmax (chapter 04 adds it, over the keys, dim=-1).",
        compute=lambda q, k: torch.softmax(_scores(q, k), dim=-2),
        example=learner.normalises_over_the_queries,
    ),
    Mistake(
        name="k never read",
        hint="Your scores do not change when k changes: your function never uses its argument k "
        "(a layer with its own weights such as nn.Linear, or the notebook's K, stands in for "
        "it). Score the queries against the keys you are given: q @ k.transpose(-2, -1).",
        compute=None,
        recognise=ignores_arguments(1),
        example=learner.projects_with_a_layer,
    ),
    Mistake(
        name="q never read",
        hint="Your scores do not change when q changes: your function never uses its argument q "
        "(the notebook's Q stands in for it?). Score the queries you are given against the "
        "keys: q @ k.transpose(-2, -1).",
        compute=None,
        recognise=ignores_arguments(0),
        example=learner.uses_the_notebooks_queries,
    ),
    Mistake(
        name="a layer with random weights",
        hint="Your scores change from call to call: something draws random numbers, such as a "
        "PyTorch layer made inside the function (nn.MultiheadAttention, nn.Linear) with its own "
        "random weights. No layer and no weights here: the scores are q @ k.transpose(-2, -1).",
        compute=None,
        recognise=varies_between_calls,
        example=learner.asks_pytorchs_attention_layer,
    ),
)
