"""Exercise 04b as learners write it (``head``): the examples of the mistakes met in round 42b's
battery, each a whole answer with its one slip."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _projected(x, w_q, w_k, w_v):
    return x @ w_q, x @ w_k, x @ w_v


def normalises_over_the_whole_matrix(x, w_q, w_k, w_v):
    q, k, v = _projected(x, w_q, w_k, w_v)
    e = torch.exp(q @ k.T / math.sqrt(k.shape[1]))
    weights = e / e.sum()  # every entry of the matrix shares the 1
    return weights @ v, weights


def sums_without_keepdim(x, w_q, w_k, w_v):
    q, k, v = _projected(x, w_q, w_k, w_v)
    e = (q @ k.T / q.shape[-1] ** 0.5).exp()
    weights = e / e.sum(dim=-1)  # (L, L) / (L,): divides the COLUMNS
    return weights @ v, weights


def divides_by_the_max(x, w_q, w_k, w_v):
    q, k, v = _projected(x, w_q, w_k, w_v)
    e = (q @ k.T / math.sqrt(q.shape[-1])).exp()
    weights = e / e.max(dim=-1, keepdim=True).values
    return weights @ v, weights


def normalises_the_scores_without_exp(x, w_q, w_k, w_v):
    q, k, v = _projected(x, w_q, w_k, w_v)
    scores = q @ k.T / math.sqrt(q.shape[-1])
    weights = scores / scores.sum(dim=-1, keepdim=True)
    return weights @ v, weights


def compares_x_with_itself(x, w_q, w_k, w_v):
    v = x @ w_v
    weights = torch.softmax(x @ x.T / math.sqrt(w_k.shape[1]), dim=-1)  # "q and k are x"
    return weights @ v, weights


def uses_cosine_scores(x, w_q, w_k, w_v):
    q, k, v = _projected(x, w_q, w_k, w_v)
    weights = torch.softmax(F.cosine_similarity(q[:, None], k[None], dim=-1), dim=-1)
    return weights @ v, weights


def uses_bmm_on_one_sentence(x, w_q, w_k, w_v):
    q, k, v = _projected(x, w_q, w_k, w_v)
    weights = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1]), dim=-1)
    return torch.bmm(weights, v), weights


# --- Round 43: another right answer, in a style not registered before ---
def one_stacked_projection(x, w_q, w_k, w_v):
    """One product with W_Q, W_K, W_V side by side, then split; q scaled before q kᵀ."""
    d_k = w_q.shape[1]
    qkv = x @ torch.cat([w_q, w_k, w_v], dim=1)  # (L, 2 d_k + d_v)
    q, k, v = qkv[:, :d_k], qkv[:, d_k : 2 * d_k], qkv[:, 2 * d_k :]
    weights = F.softmax((q / math.sqrt(d_k)) @ k.mT, dim=-1)
    return weights @ v, weights
