"""Round 47b: "sum without keepdim" in ``nucleus``, named only where it is that mistake.

It was named by the error's text, "must match the size of tensor b", which any broadcast error
matches (a per-row threshold that lost its axis, (B,) against (B, V), as well). ``keepdim_named``
names it where the learner's function, run again on the same input, failed at an operation one
of whose operands IS what a sum over the last axis without keepdim returned (the same tensor
object, recorded while it ran). Any other error keeps the verdict the harness gives.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from torch.overrides import TorchFunctionMode

from . import nucleus_learners as learner
from .cases import fresh
from .harness import ERROR, LEARNER_ERRORS, WRONG, Mistake, Result
from .time_limit import LIMIT_S, TookTooLong, time_limit

KEEPDIM_HINT = (
    "Your sum lost its last axis: kept.sum(dim=-1) has shape (B,), which lines up with "
    "the tokens, not with the rows. Keep it, kept.sum(dim=-1, keepdim=True), shape (B, 1)."
)


def _over_the_last_axis(tensor: torch.Tensor, args: tuple, kwargs: dict) -> bool:
    """A sum's arguments (after the tensor) name the last axis alone, keepdim off:
    x.sum(-1), torch.sum(x, dim=1) on 2-D, x.sum([-1])."""
    dim = kwargs.get("dim", args[0] if args else None)
    keepdim = kwargs.get("keepdim", args[1] if len(args) > 1 else False)
    if isinstance(dim, list | tuple) and len(dim) == 1:
        dim = dim[0]
    return isinstance(dim, int) and dim in (-1, tensor.dim() - 1) and tensor.dim() > 1 and not keepdim


class _SumsWithoutKeepdim(TorchFunctionMode):
    """While on, keeps what every sum over the last axis without keepdim returned, and whether
    the first operation that raised took one of them."""

    def __init__(self) -> None:
        super().__init__()
        self.sums: list[torch.Tensor] = []
        self.failed_on_a_sum: bool | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            out = func(*args, **kwargs)
        except RuntimeError:
            if self.failed_on_a_sum is None:
                self.failed_on_a_sum = any(a is s for a in args for s in self.sums)
            raise
        name = getattr(func, "__name__", "")
        if name == "sum" and args and isinstance(args[0], torch.Tensor):
            if _over_the_last_axis(args[0], tuple(args[1:]), kwargs):
                self.sums.append(out)
        return out


def sums_without_keepdim(fn: Callable, case: tuple) -> bool:
    """``fn`` on a fresh copy of ``case`` raises at an operation that took a sum over the last
    axis made without keepdim."""
    seen = _SumsWithoutKeepdim()
    try:
        with torch.random.fork_rng(devices=[]), time_limit(LIMIT_S), seen:
            fn(*fresh(case))
    except (*LEARNER_ERRORS, TookTooLong):
        return bool(seen.failed_on_a_sum)
    return False


def keepdim_named(result: Result, fn: Callable, cases: list[tuple]) -> Result:
    """``result``, or where the function raised (and no mistake was named) at an operation on a
    keepdim-less sum, on the input the message gives, this mistake named before it."""
    raised = re.search(r"^\w+ raised \w+ on input #(\d+):", result.message)
    if result.status != ERROR or raised is None or int(raised.group(1)) > len(cases):
        return result
    if not sums_without_keepdim(fn, cases[int(raised.group(1)) - 1]):
        return result
    return Result(WRONG, f"{KEEPDIM_HINT} ({result.message})")


# Named by ``keepdim_named`` in the checker, not by the harness: no compute, recognise nor error.
SUM_WITHOUT_KEEPDIM = Mistake(
    name="sum without keepdim",
    hint=KEEPDIM_HINT,
    compute=None,
    example=learner.sums_without_keepdim,
)
