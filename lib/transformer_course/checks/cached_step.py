"""Exercise 09c: one step of attention with a KV cache.

``cached_attention_step(q, k_new, v_new, past_k, past_v)`` → ``(out, keys, values)``:

    q, k_new, v_new   (B, h, 1, d_head)   the new token's query, key and value
    past_k, past_v    (B, h, t, d_head)   the cached keys and values of the t earlier tokens,
                                          or None when the cache is still empty (t = 0)
    keys, values      (B, h, t + 1, d_head)  the cache after this step: the new position last
    out               (B, h, 1, d_head)   softmax(q · keysᵀ / √d_head) · values

No mask: every cached position is in the new token's past.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch

from . import cached_step_learners as learner
from .cached_step_inputs import FIRST, INPUTS, edge_cases
from .cached_step_keys import KEYS_GATHERED, OUT_IS_K_NEW
from .cached_step_learners import by_hand
from .cached_step_more import MORE_MISTAKES
from .cached_step_reference import cases as _usual_cases
from .cached_step_reference import (
    first_key_only,
    grown,
    old_cache_returned,
    out_ignores_the_new_token,
    out_is_v_new,
    own_key_hidden,
    past_only,
    reference,
    swap_cache,
    variant,
    weights_as_out,
)
from .cached_step_round50 import ROUND_50
from .cached_step_slips import SLIPS
from .cached_step_transposed import K_NOT_TRANSPOSED
from .harness import Exercise, Mistake, Result, check_function, draws_at_random
from .stale import learner_check

# --- The learner's side: the starter, a worked solution (more answers: cached_step_learners) ---


def starter(q, k_new, v_new, past_k, past_v):
    """q, k_new, v_new (B, h, 1, d_head); past_k, past_v (B, h, t, d_head) or None
    → out (B, h, 1, d_head), keys (B, h, t + 1, d_head), values (B, h, t + 1, d_head)."""
    raise NotImplementedError


def solution(q, k_new, v_new, past_k, past_v):
    """q, k_new, v_new (B, h, 1, d_head); past_k, past_v (B, h, t, d_head) or None
    → out (B, h, 1, d_head), keys (B, h, t + 1, d_head), values (B, h, t + 1, d_head)."""
    if past_k is None:  # the first token: nothing cached yet
        keys, values = k_new, v_new
    else:
        keys = torch.cat([past_k, k_new], dim=2)  # the new position goes last: (B, h, t + 1, d_head)
        values = torch.cat([past_v, v_new], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, h, 1, t + 1)
    weights = torch.softmax(scores, dim=-1)  # no mask: every cached position is in the past
    return weights @ values, keys, values


ALTERNATIVES = {
    "by hand, every switch off": by_hand,
    "lib's KVCache and F.scaled_dot_product_attention": learner.with_kv_cache,
    "einsum": learner.with_einsum,
    "one head at a time": learner.head_by_head,
    "as a list, in float64": lambda *a: list(solution(*(None if t is None else t.double() for t in a))),
    "one query as a sum": learner.one_query_as_a_sum,
}


# --- The checker's side: the catalogue of mistakes (reference, test cases: cached_step_reference) ---


def _cases() -> list[tuple]:  # every exercise module's name for its cases
    """The usual four (cached_step_reference), then scores in the hundreds (cached_step_inputs)."""
    return _usual_cases() + edge_cases()


MISTAKES = (
    Mistake(
        name="out only",
        hint="Return the updated cache too: (out, keys, values). The next step needs the keys "
        "and values with this token's added, or it would forget it.",
        compute=None,
        recognise=lambda fn, case, got: isinstance(got, torch.Tensor) and got.shape == case[0].shape,
        example=lambda *a: solution(*a)[0],
    ),
    # Hugging Face's layers return (out, (keys, values)): the right tensors, one level too deep.
    Mistake(
        name="cache as a nested pair",
        hint="Return three items side by side, (out, keys, values), not (out, (keys, values)): "
        "the exercise unpacks out, keys, values = cached_attention_step(…).",
        compute=lambda *a: (lambda out, k, v: (out, (k, v)))(*reference(*a)),
        example=lambda *a: (lambda out, k, v: (out, (k, v)))(*solution(*a)),
    ),
    Mistake(
        name="empty cache not handled",
        hint="On the first step the cache is empty: past_k and past_v are None, and torch.cat "
        "cannot take None. Start the cache with this token's: keys = k_new if past_k is None else "
        "torch.cat([past_k, k_new], dim=2).",
        compute=None,
        error=r"got NoneType|NoneType' object|expected Tensor as element",
        example=lambda q, k, v, pk, pv: learner.always_concatenates(q, k, v, pk, pv),
    ),
    Mistake(
        name="new token left out of its attention",
        hint="Your cache is right, but the new token did not attend to itself: either the scores "
        "were computed from the cache before k_new was appended, or its own score (the last) "
        "was hidden. Append first, then attend over all t + 1 keys: a token sees every position "
        "up to and including its own, as training's causal mask (diagonal kept) lets it.",
        compute=None,
        recognise=own_key_hidden,
        example=learner.hides_its_own_key,
    ),
    Mistake(
        name="new key not added",
        hint="The new token's key and value are missing from the cache: it attended to the t "
        "earlier tokens only. Append them first: keys = torch.cat([past_k, k_new], dim=2), the same "
        "for the values; a token also attends to itself.",
        compute=None,
        recognise=out_ignores_the_new_token,
        example=lambda q, k, v, pk, pv: by_hand(q, k, v, pk, pv) if pk is None else past_only(q, pk, pv),
    ),
    Mistake(
        name="new token only",
        hint="Your output is v_new: the new token gathered its own value alone. Either it attended "
        "to itself only, ignoring the cache (its query must be compared with every cached key too: "
        "keys = torch.cat([past_k, k_new], dim=2)), or the weights multiplied v_new instead of every "
        "value (values = torch.cat([past_v, v_new], dim=2); an einsum over v_new broadcasts its one "
        "position, and weights that add up to 1 give v_new back).",
        compute=None,
        recognise=out_is_v_new,
        example=lambda q, k, v, pk, pv: (v.clone(), k, v),
    ),
    Mistake(
        name="old cache returned",
        hint="The output is right, but you returned the cache as it came in: return the keys and "
        "values WITH this token's added, (B, h, t + 1, d_head), or the next step will not see it.",
        compute=None,
        recognise=old_cache_returned,
        example=partial(by_hand, returns="old cache"),
    ),
    Mistake(
        name="only the new key and value returned",
        hint="The output is right, but the cache you returned holds only this token's key and "
        "value: return the WHOLE cache, the t cached positions and the new one, (B, h, t + 1, "
        "d_head), the keys and values you attended over. The caller keeps what you return and "
        "hands it back as past_k, past_v next step.",
        compute=lambda q, k, v, pk, pv: (reference(q, k, v, pk, pv)[0], k, v),
        example=learner.returns_the_update,
    ),
    Mistake(
        name="weights returned as out",
        hint="Your first item is the attention weights, (B, h, 1, t + 1): out is what the token "
        "gathers with them, weights @ values, (B, h, 1, d_head).",
        compute=weights_as_out,
        example=learner.returns_the_weights,
    ),
    Mistake(
        name="torch.stack for the cache",
        hint="torch.stack puts tensors side by side along a NEW axis, and needs them all of the "
        "same shape; the cache grows along an axis it already has, the positions: "
        "torch.cat([past_k, k_new], dim=2).",
        compute=None,
        error=r"stack expects each tensor to be equal size",
        example=learner.stacks,
    ),
    Mistake(
        name="cache tested as a bool",
        hint="`if past_k:` (or `not past_k`) asks a tensor of many numbers for one True/False, "
        "and PyTorch refuses. Ask whether there is a cache at all: if past_k is None: ….",
        compute=None,
        error=r"Boolean value of Tensor with more than one value is ambiguous",
        example=learner.tests_the_cache_as_a_bool,
    ),
    Mistake(
        name="keys and values swapped",
        hint="The output is right, but the cache comes back as (out, values, keys): return "
        "(out, keys, values), in that order, or the next step will use the values as keys.",
        compute=lambda *case: swap_cache(reference(*case)),
        example=lambda *case: swap_cache(solution(*case)),
    ),
    Mistake(
        name="new position first",
        hint="The output is right but the cache is out of order: you put the new position before "
        "the t cached ones. Position t goes last, torch.cat([past_k, k_new], dim=2), so that "
        "keys[:, :, i] stays the key of token i.",
        compute=partial(
            variant,
            keys_by=lambda q, k, past: k if past is None else torch.cat([k, past], dim=2),
            values_by=lambda k, v, past: v if past is None else torch.cat([v, past], dim=2),
        ),
        example=partial(by_hand, order="before"),
    ),
    Mistake(
        name="wrong axis",
        hint="You concatenated along the wrong axis: the cache grows by one POSITION, and positions "
        "are dim=2 of (B, h, t, d_head): torch.cat([past_k, k_new], dim=2).",
        compute=None,
        error=r"Sizes of tensors must match except in dimension (3|1|0|-1)",
        example=partial(by_hand, axis=-1),
    ),
    Mistake(
        name="no scaling",
        hint="No scaling: divide the scores by √d_head, as in training, or the cached model "
        "computes different attention from the one it learned.",
        compute=partial(variant, weights_by=lambda s, d: torch.softmax(s, dim=-1)),
        example=partial(by_hand, scale="none"),
    ),
    Mistake(
        name="× √d_head",
        hint="You multiplied the scores by √d_head; divide them: softmax(q @ keysᵀ / √d_head).",
        compute=partial(variant, weights_by=lambda s, d: torch.softmax(s * math.sqrt(d), dim=-1)),
        example=partial(by_hand, scale="times"),
    ),
    Mistake(
        name="÷ d_head",
        hint="You divided the scores by d_head itself: the scale is its square root, "
        "q @ keys.transpose(-2, -1) / math.sqrt(d_head).",
        compute=partial(variant, weights_by=lambda s, d: torch.softmax(s / d, dim=-1)),
        example=partial(by_hand, scale="d"),
    ),
    Mistake(
        name="÷ √(number of keys)",
        hint="You divided the scores by the square root of the number of keys (t + 1): the scale "
        "is √d_head, the width of the vectors compared, q.shape[-1], whatever the cache's length.",
        compute=partial(variant, weights_by=lambda s, d: torch.softmax(s / math.sqrt(s.shape[-1]), dim=-1)),
        example=partial(by_hand, scale="keys"),
    ),
    Mistake(
        name="÷ √d_model",
        hint="You divided the scores by √d_model, the width of all heads together (h · d_head). "
        "Each head compares vectors of d_head numbers: divide by √d_head, q.shape[-1].",
        compute=partial(
            variant, weights_by=lambda s, d: torch.softmax(s / math.sqrt(d * s.shape[1]), dim=-1)
        ),
        example=partial(by_hand, scale="d_model"),
    ),
    Mistake(
        name="causal mask",
        hint="You applied a causal mask. With one query, the newest token, every cached position "
        "is in its past: nothing is hidden. (A causal mask built for this single row, or "
        "is_causal=True, hides every key but the first.)",
        compute=partial(variant, weights_by=first_key_only),
        example=partial(by_hand, mask=True),
    ),
    Mistake(
        name="softmax over the query axis",
        # Reached two ways: softmax(dim=-2) of q @ keysᵀ, (B, h, 1, t + 1), or softmax(dim=-1) of
        # keys @ qᵀ, (B, h, t + 1, 1): the hint names the axis by its size, not by its number.
        hint="Every weight came out 1, so out is the SUM of the values: your softmax ran over an "
        "axis of size 1, the single query's. It must run over the keys: dim=-1 of q @ "
        "keys.transpose(-2, -1), (B, h, 1, t + 1), so that the one query's weights sum to 1.",
        compute=partial(variant, weights_by=lambda s, d: torch.softmax(s / math.sqrt(d), dim=-2)),
        example=partial(by_hand, dim=-2),
    ),
    Mistake(
        name="softmax over the heads",
        hint="Your softmax ran over dim=1, the heads (F.softmax without dim= picks dim=1 for a 4-D "
        "tensor): each head's weights over the cached positions must sum to 1 on their own, "
        "torch.softmax(scores, dim=-1).",
        compute=partial(variant, weights_by=lambda s, d: torch.softmax(s / math.sqrt(d), dim=1)),
        example=learner.softmax_without_dim,
    ),
    Mistake(
        name="÷ √(number of heads)",
        hint="You divided the scores by the square root of q.shape[1], the number of heads: "
        "(B, h, 1, d_head) holds d_head last, so the scale is math.sqrt(q.shape[-1]).",
        compute=partial(variant, weights_by=lambda s, d: torch.softmax(s / math.sqrt(s.shape[1]), dim=-1)),
        example=learner.scales_by_the_heads,
    ),
    Mistake(
        name="weights gather the keys",
        hint="Your weights gathered the KEYS: the keys only decide the weights (with the query); "
        "what a token gathers is the values, out = weights @ values.",
        compute=partial(variant, mixes="keys"),
        example=learner.mixes_the_keys,
    ),
    Mistake(
        name="a zero position in the empty cache",
        hint="On the first step you started the cache with a position of zeros, so the new token "
        "also attends to a key of zeros (score 0) and takes a share of its zero value. An empty "
        "cache holds no position: keys = k_new, values = v_new (or zeros with 0 positions, "
        "k_new[:, :, :0]).",
        compute=partial(
            variant,
            keys_by=lambda q, k, past: torch.cat([torch.zeros_like(k) if past is None else past, k], dim=2),
            values_by=lambda k, v, past: torch.cat([torch.zeros_like(v) if past is None else past, v], dim=2),
        ),
        example=learner.starts_with_zeros,
    ),
    Mistake(
        name="query cached as key",
        hint="You cached the QUERY as the new key: keys must grow with k_new, the new token's key "
        "(q is used once, for this step's scores, and never cached).",
        compute=partial(variant, keys_by=lambda q, k, past: grown(past, q)),
        example=partial(by_hand, stored="q as key"),
    ),
    Mistake(
        name="key cached as value",
        hint="Your values grew with k_new: the value cache must grow with v_new, the new token's value.",
        compute=partial(variant, values_by=lambda k, v, past: grown(past, k)),
        example=partial(by_hand, stored="k as value"),
    ),
    draws_at_random(lambda *a: learner.with_dropout(*a)),
)
MISTAKES += MORE_MISTAKES  # met in the ninth audit: cached_step_more
MISTAKES += SLIPS  # met in the round-43a battery: cached_step_slips
MISTAKES = FIRST + MISTAKES + INPUTS  # round 44: overflow, a rounded root, a squeeze (cached_step_inputs)
# weights @ k_new before v_new's error, which it raises too; an einsum's k_new (cached_step_keys)
MISTAKES = (KEYS_GATHERED, *MISTAKES, OUT_IS_K_NEW)
MISTAKES += (K_NOT_TRANSPOSED,)  # any error, where a product took the keys as they are: last
MISTAKES += ROUND_50  # training's mask, keys and values swapped: cached_step_round50


@learner_check
def check_cached_attention_step(learner_fn: Callable) -> Result:
    """Exercise 09c: ``fn(q, k_new, v_new (B, h, 1, d_head), past_k, past_v (B, h, t, d_head) or
    None)`` → ``(out (B, h, 1, d_head), keys, values (B, h, t + 1, d_head))``."""
    cases = _cases()
    return check_function(
        learner_fn,
        reference,
        cases,
        name="cached_attention_step",
        mistakes=MISTAKES,
        atol=1e-5,
        parts=("out", "keys", "values"),
    )


EXERCISES = (
    Exercise(
        name="cached_attention_step",
        chapter="09",
        check=check_cached_attention_step,
        solution=solution,
        starter=starter,
        alternatives=ALTERNATIVES,
        mistakes=MISTAKES,
    ),
)
