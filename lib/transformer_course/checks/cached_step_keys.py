"""Round 46: ``weights @ k_new`` (or ``weights @ past_k``) in ``cached_step``: the weights
multiplied the keys, not the values.

k_new has v_new's shape and past_k has past_v's, so such a product raises, word for word, the
error of ``weights @ v_new`` (or ``past_v``), which ``cached_step_inputs`` names by its text.
``KEYS_GATHERED`` comes first in the catalogue with the same patterns and a ``failed_at``: it is
named where the learner's step, run again on the same input (``failure.rerun``), failed at a
product (or einsum) whose second operand is the new key or the cached keys.

An einsum over k_new does not fail: it broadcasts k_new's one position over all of them, and
the weights, which add up to 1, hand back k_new itself (``OUT_IS_K_NEW``: the output is the
key). An einsum over past_k does fail, as one over past_v does.
"""

from __future__ import annotations

import torch

from .cached_step_inputs import CACHE_ONLY, NEW_VALUE_ONLY
from .cached_step_reference import grown
from .describe import same
from .failure import Failure
from .harness import Mistake

KEYS_GATHERED_HINT = (
    "Your weights multiplied the KEYS, not the values: weights @ k_new (or past_k). The keys "
    "only decide the weights, with the query; what the token gathers is the VALUES of every "
    "position it attends to: out = weights @ values, with values = torch.cat([past_v, v_new], "
    "dim=2), (B, h, t + 1, d_head), the cache you return."
)
PRODUCTS = ("matmul", "__matmul__", "__rmatmul__", "bmm", "mm")  # torch.matmul(a, b), a @ b, …


def multiplied_the_keys(failure: Failure, case: tuple) -> bool:
    """The step failed at a product (or einsum) whose second operand is k_new or past_k,
    (B, h, 1 or t, d_head), reshaped or not (torch.bmm takes them as (B·h, t, d_head))."""
    _, k_new, _, past_k, _ = case
    if failure.name not in (*PRODUCTS, "einsum") or len(failure.operands) < 2:
        return False
    second = failure.operands[1]  # an einsum's too: its tensors, the equation left out
    return any(_holds(second, keys) for keys in (k_new, past_k) if keys is not None)


def _holds(operand: object, keys: torch.Tensor) -> bool:
    """``operand`` is ``keys``, reshaped or not."""
    if not isinstance(operand, torch.Tensor) or operand.numel() != keys.numel():
        return False
    return same(operand.reshape(-1), keys.reshape(-1), 0.0)


def _learner_gathers_the_new_key(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1)
    return weights @ k_new, keys, values  # "the new token's own vector"


# First in the catalogue: the error of v_new or past_v gathered alone, where the keys were.
KEYS_GATHERED = Mistake(
    name="weights @ k_new",
    hint=KEYS_GATHERED_HINT,
    compute=None,
    error=f"{NEW_VALUE_ONLY}|{CACHE_ONLY}",
    failed_at=multiplied_the_keys,
    example=_learner_gathers_the_new_key,
)


def out_is_k_new(fn, case, got) -> bool:
    """The output is k_new itself: the weights (adding up to 1) gathered the new key alone, as an
    einsum over k_new, which broadcasts its one position, gives."""
    _, k_new, _, _, _ = case
    return isinstance(got, tuple | list) and len(got) == 3 and same(got[0], k_new, 1e-5)


def _learner_einsums_the_new_key(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    weights = torch.einsum("bhqd,bhkd->bhqk", q / q.shape[-1] ** 0.5, keys).softmax(dim=-1)
    return torch.einsum("bhqk,bhkd->bhqd", weights, k_new), keys, values  # einsum broadcasts k_new


OUT_IS_K_NEW = Mistake(
    name="output is k_new",
    hint="Your output is k_new, the new token's KEY: the weights (which add up to 1) gathered k_new "
    "alone (an einsum over k_new broadcasts its one position to every weight). The keys only "
    "decide the weights, with the query; what the token gathers is the VALUES of every position: "
    "out = weights @ values, with values = torch.cat([past_v, v_new], dim=2).",
    compute=None,
    recognise=out_is_k_new,
    example=_learner_einsums_the_new_key,
)
