"""Exercise 05: multi-head attention by hand.

``fn(x (B, L, D), w_q, w_k, w_v, w_o (D, D), num_heads) → (B, L, D)``: project with x @ W
(columns i·d_head … (i+1)·d_head − 1 belong to head i), split into heads, attend in each head
(scaled by √d_head), merge, project with W_O.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from . import asked_for
from . import multi_head_learners as learner
from .built_ins import note_built_ins
from .harness import Exercise, Mistake, Result, check_function
from .multi_head_inputs import edge_cases
from .multi_head_learners import by_hand
from .multi_head_more import MORE_MISTAKES, W_O_BEFORE_THE_MERGE, heads_against_tokens
from .multi_head_round51 import in_numbers
from .multi_head_round51b import ROUND_51B
from .stale import learner_check

# --- The learner's side: the starter, a worked solution (more answers: multi_head_learners) ---


def starter(x, w_q, w_k, w_v, w_o, num_heads):
    """x (B, L, d_model), w_* (d_model, d_model) → (B, L, d_model)."""
    raise NotImplementedError


def solution(x, w_q, w_k, w_v, w_o, num_heads):
    """x (B, L, d_model), w_* (d_model, d_model) → (B, L, d_model)."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads

    def split(t):  # (B, L, D) → (B, h, L, d_head)
        return t.view(b, length, num_heads, d_head).transpose(1, 2)

    q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)
    weights = torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1)  # (B, h, L, L)
    merged = (weights @ v).transpose(1, 2).reshape(b, length, d_model)  # (B, L, D)
    return merged @ w_o


ALTERNATIVES = {
    "lib's MultiHeadAttention": learner.with_lib_module,
    "by hand, einsum": by_hand,
    "one head at a time": learner.head_by_head,
    "F.scaled_dot_product_attention": learner.with_fused_kernel,
    "in float64": lambda x, w_q, w_k, w_v, w_o, h: solution(
        *(t.double() for t in (x, w_q, w_k, w_v, w_o)), h
    ),
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def reference(
    x,
    w_q,
    w_k,
    w_v,
    w_o,
    num_heads,
    *,
    split_view=False,
    merge_view=False,
    shared=False,
    project=True,
    scale_by_model=False,
    heads_axis=1,
    input_slices=False,
    scale=True,
    dim=-1,
    interleaved=False,
    causal=False,
):
    """Multi-head attention in the math convention (x @ W), with one switch per known mistake.

    x (B, L, D); w_* (D, D), columns i·d … (i+1)·d − 1 belong to head i; returns (B, L, D).
    heads_axis=2: the heads are never moved in front of the tokens, so attention runs
    between the heads of each token instead of between tokens.
    """
    b, length, d_model = x.shape
    d_head = d_model // num_heads

    def split(t):  # (B, L, D) → (B, h, L, d)
        if split_view:  # no transpose: rows of tokens cut across heads
            return t.reshape(b, num_heads, length, d_head)
        if interleaved:  # head i takes columns i, i + h, i + 2h, …
            return t.reshape(b, length, d_head, num_heads).permute(0, 3, 1, 2)
        heads = t.reshape(b, length, num_heads, d_head)
        return heads if heads_axis == 2 else heads.transpose(1, 2)

    def project_in(w):
        if shared:  # every head reuses head 0's columns
            return (x @ w[:, :d_head]).unsqueeze(1).expand(b, num_heads, length, d_head)
        if input_slices:  # slices of x, each through the same (d_head, d_head) block
            return x.reshape(b, length, num_heads, d_head).transpose(1, 2) @ w[:d_head, :d_head]
        return split(x @ w)

    q, k, v = project_in(w_q), project_in(w_k), project_in(w_v)
    root = 1.0 if scale == "no root" else 0.5  # "no root": ÷ d_head itself
    divide = (d_model if scale_by_model else d_head) ** root if scale else 1.0
    scores = q @ k.transpose(-2, -1) / divide  # (B, h, L, L)
    if causal:  # the future hidden, as in a decoder: not this exercise's attention
        scores = scores.masked_fill(~torch.ones(length, length, dtype=torch.bool).tril(), float("-inf"))
    heads = torch.softmax(scores, dim=dim) @ v  # (B, h, L, d)
    if heads_axis == 2:
        merged = heads.reshape(b, length, d_model)
    elif interleaved is True:  # "split": interleaved on the way in, merged back in blocks
        merged = heads.permute(0, 2, 3, 1).reshape(b, length, d_model)
    elif merge_view:
        merged = heads.reshape(b, length, d_model)
    else:
        merged = heads.transpose(1, 2).reshape(b, length, d_model)
    return merged @ w_o if project else merged


def _cases() -> list[tuple]:
    # L ≠ h, d_head, so a reshape without transpose cannot pass by luck; the fourth has d_head 6, the
    # others 4 (chapter 05's: 6), so the notebook's d_head, or a hard-coded 2 or √6, fails.
    g = torch.Generator().manual_seed(5)
    cases = []
    for b, length, d_model, h in ((2, 5, 12, 3), (1, 7, 16, 4), (3, 3, 8, 2), (2, 5, 12, 2)):
        x = torch.randn(b, length, d_model, generator=g)
        ws = [torch.randn(d_model, d_model, generator=g) / d_model**0.5 for _ in range(4)]
        cases.append((x, *ws, h))
    return cases + edge_cases()  # one token each, then large scores: multi_head_inputs


def _learner_transposes_the_weights(x, w_q, w_k, w_v, w_o, num_heads):
    return solution(x, w_q.T, w_k.T, w_v.T, w_o.T, num_heads)  # x @ W.T, as nn.Linear computes


def _learner_transposes_w_o(x, w_q, w_k, w_v, w_o, num_heads):
    return solution(x, w_q, w_k, w_v, w_o.T, num_heads)  # merged @ w_o.T, as nn.Linear's weight


def _one_wide_head(x, w_q, w_k, w_v, w_o, num_heads):
    """All D features in one head, scaled by √d_head as if split."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.transpose(-2, -1) / (x.shape[-1] // num_heads) ** 0.5, dim=-1)
    return weights @ v @ w_o


_ONE_WIDE_HEAD = (
    "You attended once over all D features: one wide head, not h narrow ones. Split q, k and v "
    "into heads, .view(B, L, h, d_head).transpose(1, 2), attend in each head, then merge the "
    "heads back before W_O."
)


MISTAKES = (
    W_O_BEFORE_THE_MERGE,  # named where the product that failed took w_o: multi_head_more
    Mistake(
        name="sizes that are not this input's",
        hint="A reshape asked for sizes this input does not have: take every size from the "
        "arguments, b, L, d_model = x.shape and d_head = d_model // num_heads, not from the "
        f"notebook's variables (chapter 05's cells: 4 tokens, d_head {learner.NOTEBOOK_D_HEAD}) or a "
        "split_heads written for them.",
        compute=None,
        error=r"shape '\[[\d, ]+\]' is invalid for input of size",
        example=partial(by_hand, fixed_d_head=learner.NOTEBOOK_D_HEAD),  # chapter 05's cells' d_head
    ),
    Mistake(
        name="split without transpose",
        hint="Your split mixes tokens across heads: q.view(B, h, L, d_head) cuts the (L, D) "
        "block row by row, so a 'head' gets pieces of several tokens. Reshape to "
        "(B, L, h, d_head) first, then .transpose(1, 2).",
        compute=partial(reference, split_view=True),
        example=partial(by_hand, split_view=True),
    ),
    Mistake(
        name="merge without transpose",
        hint="Your merge mixes tokens across heads: out.reshape(B, L, D) on a (B, h, L, d_head) "
        "tensor glues rows of different tokens together. Move the heads back next to "
        "the features first: out.transpose(1, 2).reshape(B, L, D).",
        compute=partial(reference, merge_view=True),
        example=partial(by_hand, merge_view=True),
    ),
    Mistake(
        name="split and merge without transpose",
        hint="Both your split and your merge reshape without transposing: each is the other's "
        "inverse, but in between every 'head' attends over pieces of several tokens. "
        "Split with .view(B, L, h, d_head).transpose(1, 2), merge with "
        ".transpose(1, 2).reshape(B, L, D).",
        compute=partial(reference, split_view=True, merge_view=True),
        example=partial(by_hand, split_view=True, merge_view=True),
    ),
    Mistake(
        name="one projection for all heads",
        hint="All your heads use the same projection (head 0's columns of W_Q, W_K, W_V), so "
        "they all compute the same attention. Head i must use its own columns "
        "i·d_head … (i+1)·d_head − 1: project with the full matrix, then split.",
        compute=partial(reference, shared=True),
        example=partial(by_hand, shared=True),
    ),
    Mistake(
        name="view(B, L, h, d) without the transpose",
        hint="Your heads never leave the token axis: after .view(B, L, h, d_head) the scores "
        "q @ k.transpose(-2, -1) are (B, L, h, h), attention between the HEADS of one token. "
        "Move the heads in front, .transpose(1, 2) → (B, h, L, d_head), so each head attends "
        "over the tokens.",
        compute=partial(reference, heads_axis=2),
        example=partial(by_hand, no_transpose=True),
    ),
    Mistake(
        name="one small projection on slices of the input",
        hint="You cut the INPUT x into h slices and gave each slice the same small (d_head, "
        "d_head) projection: each head then sees only d_head of the token's features, and all "
        "heads share one matrix. Project the whole x with the full matrix first (x @ w_q, "
        "(B, L, D)), then split the result into heads.",
        compute=partial(reference, input_slices=True),
        example=partial(by_hand, input_slices=True),
    ),
    Mistake(
        name="the tutorial's slices and √d_model",
        hint="Two things from a well-known tutorial: you cut the INPUT x into h slices, each "
        "through the same small (d_head, d_head) projection, and divided the scores by "
        "√d_model. Project the whole x with the full matrix first (x @ w_q, (B, L, D)), then "
        "split the result into heads; and each head divides by √d_head, its own width.",
        compute=partial(reference, input_slices=True, scale_by_model=True),
        example=partial(by_hand, input_slices=True, scale_by_model=True),
    ),
    Mistake(
        name="no scaling",
        hint="No scaling: divide each head's scores by √d_head before the softmax, as in one head.",
        compute=partial(reference, scale=False),
        example=partial(by_hand, scale=False),
    ),
    Mistake(
        name="softmax over the queries",
        hint="Softmax over the wrong axis: each query's row of weights (the last axis, the keys) "
        "must sum to 1, so use dim=-1 on the (B, h, L, L) scores.",
        compute=partial(reference, dim=-2),
        example=partial(by_hand, dim=2),
    ),
    Mistake(
        name="heads interleaved",
        hint="Your heads take every h-th column (view(B, L, d_head, h)): head i must own the "
        "CONSECUTIVE columns i·d_head … (i+1)·d_head − 1, so split with view(B, L, h, d_head) and "
        "transpose(1, 2).",
        compute=partial(reference, interleaved=True),
        example=learner.interleaves_the_heads,
    ),
    Mistake(
        name="heads interleaved on the split only",
        hint="Your split gives head i every h-th column (view(B, L, d_head, h)), and your merge "
        "puts the heads back in blocks: the split must match it. Head i owns the CONSECUTIVE "
        "columns i·d_head … (i+1)·d_head − 1: split with view(B, L, h, d_head).transpose(1, 2).",
        compute=partial(reference, interleaved="split"),
        example=learner.interleaves_on_the_split,
    ),
    Mistake(
        name="÷ d_head",
        hint="You divided each head's scores by d_head; the scale is its square root, √d_head "
        "(d_head ** 0.5 or math.sqrt(d_head)), as in one head. Or you scaled twice: "
        "F.scaled_dot_product_attention already divides by √d_head, so hand it q unscaled.",
        compute=partial(reference, scale="no root"),
        example=partial(by_hand, scale="no root"),
    ),
    Mistake(
        name="no W_O",
        hint="The heads are concatenated correctly, but the output projection W_O is missing: "
        "multiply the merged (B, L, D) tensor by w_o, so the heads' results get mixed.",
        compute=partial(reference, project=False),
        example=partial(by_hand, project=False),
    ),
    Mistake(
        name="scaled by √d_model",
        hint="Each head's scores must be divided by √d_head (the size of one head), not by "
        "√d_model: the dot products are over d_head numbers.",
        compute=partial(reference, scale_by_model=True),
        example=partial(by_hand, scale_by_model=True),
    ),
    Mistake(
        name="weights transposed",
        hint="You multiplied by the transposed weights, x @ w.T (as nn.Linear does with its own "
        "(out, in) weight). Here the matrices are stored (in, out): q = x @ w_q, and at the end "
        "merged @ w_o, with no .T.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: reference(x, w_q.T, w_k.T, w_v.T, w_o.T, h),
        example=_learner_transposes_the_weights,
    ),
    Mistake(
        name="W_O transposed",
        hint="Everything is right up to the output projection, which is transposed: merged @ w_o.T "
        "(nn.Linear's (out, in) convention). Here w_o is stored (in, out): merged @ w_o.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: reference(x, w_q, w_k, w_v, w_o.T, h),
        example=_learner_transposes_w_o,
    ),
    Mistake(
        name="a causal mask",
        hint="Your heads hide the future (a causal mask, is_causal=True or a triangular mask): "
        "this multi-head attention is the encoder's, where every token attends to every token. "
        "Leave the mask out; the decoder's masked attention comes in chapter 06.",
        compute=partial(reference, causal=True),
        example=learner.masks_the_future,
    ),
    Mistake(
        name="d_head as a float",
        hint="d_model / num_heads is a float (4.0, not 4), and view() wants whole numbers. Divide "
        "with //: d_head = d_model // num_heads.",
        compute=None,
        error=r"must be tuple of ints|but got float|got float",
        example=learner.divides_with_a_slash,
    ),
    Mistake(
        name="view after the transpose",
        hint="After .transpose(1, 2) the tensor is no longer laid out row by row in memory, so "
        ".view() refuses. Merge with .reshape(B, L, D), or call .contiguous() before .view().",
        compute=None,
        error=r"view size is not compatible",
        example=learner.views_after_the_transpose,
    ),
    Mistake(
        name="heads' axis against the tokens'",
        hint="Two of your 4-D tensors have their axes in different orders: the heads' axis (h) "
        "met the tokens' axis (L) at dim=1. Every tensor of the attention is (B, h, L, d_head): "
        "split q, k AND v with .view(B, L, h, d_head).transpose(1, 2), and turn the keys around "
        "on their last two axes only, k.transpose(-2, -1) (k.T and k.transpose(1, 2) are right "
        "for 2-D and 3-D keys only).",
        compute=None,
        # The first case has h = 3 and L = 5: a (B, h, …) tensor meets a (B, L, …) one.
        error=r"size of tensor a \((3|5)\) must match the size of tensor b \((5|3)\) at non-singleton "
        r"dimension 1",
        failed_at=heads_against_tokens,  # two 4-D tensors: not a keepdim lost in a loop, (h, L, L) / (h, L)
        example=learner.transposes_k_as_in_3d,
    ),
    Mistake(
        name="softmax over the heads",
        hint="Softmax over the wrong axis: dim=1 of the (B, h, L, L) scores is the HEADS axis "
        "(it was the keys' axis in 2-D only). Normalise over the keys, the last axis: dim=-1.",
        compute=partial(reference, dim=1),
        example=partial(by_hand, dim=1),
    ),
    Mistake(
        name="never split into heads",
        hint=_ONE_WIDE_HEAD,
        compute=_one_wide_head,
        example=learner.uses_one_wide_head,
    ),
    Mistake(
        name="never split, scaled by √d_model",
        hint=_ONE_WIDE_HEAD,
        compute=lambda x, w_q, w_k, w_v, w_o, h: reference(x, w_q, w_k, w_v, w_o, 1),
        example=lambda x, w_q, w_k, w_v, w_o, num_heads: solution(x, w_q, w_k, w_v, w_o, 1),
    ),
) + MORE_MISTAKES  # and those met in later audits (dropout left on last), in multi_head_more
MISTAKES += ROUND_51B  # round 51: two splits flat, x's slices through W's blocks, heads averaged


@learner_check
def check_multi_head_attention(learner_fn: Callable) -> Result:
    """Exercise 05: ``fn(x (B, L, D), w_q, w_k, w_v, w_o (D, D), num_heads) → (B, L, D)``: split
    the projections into heads, attend in each head, concatenate, project with W_O."""
    cases, name = _cases(), "multi_head_attention"
    result = check_function(
        learner_fn, reference, cases, name=name, mistakes=MISTAKES, atol=1e-4, needs_grad=True
    )
    result = in_numbers(result, cases)  # round 51: √d_model and √d_head, in numbers
    return note_built_ins(result, learner_fn, cases, asked_for.MULTI_HEAD)


EXERCISES = (
    Exercise(
        name="multi_head_attention",
        chapter="05",
        check=check_multi_head_attention,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
