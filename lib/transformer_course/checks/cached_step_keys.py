"""Round 46: ``weights @ k_new`` (or ``weights @ past_k``) in ``cached_step``: the weights
multiplied the keys, not the values.

k_new has v_new's shape and past_k has past_v's, so such a product raises, word for word, the
error of ``weights @ v_new`` (or ``past_v``): ``cached_step_inputs`` names those by the error's
text alone, which cannot tell keys from values. ``keys_named`` turns such a verdict into this
one where the learner's step, run again on the same input, failed at a product whose second
operand is the new key or the cached keys (``FailedProduct`` records it).

An einsum over k_new does not fail: it broadcasts k_new's one position over all of them, and
the weights, which add up to 1, hand back k_new itself (``OUT_IS_K_NEW``: the output is the
key). An einsum over past_k does fail, as one over past_v does: its operands are kept too.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.overrides import TorchFunctionMode

from .cached_step_inputs import CACHE_ONLY_HINT, NEW_VALUE_ONLY_HINT
from .cached_step_reference import grown
from .cases import fresh
from .describe import same
from .harness import LEARNER_ERRORS, WRONG, Mistake, Result
from .time_limit import LIMIT_S, TookTooLong, time_limit

KEYS_GATHERED_HINT = (
    "Your weights multiplied the KEYS, not the values: weights @ k_new (or past_k). The keys "
    "only decide the weights, with the query; what the token gathers is the VALUES of every "
    "position it attends to: out = weights @ values, with values = torch.cat([past_v, v_new], "
    "dim=2), (B, h, t + 1, d_head), the cache you return."
)
PRODUCTS = ("matmul", "__matmul__", "__rmatmul__", "bmm", "mm")  # torch.matmul(a, b), a @ b, …


class FailedProduct(TorchFunctionMode):
    """While on, keeps the name of the first function that raises (``failed``) and, where it is a
    matrix product or an einsum, its operands."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: str | None = None
        self.operands: tuple = ()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        try:
            return func(*args, **(kwargs or {}))
        except RuntimeError:
            if self.failed is None:
                self.failed = getattr(func, "__name__", "")
                self.operands = _operands(self.failed, args)
            raise


def _operands(name: str, args: tuple) -> tuple:
    """The two tensors a failed product multiplied: a @ b's, or an einsum's last two
    (torch.einsum("…", weights, past_k), or with the tensors in one list)."""
    if name in PRODUCTS:
        return tuple(args[:2])
    if name == "einsum":
        tensors = args[1:]
        if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
            tensors = tuple(tensors[0])
        return tuple(tensors[-2:])
    return ()


def multiplies_the_keys(fn: Callable, case: tuple) -> bool:
    """``fn``'s step on a fresh copy of ``case`` raises at a product (or einsum) whose second
    operand is k_new or past_k, (B, h, 1 or t, d_head)."""
    _, k_new, _, past_k, _ = case
    try:
        with torch.random.fork_rng(devices=[]), time_limit(LIMIT_S), FailedProduct() as seen:
            fn(*fresh(case))
    except (*LEARNER_ERRORS, TookTooLong):
        pass
    else:
        return False
    if len(seen.operands) != 2:
        return False
    return any(_holds(seen.operands[1], keys) for keys in (k_new, past_k) if keys is not None)


def _holds(operand: object, keys: torch.Tensor) -> bool:
    """``operand`` is ``keys``, reshaped or not: torch.bmm takes them as (B·h, t, d_head)."""
    if not isinstance(operand, torch.Tensor) or operand.numel() != keys.numel():
        return False
    return same(operand.reshape(-1), keys.reshape(-1), 0.0)


def keys_named(result: Result, fn: Callable, case: tuple) -> Result:
    """``result``, or where it names v_new or the cached values gathered alone (by the error's
    text, on ``case``, the first) and the product that failed took the keys, this mistake."""
    for hint in (NEW_VALUE_ONLY_HINT, CACHE_ONLY_HINT):
        if result.message.startswith(hint) and multiplies_the_keys(fn, case):
            return Result(WRONG, KEYS_GATHERED_HINT + result.message.removeprefix(hint))
    return result


def _learner_gathers_the_new_key(q, k_new, v_new, past_k, past_v):
    keys, values = grown(past_k, k_new), grown(past_v, v_new)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1)
    return weights @ k_new, keys, values  # "the new token's own vector"


# Named by ``keys_named`` in the checker, not by the harness: no compute, recognise nor error.
KEYS_GATHERED = Mistake(
    name="weights @ k_new",
    hint=KEYS_GATHERED_HINT,
    compute=None,
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
