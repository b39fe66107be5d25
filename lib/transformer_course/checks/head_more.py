"""More of ``head``'s catalogue: the wrong answers met in the seventh audit, each
with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..attention import scaled_dot_product_attention
from .describe import same
from .harness import Mistake


def reference(x, w_q, w_k, w_v):
    """One head's (output, weights), the answer (as ``head.reference``)."""
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def _head(q, k, v, weigh=lambda s: torch.softmax(s, dim=-1)):
    """(output, weights) from q, k, v, with ``weigh`` in place of the softmax of the scaled scores."""
    weights = weigh(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]))
    return weights @ v, weights


def _hard(scores):
    return F.one_hot(scores.argmax(dim=-1), scores.shape[-1]).to(scores.dtype)


def _weights_transposed(x, w_q, w_k, w_v):
    output, weights = reference(x, w_q, w_k, w_v)
    return output, weights.transpose(-2, -1)


def _weights_unscaled(x, w_q, w_k, w_v):
    q, k = x @ w_q, x @ w_k
    return reference(x, w_q, w_k, w_v)[0], torch.softmax(q @ k.transpose(-2, -1), dim=-1)


def _log_weights(x, w_q, w_k, w_v):
    return torch.log_softmax((x @ w_q) @ (x @ w_k).transpose(-2, -1) / math.sqrt(w_q.shape[-1]), dim=-1)


def _weights_are(got, weights) -> bool:
    """A pair whose second item is ``weights``, whatever its first."""
    return isinstance(got, tuple | list) and len(got) == 2 and same(got[1], weights, 1e-4)


def _learner_returns_unscaled_weights(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    output = F.scaled_dot_product_attention(q, k, v)  # scales inside
    return output, torch.softmax(q @ k.T, dim=-1)  # the weights, for the plot: no scale


def _learner_returns_the_weights_transposed(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights.T  # "keys as rows", for the plot


def _learner_uses_a_sigmoid(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.sigmoid(q @ k.T / math.sqrt(q.shape[-1]))
    return weights @ v, weights


def _learner_picks_the_best_key(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T / math.sqrt(q.shape[-1])
    weights = (scores == scores.max(dim=-1, keepdim=True).values).float()  # torch.max, not softmax
    return weights @ v, weights


def _learner_projects_v_with_w_k(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_k  # copy-paste: w_k twice
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


def _learner_projects_q_with_w_k(x, w_q, w_k, w_v):
    q, k, v = x @ w_k, x @ w_k, x @ w_v  # copy-paste: w_k twice
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


def _learner_forgets_the_softmax(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = q @ k.T / math.sqrt(k.shape[-1])
    return weights @ v, weights


def _learner_takes_the_log_softmax(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = F.log_softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="weights transposed",
        hint="Your output is right but the weights are transposed: row i must be query i's "
        "weights over the keys (each ROW sums to 1). Return the weights as the softmax gives "
        "them, without .T.",
        compute=_weights_transposed,
        example=_learner_returns_the_weights_transposed,
    ),
    Mistake(
        name="weights not scaled",
        hint="Your output is right but the weights you return are not scaled: they must be the "
        "ones the output was made with, softmax(q @ k.T / √d_k). Compute them once, with the "
        "scale, and return weights @ v and those weights.",
        compute=_weights_unscaled,
        example=_learner_returns_unscaled_weights,
    ),
    Mistake(
        name="sigmoid instead of softmax",
        hint="You applied a sigmoid to each score on its own: the weights of a query then do not "
        "sum to 1. Use a softmax over the keys: torch.softmax(scores, dim=-1).",
        compute=lambda x, w_q, w_k, w_v: _head(x @ w_q, x @ w_k, x @ w_v, torch.sigmoid),
        example=_learner_uses_a_sigmoid,
    ),
    Mistake(
        name="hard max instead of softmax",
        hint="Your weights put 1 on each query's best key and 0 elsewhere: that is a max (an "
        "argmax), a hard choice. Attention takes the softmax, so every key gets its share: "
        "torch.softmax(scores, dim=-1).",
        compute=lambda x, w_q, w_k, w_v: _head(x @ w_q, x @ w_k, x @ w_v, _hard),
        example=_learner_picks_the_best_key,
    ),
    Mistake(
        name="V projected with W_K",
        hint="Your weights are right, but the values are projected with w_k: V = x @ w_v (a "
        "copy-paste slip?). The output is weights @ (x @ w_v), shaped (L, d_v).",
        compute=lambda x, w_q, w_k, w_v: _head(x @ w_q, x @ w_k, x @ w_k),
        example=_learner_projects_v_with_w_k,
    ),
    Mistake(
        name="Q projected with W_K",
        hint="The queries are projected with w_k, so Q = K: a copy-paste slip? Q = x @ w_q, "
        "K = x @ w_k, V = x @ w_v, each with its own matrix.",
        compute=lambda x, w_q, w_k, w_v: _head(x @ w_k, x @ w_k, x @ w_v),
        example=_learner_projects_q_with_w_k,
    ),
    Mistake(
        name="no softmax",
        hint="Your weights are the scaled scores themselves: the softmax is missing, so they are "
        "not positive and do not sum to 1. weights = torch.softmax(q @ k.T / √d_k, dim=-1).",
        compute=lambda x, w_q, w_k, w_v: _head(x @ w_q, x @ w_k, x @ w_v, lambda s: s),
        example=_learner_forgets_the_softmax,
    ),
    Mistake(
        name="log-softmax weights",
        hint="You took log_softmax: its entries are log-probabilities (≤ 0), not weights. Use "
        "torch.softmax(scores, dim=-1), whose rows sum to 1.",
        compute=None,  # the output from the log-weights or from their exp: the weights tell
        recognise=lambda fn, case, got: _weights_are(got, _log_weights(*case)),
        example=_learner_takes_the_log_softmax,
    ),
)


# --- Round 45b: the encoder layer's residual written into one head ---


def _learner_adds_the_residual(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return x + weights @ v, weights  # the residual, as around the attention block


# The checker's first input has d_v = 3 and d_model = 8: (L, 3) meets (L, 8) only where the
# learner combines the output with x itself, whichever comes first.
RESIDUAL_ERROR = (
    r"size of tensor a \((3|8)\) must match the size of tensor b \((8|3)\) at non-singleton dimension 1"
)

ROUND_45B = (
    Mistake(
        name="residual added",
        hint="You added x to the attention's output (a residual connection): that belongs to the "
        "encoder layer, around the whole attention block (chapter 07), not to one head, whose "
        "output is (L, d_v), not x's width d_model. Return weights @ v, weights.",
        compute=None,
        error=RESIDUAL_ERROR,
        example=_learner_adds_the_residual,
    ),
)
