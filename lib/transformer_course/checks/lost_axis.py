"""The harness's last word on a shape error no catalogued mistake named: a reduction that lost
its axis, named only where keeping it makes the learner's function right.

A hand-written softmax or layer norm whose sum, max or mean has no keepdim=True fails at the
next broadcast in every exercise, most of which catalogue no such slip. But a reduction without
keepdim is often right (a dot product's sum, a loss's per-token terms) and the broadcast wrong for
another reason (a pick of the wrong shape, a mask with an extra axis), or the reduction ran over
the wrong axis. So where nothing else named the error, its text is a broadcast error and the
learner's call, re-run once (``failure.rerun``), failed at an operation one of whose operands IS
what a reduction without keepdim returned (``failure.lost_an_axis``), the call is run again with
keepdim=True on that reduction (``failure.run``): named only if it then gives the reference's
answer. If it raises again at another reduction that lost its axis (layer norm's mean, then its
var), that one keeps its axis too, up to ``MOST`` reductions.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .failure import Failure, lost_an_axis

# What torch says when the shapes of an elementwise op (/, -, masked_fill, where) or an expand do
# not broadcast: the errors keepdim's 1 mends.
BROADCAST = r"must match the size of tensor|must match the existing size|doesn't match the broadcast shape"
MOST = 3  # reductions kept at most: a hand-written layer norm has two (mean, var), softmax one or two

_OPS = {
    "div": "the division (/)",
    "true_divide": "the division (/)",
    "truediv": "the division (/)",
    "sub": "the subtraction (-)",
    "rsub": "the subtraction (-)",
    "add": "the addition (+)",
    "mul": "the multiplication (*)",
}
_PICKS = ("max", "min")  # these return (values, indices): keepdim goes with .values


def lost_axis_hint(
    err: BaseException,
    failing: Callable[[], Failure | None],
    fixed: Callable[[frozenset[int]], bool | Failure | None],
) -> str | None:
    """The hint for a broadcast error raised where an operand had lost a reduction's axis, where
    keeping it makes the learner's call right, else None. ``failing()``: the check's one re-run
    (None: it returned or ran out of time); ``fixed(keep)``: the call run with keepdim=True on the
    reductions numbered in ``keep`` — True if it then gives the reference's answer, the Failure
    where it raised, else False or None."""
    if not re.search(BROADCAST, f"{type(err).__name__}: {err}"):
        return None
    first = failing()
    if first is None or not lost_an_axis(first):
        return None
    kept: dict[int, str] = {}  # call number → how the learner wrote it, ".sum(dim=-1)"
    failure: Failure = first
    for _ in range(MOST):
        i = _reduced_operand(failure)
        if failure.reduced_at[i] in kept:  # kept already, and it failed there again
            return None
        kept[failure.reduced_at[i]] = _written(failure.reduced_by[i], failure.reduced_dims[i])
        outcome = fixed(frozenset(kept))
        if outcome is True:
            return _said(first, list(kept.values()))
        if not isinstance(outcome, Failure) or not lost_an_axis(outcome):
            return None
        failure = outcome
    return None


def _reduced_operand(failure: Failure) -> int:
    """The index in ``failure.reduced`` of the first operand of the failing op that a reduction
    without keepdim made (or carried on from one)."""
    for op in failure.operands:
        for i, reduced in enumerate(failure.reduced):
            if op is reduced:
                return i
    raise ValueError("failure must have an operand that lost an axis (lost_an_axis)")


def _written(by: str, dim: object) -> str:
    """The reduction as the hint writes it: ".sum(dim=-1)", ".max(dim=1)", ".mean(…)"."""
    return f".{by}(dim={dim})" if isinstance(dim, int) and not isinstance(dim, bool) else f".{by}(…)"


def _keep(written: str) -> str:
    """The same reduction with keepdim: ".sum(dim=-1, keepdim=True)", ".max(…).values" kept."""
    by = written[1 : written.index("(")]
    inside = written[written.index("(") + 1 : -1]
    args = "keepdim=True" if inside == "…" else f"{inside}, keepdim=True"
    return f".{by}({args})" + (".values" if by in _PICKS else "")


def _op(name: str | None) -> str:
    """What the learner wrote, in words: "div" is the division (/), "masked_fill" masked_fill(…)."""
    if name is None:
        return "the next operation"
    return _OPS.get(name.strip("_").removeprefix("r") if name.startswith("__") else name, f"{name}(…)")


def _said(first: Failure, kept: list[str]) -> str:
    """What happened at the first failure, and the reductions that, kept, make the answer right."""
    i = _reduced_operand(first)
    short = tuple(first.reduced[i].shape)
    others = [op for op in first.operands if not any(op is r for r in first.reduced)]
    met = max(others, key=lambda t: t.dim(), default=None)
    beside = f", next to {tuple(met.shape)}," if met is not None else ""
    shapes = " or ".join(str(tuple(s)) for s in sorted(first.keepdim_shapes[i], key=tuple))
    also = "" if len(kept) == 1 else f" ({', then '.join(kept[1:])} needs it too)"
    return (
        f"Your {kept[0]} has no keepdim=True, so the axis it reduced is gone: {_op(first.name)} got "
        f"shape {short} from it{beside} and the shapes do not line up{also}. With keepdim=True the "
        f"axis stays, as a 1: {shapes}. Your function then gives the right answer on this input, so "
        f"reduce with {' and '.join(_keep(k) for k in kept)}."
    )
