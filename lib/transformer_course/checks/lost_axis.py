"""The harness's last word on a shape error no catalogued mistake named: a reduction that lost
its axis.

A hand-written softmax or layer norm whose sum, max or mean has no keepdim=True fails at the
next broadcast in every exercise, most of which catalogue no such slip. Where nothing else named
the error, its text is a shape error and the learner's call, re-run once (``failure.rerun``),
failed at a broadcast one of whose operands IS what that reduction returned
(``failure.lost_an_axis``) and the shape keepdim would have given fits the others, the verdict
names the reduction, the shape it gave, the shape it met and keepdim's. An axis put back where
keepdim puts it (``[..., None]``, ``.unsqueeze(-1)``) is not recorded as lost, so a right
answer is never named.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

from .failure import Failure, lost_an_axis

# What torch says when the shapes of an elementwise op (/, -, masked_fill, where) or an expand do
# not broadcast: the errors keepdim's 1 mends. A matrix product or a concatenation given a reduced
# operand is not named: its axis may have been meant to go (a pooled vector), and keepdim's 1 would
# not make it fit.
BROADCAST = r"must match the size of tensor|must match the existing size|doesn't match the broadcast shape"

_OPS = {
    "div": "the division (/)",
    "true_divide": "the division (/)",
    "truediv": "the division (/)",
    "sub": "the subtraction (-)",
    "rsub": "the subtraction (-)",
    "add": "the addition (+)",
    "mul": "the multiplication (*)",
    "matmul": "the matrix product (@)",
    "mm": "the matrix product (@)",
    "bmm": "the matrix product (@)",
}
_PICKS = ("max", "min")  # these return (values, indices): keepdim goes with .values


def lost_axis_hint(err: BaseException, failing: Callable[[], Failure | None]) -> str | None:
    """The hint for a shape error raised where an operand had lost a reduction's axis, else None.
    ``failing()`` is the check's one re-run (None: the re-run returned or timed out)."""
    text = f"{type(err).__name__}: {err}"
    if not re.search(BROADCAST, text):
        return None
    failure = failing()
    if failure is None or not lost_an_axis(failure):
        return None
    short, by, kept = _reduced_operand(failure)
    others = [op for op in failure.operands if not any(op is r for r in failure.reduced)]
    # keepdim's shape must fit inside what the other operands broadcast to: otherwise the
    # reduction may be right and another operand wrong ((B, L) next to a pick of shape (B,)).
    lined_up = sorted((s for s in kept if others and _fits(s, [o.shape for o in others])), key=tuple)
    if not lined_up:
        return None
    met = max(others, key=lambda t: t.dim())
    keep = f".{by}(dim=…, keepdim=True)" + (".values" if by in _PICKS else "")
    moved = short.dim() == len(lined_up[0])  # the axis put back by hand, at another place
    return f"{_said(by, short.shape, met, _op(failure.name))} {_fix(lined_up, keep, moved)}"


def _reduced_operand(failure: Failure) -> tuple[torch.Tensor, str, set[torch.Size]]:
    """The first operand of the failing op that a reduction without keepdim made, which
    reduction, and the shape(s) keepdim would have given it."""
    for op in failure.operands:
        for i, reduced in enumerate(failure.reduced):
            if op is reduced:
                return op, failure.reduced_by[i], failure.keepdim_shapes[i]
    raise ValueError("failure must have an operand that lost an axis (lost_an_axis)")


def _fits(shape: torch.Size, others: list[torch.Size]) -> bool:
    """``shape`` broadcasts with ``others`` and adds no size to theirs: (B, L, 1) fits (B, L, V)."""
    try:
        return torch.broadcast_shapes(shape, *others) == torch.broadcast_shapes(*others)
    except RuntimeError:
        return False


def _op(name: str | None) -> str:
    """What the learner wrote, in words: "div" is the division (/), "masked_fill" masked_fill(…)."""
    if name is None:
        return "the next operation"
    return _OPS.get(name.strip("_").removeprefix("r") if name.startswith("__") else name, f"{name}(…)")


def _shape(size: torch.Size) -> str:
    """(2, 5) for a shape, (5,) for one axis, as the hints write shapes."""
    return str(tuple(size))


def _said(by: str, short: torch.Size, met: torch.Tensor, op: str) -> str:
    """What happened: the reduction, the shape the failing op got from it and what it met."""
    return (
        f"Your .{by}(…) has no keepdim=True, so the axis it reduced is gone: {op} got shape "
        f"{_shape(short)} from it, next to {_shape(met.shape)}, and the shapes do not line up."
    )


def _fix(lined_up: list[torch.Size], keep: str, moved: bool) -> str:
    """keepdim's fix, with the shape(s) it gives that line up."""
    shapes = " or ".join(_shape(s) for s in lined_up)
    if moved:  # put back by hand, at another place than keepdim's
        return (
            f"Reduce with {keep}: the axis stays, as a 1, where it was, {shapes} (an axis put back by "
            "hand, [..., None] or .unsqueeze(), must go at that same place)."
        )
    if len(lined_up) == 1:
        return f"To line up it needs a 1 where the axis was, {shapes}: reduce with {keep}."
    # A square matrix: which one depends on the axis reduced, not read here
    return (
        f"To line up it needs a 1 where the axis was: {shapes}, by the axis you reduced. Reduce with {keep}."
    )
