"""The wrong answers learners write for exercise 03's ``attention_scores``, as code: each example
of a Mistake in ``attention_more``, written the way a learner types it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def multiplies_by_the_root(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q @ k.transpose(-2, -1) * math.sqrt(k.shape[-1])  # meant to divide


def measures_distances(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return torch.cdist(q, k)  # "how close is each query to each key"


def measures_squared_distances(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return -((q.unsqueeze(-2) - k.unsqueeze(-3)) ** 2).sum(dim=-1)  # "closer = higher"


def returns_the_attention_output(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, k)  # no v given, so k twice


def compares_the_queries_with_themselves(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q @ q.transpose(-2, -1)  # copy-paste: q twice


def stops_one_key_short(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    scores = torch.zeros(*q.shape[:-1], k.shape[-2])
    for j in range(k.shape[-2] - 1):  # the last key is never scored
        scores[..., j] = (q * k[..., j : j + 1, :]).sum(dim=-1)
    return scores


def stops_one_query_short(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    scores = torch.zeros(*q.shape[:-1], k.shape[-2])
    for i in range(q.shape[-2] - 1):  # the last query is never scored
        scores[..., i, :] = (q[..., i : i + 1, :] * k).sum(dim=-1)
    return scores


def exponentiates(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return torch.exp(q @ k.transpose(-2, -1))  # "scores must be positive"


def takes_the_log_softmax(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return F.log_softmax(q @ k.transpose(-2, -1), dim=-1)


def normalises_over_the_queries(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return torch.softmax(q @ k.transpose(-2, -1), dim=-2)


def projects_with_a_layer(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    layer = torch.nn.Linear(q.shape[-1], k.shape[-2], bias=False)  # its own random weights
    return layer(q).detach()


def uses_the_notebooks_keys(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    keys = torch.ones(k.shape[-2], q.shape[-1])  # stands for chapter 03's K: not the argument k
    return q @ keys.transpose(-2, -1)


def asks_pytorchs_attention_layer(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    layer = torch.nn.MultiheadAttention(q.shape[-1], num_heads=1, batch_first=True)
    return layer(q, k, k)[1].detach()  # its weights: its own projections, softmaxed


def uses_the_notebooks_queries(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    queries = torch.ones(k.shape[-2], q.shape[-1])  # stands for chapter 03's Q: not the argument q
    return queries @ k.transpose(-2, -1)


# --- Round 42's battery: the examples of attention_slips ---


def shifts_by_the_max(q, k):
    scores = q @ k.transpose(-2, -1)
    return scores - scores.max(dim=-1, keepdim=True).values  # chapter 04's trick, too early


NOTEBOOK_D_K = 8  # chapter 03's cells: d_k = 8


def scales_by_the_notebooks_d_k(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(NOTEBOOK_D_K)  # a constant, and too early


def normalises_the_queries(q, k):
    unit_q = q / q.norm(dim=-1, keepdim=True)  # "so long queries do not dominate"
    return unit_q @ k.transpose(-2, -1)


def squashes_the_scores(q, k):
    return torch.sigmoid(q @ k.transpose(-2, -1))  # scores "between 0 and 1"


def masks_the_future_with_minus_infinity(q, k):
    scores = q @ k.transpose(-2, -1)
    future = torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1)
    return scores.masked_fill(future, float("-inf"))


def divides_by_the_number_of_keys(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(len(k))  # len(k): the tokens, not the features


# --- Round 43: another right answer, in a style not registered before ---
def bmm_on_the_flattened_batch(q, k):
    """Every leading axis folded into one batch for torch.bmm, then unfolded."""
    flat_q, flat_k = q.reshape(-1, *q.shape[-2:]), k.reshape(-1, *k.shape[-2:])
    return torch.bmm(flat_q, flat_k.transpose(1, 2)).reshape(*q.shape[:-1], k.shape[-2])
