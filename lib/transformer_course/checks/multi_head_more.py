"""More of ``multi_head``'s catalogue: the wrong answers met in the seventh and twelfth audits,
each with what it computes, its hint and a learner-style example.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from . import multi_head_learners as learner
from .attention_more import ignores_arguments
from .failure import Failure, failed_in, took
from .harness import Mistake, draws_at_random
from .multi_head_inputs import INPUTS
from .multi_head_slips import ROUND_43B


def _heads(x, w_q, w_k, w_v, num_heads, *, divide=None, late=False, keys_first=False, normalise=None):
    """Every head's output (B, h, L, d_head); ``divide`` replaces √d_head; ``late``: after the softmax;
    ``keys_first``: scores K Qᵀ, one row per key; ``normalise(scores)`` replaces the softmax."""
    b, length, d_model = x.shape
    d_head = d_model // num_heads
    q, k, v = ((x @ w).view(b, length, num_heads, d_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    root = d_head**0.5 if divide is None else divide
    scores = k @ q.transpose(-2, -1) if keys_first else q @ k.transpose(-2, -1)
    if late:
        return torch.softmax(scores, dim=-1) @ v / root
    if normalise is not None:
        return normalise(scores / root) @ v
    return torch.softmax(scores / root, dim=-1) @ v


def _joined(heads, w_o):
    return heads.transpose(1, 2).flatten(2) @ w_o


def _token_chunks(x, w_q, w_k, w_v, w_o, num_heads):
    d_head = x.shape[-1] // num_heads
    q, k, v = ((x @ w).chunk(num_heads, dim=1) for w in (w_q, w_k, w_v))
    outs = [torch.softmax(a @ b.transpose(-2, -1) / d_head**0.5, -1) @ c for a, b, c in zip(q, k, v)]
    return torch.cat(outs, dim=1) @ w_o


# Answers met in the seventh audit: each names what it computes.
MORE_MISTAKES = (
    Mistake(
        name="heads joined in reverse order",
        hint="Your heads are joined in reverse order: head 0's output must fill the first d_head "
        "columns, as head 0's queries came from the first d_head columns of x @ w_q. "
        "torch.cat([head 0, head 1, …], dim=-1), or heads.transpose(1, 2).reshape(B, L, D).",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, h).flip(1), w_o),
        example=learner.joins_the_heads_backwards,
    ),
    Mistake(
        name="scaled by √num_heads",
        hint="You divided the scores by √num_heads: the scale is √d_head, the width of each "
        "head's queries and keys (d_model // num_heads).",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, h, divide=h**0.5), w_o),
        example=learner.scales_by_the_number_of_heads,
    ),
    Mistake(
        name="merged with the heads last",
        hint="Your merge puts the heads' axis last, (B, L, d_head, h), so the reshape interleaves "
        "the heads' columns. Put the heads just before d_head: heads.transpose(1, 2) gives "
        "(B, L, h, d_head), then .reshape(B, L, D) lays head 0's columns first.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: (
            _heads(x, w_q, w_k, w_v, h).permute(0, 2, 3, 1).flatten(2) @ w_o
        ),
        example=learner.merges_with_the_heads_last,
    ),
    Mistake(
        name="tokens chunked into heads",
        hint="You split along the TOKENS (chunk(h, dim=1)): each head sees a piece of the "
        "sentence. Heads split the FEATURES: every head sees every token, through its own "
        "d_head columns, .view(B, L, h, d_head).transpose(1, 2).",
        compute=_token_chunks,
        example=learner.chunks_the_tokens,
    ),
    Mistake(
        name="scaled after the softmax",
        hint="You divided by √d_head after the softmax (on the weights or on the heads' output): "
        "the scale goes on the scores, before the softmax, softmax(q @ kᵀ / √d_head).",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, h, late=True), w_o),
        example=learner.scales_the_output,
    ),
    Mistake(
        name="residual added",
        hint="You added x to the result: the residual connection belongs to the layer around "
        "attention (Add & Norm, chapter 07). Multi-head attention returns merged @ w_o alone.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: x + _joined(_heads(x, w_q, w_k, w_v, h), w_o),
        example=learner.adds_the_input,
    ),
    Mistake(
        name="V projected with W_K",
        hint="Your values are projected with w_k: V = x @ w_v (a copy-paste slip?). Q, K and V "
        "each have their own matrix.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_k, h), w_o),
        example=learner.projects_v_with_w_k,
    ),
    # Met in the twelfth audit: the notebook's own h and d_head (2 and 4), read inside the function.
    Mistake(
        name="the notebook's h",
        hint=f"Your function splits into the notebook's h = {learner.NOTEBOOK_H} heads whatever "
        "num_heads says: take the number of heads from the num_heads argument, and "
        "d_head = d_model // num_heads, not from the notebook's h.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, learner.NOTEBOOK_H), w_o),
        example=learner.uses_the_notebooks_h,
    ),
    Mistake(
        name="the notebook's d_head in the scale",
        hint=f"Your scale is √{learner.NOTEBOOK_D_HEAD} on every input: the notebook's d_head, not "
        "this input's. Compute it inside the function, d_head = d_model // num_heads (or "
        "q.shape[-1]), and divide each head's scores by √d_head.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(
            _heads(x, w_q, w_k, w_v, h, divide=learner.NOTEBOOK_D_HEAD**0.5), w_o
        ),
        example=learner.scales_by_the_notebooks_d_head,
    ),
    Mistake(
        name="keys times queries",
        hint="Your scores are k @ qᵀ: row j then belongs to KEY j, and the softmax spreads each key "
        "over the queries. Each QUERY gets a row: scores = q @ k.transpose(-2, -1).",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _joined(_heads(x, w_q, w_k, w_v, h, keys_first=True), w_o),
        example=learner.puts_the_keys_first,
    ),
)


# --- Met in round 41's battery of wrong answers ---


def _standard(x, w_q, w_k, w_v, w_o, h, **how):
    return _joined(_heads(x, w_q, w_k, w_v, h, **how), w_o)


def _length_first(x, w_q, w_k, w_v, w_o, h):
    """x read as (L, B, D): attention runs along the batch axis, for each position."""
    return _standard(x.transpose(0, 1), w_q, w_k, w_v, w_o, h).transpose(0, 1)


def _weights(x, w_q, w_k, w_v, w_o, h):
    d_head = x.shape[-1] // h
    q, k = ((x @ w).unflatten(-1, (h, d_head)).transpose(1, 2) for w in (w_q, w_k))
    return torch.softmax(q @ k.transpose(-2, -1) / d_head**0.5, dim=-1)


def _last_head_zero(x, w_q, w_k, w_v, w_o, h):
    heads = _heads(x, w_q, w_k, w_v, h).clone()
    heads[:, -1] = 0.0
    return _joined(heads, w_o)


def _never_reads(*names: str):
    """The recognise for a function whose result does not change with the named weights. Not on
    one token (L = 1): its only weight is 1 whatever w_q and w_k are, so no answer reads them."""
    unread = ignores_arguments(*(1 + ("w_q", "w_k", "w_v", "w_o").index(n) for n in names))
    scores_only = {"w_q", "w_k"} & set(names)
    return lambda fn, case, got: not (scores_only and case[0].shape[1] == 1) and unread(fn, case, got)


def _unread(name: str, use: str) -> str:
    return (
        f"Your result does not change when {name} changes: your function never uses its argument "
        f"{name} (a copy-paste slip, or the notebook's {name} read instead?). {use}"
    )


# Round 44's (multi_head_inputs): before "w_q never read", which a .squeeze() on one token can look like.
MORE_MISTAKES += INPUTS
MORE_MISTAKES += (
    Mistake(
        name="Q, K, V with the transposed weights",
        hint="Your queries, keys and values use the transposed matrices, x @ w.T: F.linear(x, w) "
        "computes that (it takes nn.Linear's (out, in) weights), and so do the ROWS "
        "w[i*d_head:(i+1)*d_head]. Here q = x @ w_q, and head i owns the COLUMNS "
        "w_q[:, i*d_head:(i+1)*d_head]. Your W_O step is right.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _standard(x, w_q.T, w_k.T, w_v.T, w_o, h),
        example=learner.projects_with_f_linear,
    ),
    Mistake(
        name="x read as (L, B, D)",
        hint="Your attention runs along the BATCH axis: x is (B, L, D), batch first, so the tokens "
        "are dim=1 (nn.MultiheadAttention reads (L, B, D) unless given batch_first=True). Take "
        "b, length, d_model = x.shape, and attend over the L tokens of each sentence.",
        compute=_length_first,
        example=learner.reads_x_as_length_first,
    ),
    Mistake(
        name="multiplied by √d_head",
        hint="You multiplied each head's scores by √d_head: the scale DIVIDES them, "
        "softmax(q @ kᵀ / √d_head), so that they do not grow with the heads' width.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _standard(
            x, w_q, w_k, w_v, w_o, h, divide=(x.shape[-1] // h) ** -0.5
        ),
        example=learner.multiplies_by_the_root,
    ),
    Mistake(
        name="softmax over the batch",
        hint="Softmax over the wrong axis: dim=0 of the (B, h, L, L) scores is the BATCH, so the "
        "sentences of a batch share their weights. Normalise over the keys, the last axis: "
        "dim=-1.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _standard(
            x, w_q, w_k, w_v, w_o, h, normalise=partial(torch.softmax, dim=0)
        ),
        example=learner.softmax_over_dim_0,
    ),
    Mistake(
        name="no softmax",
        hint="Your heads use the scaled scores themselves as weights: the softmax is missing. "
        "weights = torch.softmax(q @ k.transpose(-2, -1) / √d_head, dim=-1), then weights @ v.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _standard(x, w_q, w_k, w_v, w_o, h, normalise=lambda s: s),
        example=learner.leaves_out_the_softmax,
    ),
    Mistake(
        name="the heads returned unmerged",
        hint="You returned the heads' outputs, (B, h, L, d_head): two steps are missing. Merge the "
        "heads back, out.transpose(1, 2).reshape(B, L, D), then project with W_O: merged @ w_o.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: _heads(x, w_q, w_k, w_v, h),
        example=learner.returns_the_heads,
    ),
    Mistake(
        name="the weights returned",
        hint="You returned the attention WEIGHTS, (B, h, L, L): the function returns what the "
        "heads make of them, weights @ v, merged back to (B, L, D) and projected with W_O.",
        compute=_weights,
        example=learner.returns_the_weights,
    ),
    Mistake(
        name="last head never computed",
        hint="The last head's columns of your result are zeros before W_O: the loop over the heads "
        "stops one short. Loop over range(num_heads), all of them.",
        compute=_last_head_zero,
        example=learner.stops_one_head_short,
    ),
    Mistake(
        name="Add & Norm applied",
        hint="You added x and applied a layer norm: that is the Add & Norm around attention "
        "(chapter 07). Multi-head attention returns merged @ w_o alone.",
        compute=lambda x, w_q, w_k, w_v, w_o, h: F.layer_norm(
            x + _standard(x, w_q, w_k, w_v, w_o, h), x.shape[-1:]
        ),
        example=learner.adds_and_normalises,
    ),
    Mistake(
        name="none of the weights read",
        hint="Your result does not change when w_q, w_k, w_v and w_o change: your function uses "
        "none of its weights. A PyTorch layer made inside it (nn.MultiheadAttention, nn.Linear) "
        "has its own random weights, and the notebook's w_q … are not this call's. Use the "
        "arguments: q = x @ w_q, …, and merged @ w_o at the end.",
        compute=None,
        recognise=_never_reads("w_q", "w_k", "w_v", "w_o"),
        example=learner.uses_pytorchs_layer,
    ),
    Mistake(
        name="no Q, K, V projections",
        hint="Your result does not change when w_q, w_k and w_v change: your heads attend over x "
        "itself. Project first, q = x @ w_q, k = x @ w_k, v = x @ w_v, then split each into heads.",
        compute=None,
        recognise=_never_reads("w_q", "w_k", "w_v"),
        example=learner.attends_over_x_itself,
    ),
    Mistake(
        name="w_q never read",
        hint=_unread("w_q", "The queries are q = x @ w_q."),
        compute=None,
        recognise=_never_reads("w_q"),
        example=learner.projects_q_with_w_k,
    ),
    Mistake(
        name="w_k never read",
        hint=_unread("w_k", "The keys are k = x @ w_k."),
        compute=None,
        recognise=_never_reads("w_k"),
        example=learner.projects_k_with_w_q,
    ),
    Mistake(
        name="w_v never read",
        hint=_unread("w_v", "The values are v = x @ w_v."),
        compute=None,
        recognise=_never_reads("w_v"),
        example=learner.leaves_v_unprojected,
    ),
    *ROUND_43B,  # round 43b's battery: in multi_head_slips
    # after the weights that are never read: a layer made inside draws too, but its weights are the cause
    draws_at_random(partial(learner.by_hand, dropout=True)),
)


# --- Round 47c: named where the product that failed took w_o, not by the error's text alone ---

PRODUCTS = ("matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "einsum", "linear")


def _multiplied_w_o(failure: Failure, case: tuple) -> bool:
    """The product that failed took w_o (its fresh copy's numbers), case's fifth item: not a
    product of x with a slice of w_q's rows, which fails with the same words."""
    return failed_in(failure, *PRODUCTS) and took(failure, case[4])


W_O_BEFORE_THE_MERGE = Mistake(
    name="W_O before the heads are joined",
    hint="A matrix product does not fit: w_o is (D, D), and multiplies each token's heads "
    "joined back into one vector of D = h · d_head numbers. Merge first, "
    "out.transpose(1, 2).reshape(B, L, D) (or torch.cat(heads, dim=-1) for a list), "
    "then @ w_o.",
    compute=None,
    error=r"mat1 and mat2 shapes cannot be multiplied",
    failed_at=_multiplied_w_o,
    example=partial(learner.by_hand, w_o_per_head=True),
)


# --- Round 48e: the heads' axis against the tokens' only where two 4-D tensors met ---


def heads_against_tokens(failure: Failure, case: tuple) -> bool:
    """The op that failed took two 4-D tensors, one (B, h, …) and one (B, L, …): q @ k.transpose(1, 2),
    weights @ v with v never transposed. Not a keepdim lost inside a per-batch loop, (h, L, L) /
    (h, L), whose error reads the same (review R9); the harness's lost-axis hint names that."""
    length, num_heads = case[0].shape[1], case[5]
    second_axes = {op.shape[1] for op in failure.operands if op.dim() == 4}
    return {length, num_heads} <= second_axes
