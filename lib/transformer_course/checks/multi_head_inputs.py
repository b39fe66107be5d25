"""Round 44: ``multi_head``'s cases and mistakes that only some inputs show: one token (L = 1)
and a batch of one (where a .squeeze() drops an axis), scores in the hundreds (where a softmax
by hand without the max overflows), and √d_head rounded to an int (wrong where d_head is no
perfect square: the checker's fourth case has d_head 6)."""

from __future__ import annotations

import math

import torch

from .attention_inputs import (
    OVERFLOW_HINT,
    ROUNDED_ROOT_HINT,
    SQUEEZE_HINT,
    drops_size_one_axes,
    overflows,
    repeat_size_one,
    rounded_root,
)
from .harness import Mistake

LARGE = 30.0  # w_q and w_k times 30: scores 900 times larger, in the hundreds and beyond


def _attend(x, w_q, w_k, w_v, w_o, num_heads, *, root=None):
    """Multi-head attention, x (B, L, D) → (B, L, D); ``root(d_head)`` replaces √d_head."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    divide = d_head**0.5 if root is None else root(d_head)
    weights = torch.softmax(q @ k.transpose(-2, -1) / divide, dim=-1)  # (B, h, L, L)
    return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o


def _case(b: int, length: int, d_model: int, h: int, seed: int, scale: float = 1.0) -> tuple:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, length, d_model, generator=g)
    w_q, w_k, w_v, w_o = (torch.randn(d_model, d_model, generator=g) / d_model**0.5 for _ in range(4))
    return (x, w_q * scale, w_k * scale, w_v, w_o, h)


def edge_cases() -> list[tuple]:
    """One token in each of two sentences (L = 1), then scores in the hundreds (the softmax
    saturates; torch's does not overflow). d_head 4 in both, 2 heads."""
    return [_case(2, 1, 8, 2, seed=44), _case(2, 4, 8, 2, seed=45, scale=LARGE)]


def _shrunk(case: tuple) -> tuple:
    x, w_q, w_k, w_v, w_o, h = case
    return x, w_q / LARGE, w_k / LARGE, w_v, w_o, h


def _size_one_twice(case: tuple) -> tuple | None:
    x, *rest = case
    wide = repeat_size_one(x, (0, 1))  # a sentence or a token repeated: the same answers, twice
    return None if wide is None else (wide, *rest)


def _rounded(*case):
    return _attend(*case, root=math.isqrt)


def _learner_rounds_the_root(x, w_q, w_k, w_v, w_o, num_heads):
    return _attend(x, w_q, w_k, w_v, w_o, num_heads, root=lambda d: int(math.sqrt(d)))


def _learner_exps_without_the_max(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    e = (q @ k.transpose(-2, -1) / math.sqrt(d_head)).exp()
    out = (e / e.sum(dim=-1, keepdim=True)) @ v
    return out.transpose(1, 2).reshape(b, length, d_model) @ w_o


def _learner_squeezes_the_heads(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2).squeeze() for w in (w_q, w_k, w_v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_head), dim=-1)
    return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o  # (B, h, …) lost for B = 1


def _learner_squeezes_the_weights(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    weights = torch.softmax(
        q @ k.transpose(-2, -1) / math.sqrt(d_head), dim=-1
    ).squeeze()  # (B, h, L, L), they think
    return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o


def _learner_squeezes_the_output(x, w_q, w_k, w_v, w_o, num_heads):
    return _attend(x, w_q, w_k, w_v, w_o, num_heads).squeeze()  # meant nothing: (B, L, D) already


# What weights @ v says on the one-token case (B = h = 2, L = 1) where .squeeze() left the
# weights (B, h): a (2, 2) matrix against values with L = 1 row, batched B · h = 4 times. On the
# usual cases (L 3 to 7) an L × L matrix meets L rows: a last axis of 2 against 1 row takes two
# slips there, here one. Only an error's text reaches a Mistake, so the shapes stand in for a
# re-run with the token doubled (which the test does: the learner is then right).
WEIGHTS_SQUEEZED = r"batch2 tensor to be: \[4, 2\] but got: \[4, 1\]"
WEIGHTS_SQUEEZE_HINT = (
    ".squeeze() removed an axis of size 1: your attention is right for several tokens but not "
    "for one, because .squeeze() with no argument drops EVERY axis of size 1. With one token the "
    "weights (B, h, 1, 1) lost both their axes of size 1, queries' and keys', and no longer line "
    "up with the values (B, h, 1, d_head). Leave the weights (B, h, L, L) as they are: "
    "weights @ v needs no squeeze."
)


def _learner_forgets_the_transpose(x, w_q, w_k, w_v, w_o, num_heads):
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    weights = torch.softmax(q @ k / math.sqrt(d_head), dim=-1)  # (B, h, L, d_head) @ (B, h, L, d_head)
    return (weights @ v).transpose(1, 2).reshape(b, length, d_model) @ w_o


# Round 45: what q @ k says on the first case (B = 2, h = 3, L = 5, d_head = 4) without the
# transpose: batched B · h = 6 times, a (5, 4) matrix against (5, 4), whose rows should be 4.
# (A .squeeze() of the weights says [4, 2] against [4, 1], on the one-token case.)
K_NOT_TRANSPOSED = r"batch2 tensor to be: \[6, 4\] but got: \[6, 5\]"
K_NOT_TRANSPOSED_HINT = (
    "k is not transposed: each head's scores are q @ k.transpose(-2, -1), (B, h, L, d_head) @ "
    "(B, h, d_head, L) = (B, h, L, L), one dot product per (query, key) pair. q @ k pairs "
    "d_head columns with L rows. (On a 4-D tensor .T reverses ALL the axes: swap only the last "
    "two, .transpose(-2, -1) or .mT.)"
)

INPUTS = (
    Mistake(
        name="k not transposed",
        hint=K_NOT_TRANSPOSED_HINT,
        compute=None,
        error=K_NOT_TRANSPOSED,
        example=_learner_forgets_the_transpose,
    ),
    Mistake(
        name="√d_head rounded to an int",
        hint=ROUNDED_ROOT_HINT.replace("d_k", "d_head"),
        compute=None,
        # d_head 12 on the probe: int(√12) = 3, unlike a hard-coded 2 that fits d_head 4 and 6
        recognise=rounded_root(_rounded, _case(1, 3, 24, 2, seed=12), width=lambda c: c[0].shape[-1] // c[5]),
        example=_learner_rounds_the_root,
    ),
    Mistake(
        name="softmax by hand overflows",
        hint=OVERFLOW_HINT,
        compute=None,
        recognise=overflows(_attend, _shrunk),
        example=_learner_exps_without_the_max,
    ),
    Mistake(
        name=".squeeze() on q, k and v",
        hint=SQUEEZE_HINT,
        compute=None,
        recognise=drops_size_one_axes(_attend, _size_one_twice),
        example=_learner_squeezes_the_heads,
    ),
    Mistake(
        name=".squeeze() on the output",
        hint=SQUEEZE_HINT,
        compute=None,
        recognise=drops_size_one_axes(_attend, _size_one_twice),
        example=_learner_squeezes_the_output,
    ),
    Mistake(
        name=".squeeze() on the attention weights",
        hint=WEIGHTS_SQUEEZE_HINT,
        compute=None,
        error=WEIGHTS_SQUEEZED,
        example=_learner_squeezes_the_weights,
    ),
)
