"""One attention head in the math convention (x @ W), or one of its usual mistakes: what the
head exercise's catalogue computes (``head``, ``head_scaling``)."""

from __future__ import annotations

import math

import torch


def variant(x, w_q, w_k, w_v, *, scores_by=None, dim=-1, transpose=True, after=None, combine=None, k_by=None):
    """One head, or one of its usual mistakes, in the math convention (x @ W).

    scores_by(scores, x, q, v) replaces the division by √d_k; after(weights, d_k) is applied to
    the weights after the softmax; combine(weights, v) replaces weights @ v; k_by: the
    projection used for the keys.
    """
    q, k, v = x @ w_q, x @ (w_k if k_by is None else k_by(w_q, w_k)), x @ w_v
    scores = q @ (k.transpose(-2, -1) if transpose else k)
    d_k = q.shape[-1]
    scores = scores / math.sqrt(d_k) if scores_by is None else scores_by(scores, x, q, v)
    weights = torch.softmax(scores, dim=dim)
    if after is not None:
        weights = after(weights, d_k)
    return (weights @ v if combine is None else combine(weights, v, d_k)), weights
