"""More of exercise 04b's catalogue (``head``): the wrong answers met in round 42b's battery (the
softmax written by hand and normalised wrong, queries and keys never projected, cosine scores,
batch code on one sentence), each with what it computes and its hint; the learner-style examples
are in ``head_learners``. Round 43b's (``ROUND_43B``, examples here): a by-hand softmax shifted by
each key's max instead of each query's, the values projected with W_Q.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import head_learners as learner
from .failure import failed_in
from .harness import Mistake


def _weighed(x, w_q, w_k, w_v, normalise):
    """(output, weights) with ``normalise(scaled scores)`` in place of the softmax."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = normalise(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]))
    return weights @ v, weights


def _using(normalise):
    return lambda x, w_q, w_k, w_v: _weighed(x, w_q, w_k, w_v, normalise)


def _self_compared(x, w_q, w_k, w_v):
    weights = torch.softmax(x @ x.transpose(-2, -1) / math.sqrt(w_k.shape[-1]), dim=-1)
    return weights @ (x @ w_v), weights


def _cosine(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1), dim=-1)
    return weights @ v, weights


_ROW_SUM = "e.sum(dim=-1, keepdim=True)"

SLIPS = (
    Mistake(
        name="softmax over the whole matrix",
        hint="Your exps are divided by the sum of the WHOLE (L, L) matrix (e.sum() with no dim), so "
        f"all the weights together sum to 1. Each query's row must sum to 1: divide by {_ROW_SUM}, "
        "or use torch.softmax(scores, dim=-1).",
        compute=_using(lambda s: s.exp() / s.exp().sum()),
        example=learner.normalises_over_the_whole_matrix,
    ),
    Mistake(
        name="row sums without keepdim",
        hint="e.sum(dim=-1) has shape (L,), and (L, L) / (L,) divides each COLUMN j by row j's sum: "
        f"the rows no longer sum to 1. Keep the summed axis, {_ROW_SUM} (shape (L, 1)), or use "
        "torch.softmax(scores, dim=-1).",
        compute=_using(lambda s: s.exp() / s.exp().sum(dim=-1)),
        example=learner.sums_without_keepdim,
    ),
    Mistake(
        name="divided by the row max",
        hint="You divided the exps by each row's max: the largest weight becomes 1, and the row sums "
        f"to more than 1. A softmax divides by the row's SUM, {_ROW_SUM}. (Subtracting the max from "
        "the scores BEFORE exp is the trick that avoids overflow, and changes nothing.)",
        compute=_using(lambda s: s.exp() / s.exp().amax(dim=-1, keepdim=True)),
        example=learner.divides_by_the_max,
    ),
    Mistake(
        name="scores normalised without exp",
        hint="You divided the scores by their row sum without exp: negative scores give negative "
        "weights, and a row summing to about 0 blows up. The softmax exponentiates first, "
        f"e = scores.exp(), then divides by {_ROW_SUM}: torch.softmax(scores, dim=-1).",
        compute=_using(lambda s: s / s.sum(dim=-1, keepdim=True)),
        example=learner.normalises_the_scores_without_exp,
    ),
    Mistake(
        name="queries and keys not projected",
        hint="Your scores compare x with itself, x @ x.T: the queries and keys are projections of x, "
        "q = x @ w_q and k = x @ w_k, and the scores are q @ k.T / √d_k. (That is what lets the "
        "model learn WHAT to look for, apart from what each token is.)",
        compute=_self_compared,
        example=learner.compares_x_with_itself,
    ),
    Mistake(
        name="cosine scores",
        hint="Your scores are the cosines of the queries and keys (their lengths divided out): that "
        "is chapter 01's similarity. Attention scores the plain dot products, q @ k.T, scaled by "
        "1/√d_k.",
        compute=_cosine,
        example=learner.uses_cosine_scores,
    ),
    Mistake(
        name="batch code on one sentence",
        hint="torch.bmm and transpose(1, 2) expect a batch (B, L, d): here x is one sentence, (L, "
        "d_model), so q and k are 2-D. Use @ and k.T (or k.transpose(-2, -1), which works with and "
        "without a batch).",
        compute=None,
        error=r"batch1 must be a 3D tensor|Dimension out of range \(expected to be in range of \[-2, 1\], "
        r"but got 2\)",
        # Where bmm or transpose(1, 2) failed: not softmax(dim=2) or k.size(2), whose error is
        # the same, in code that uses @ and k.T already.
        failed_at=lambda failure, case: failed_in(
            failure, "bmm", "baddbmm", "transpose", "transpose_", "swapaxes"
        ),
        example=learner.uses_bmm_on_one_sentence,
    ),
)


def _shifted_by_the_columns(scores):
    """exp(s − each COLUMN's max) / row sum: (L, L); the shift differs within a row, so it shows."""
    e = (scores - scores.amax(dim=-2, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


def shifts_by_the_wrong_max(x, w_q, w_k, w_v):
    """A learner's stable softmax, its max taken over dim=0: (L, d_v), (L, L)."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / math.sqrt(k.shape[1])
    e = torch.exp(scores - scores.max(dim=0, keepdim=True).values)
    weights = e / e.sum(dim=1, keepdim=True)
    return weights @ v, weights


def projects_the_values_with_w_q(x, w_q, w_k, w_v):
    """A learner's copy-paste: v = x @ w_q."""
    q, k, v = x @ w_q, x @ w_k, x @ w_q
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


def roots_with_torch(x, w_q, w_k, w_v):
    """A learner's: torch.sqrt given the int d_k."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / torch.sqrt(k.shape[-1]), dim=-1)
    return weights @ v, weights


ROUND_43B = (
    Mistake(
        name="torch.sqrt of a number",
        hint="torch.sqrt takes a tensor, and d_k is a plain int (q.shape[-1]): use math.sqrt(d_k) "
        "or d_k ** 0.5.",
        compute=None,
        error=r"sqrt\(\): argument 'input' \(position 1\) must be Tensor, not (int|float)",
        example=roots_with_torch,
    ),
    Mistake(
        name="softmax shifted by each key's max",
        hint="Your softmax by hand subtracts each COLUMN's max (scores.max(dim=0), or dim=-2): the "
        "shift must be one number per ROW, the row the softmax normalises, or the weights change. "
        "Subtract scores.max(dim=-1, keepdim=True).values, or use torch.softmax(scores, dim=-1), "
        "which does it for you.",
        compute=_using(_shifted_by_the_columns),
        example=shifts_by_the_wrong_max,
    ),
    Mistake(
        name="V projected with W_Q",
        hint="Your weights are right, but the values are projected with w_q: V = x @ w_v (a "
        "copy-paste slip?). The output is weights @ (x @ w_v), shaped (L, d_v).",
        compute=lambda x, w_q, w_k, w_v: _weighed(x, w_q, w_k, w_q, lambda s: s.softmax(dim=-1)),
        example=projects_the_values_with_w_q,
    ),
)
