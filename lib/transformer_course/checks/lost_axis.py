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

import numbers
import re
from collections import Counter
from collections.abc import Callable

from .call_sites import source_of
from .failure import Failure, lost_an_axis

# What torch says when the shapes of an elementwise op (/, -, masked_fill, where) or an expand do
# not broadcast: the errors keepdim's 1 mends.
BROADCAST = r"must match the size of tensor|must match the existing size|doesn't match the broadcast shape"
MOST = 3  # reductions kept at most: a hand-written layer norm has two (mean, var), softmax one or two
RUNS = 4  # runs of the learner's call with keepdim, at most, per verdict

_OPS = {
    "div": "the division (/)",
    "true_divide": "the division (/)",
    "truediv": "the division (/)",
    "sub": "the subtraction (-)",
    "rsub": "the subtraction (-)",
    "add": "the addition (+)",
    "mul": "the multiplication (*)",
}


def lost_axis_hint(
    err: BaseException,
    failing: Callable[[], Failure | None],
    fixed: Callable[[frozenset], bool | Failure | None],
) -> str | None:
    """The hint for a broadcast error raised where an operand had lost a reduction's axis, where
    keeping it makes the learner's call right, else None. ``failing()``: the check's one re-run
    (None: it returned or ran out of time); ``fixed(keep)``: the call run with keepdim=True on
    the reductions called at the sites in ``keep`` — True if it then gives the reference's
    answer, the Failure where it raised, else False or None."""
    if not re.search(BROADCAST, f"{type(err).__name__}: {err}"):
        return None
    first = failing()
    if first is None or not lost_an_axis(first):
        return None
    runs = [RUNS]  # what is left of the budget, shared by every branch
    kept = _search(first, {}, fixed, runs)
    return None if kept is None else _said(first, kept)


def _search(failure: Failure, kept: dict, fixed: Callable, runs: list[int]) -> dict | None:
    """The sites (→ how each reduction was written) whose keepdim makes the answer right: each
    operand of the failing op that lost an axis in turn, the one made last first (the sum under
    a fraction, before the dot product its numerator came from); where keeping it fails at
    another lost axis, that one is kept too, up to ``MOST`` sites and ``RUNS`` runs."""
    for i in _lost_operands(failure):
        at = failure.reduced_at[i]
        if at is None or at in kept or runs[0] <= 0:
            continue
        runs[0] -= 1
        trial = {**kept, at: _named(at, _written(failure.reduced_by[i], failure.reduced_dims[i]))}
        outcome = fixed(frozenset(trial))
        if outcome is True:
            return trial
        if isinstance(outcome, Failure) and len(trial) < MOST and lost_an_axis(outcome):
            found = _search(outcome, trial, fixed, runs)
            if found is not None:
                return found
    return None


def _lost_operands(failure: Failure) -> list[int]:
    """The places in ``failure.reduced`` of the failing op's operands that lost an axis, the
    last made first."""
    found = {i for op in failure.operands for i, r in enumerate(failure.reduced) if op is r}
    return sorted(found, reverse=True)


def _written(by: str, dim: object) -> str:
    """The reduction as the hint writes it: ".sum(dim=-1)", ".max(dim=1)", ".sum(dim=(-1,))",
    ".mean(…)" where the dim is not a plain number (a tensor, np.int64 read as its int)."""
    if isinstance(dim, tuple | list) and all(isinstance(d, numbers.Integral) for d in dim):
        return f".{by}(dim={tuple(int(d) for d in dim)})"
    if isinstance(dim, numbers.Integral) and not isinstance(dim, bool):
        return f".{by}(dim={int(dim)})"
    return f".{by}(…)"


def _keep(written: str) -> str:
    """The same reduction with keepdim: ".sum(dim=-1, keepdim=True)", ".mean(…, keepdim=True)"."""
    return f"{written[:-1]}, keepdim=True)"


def _op(name: str | None) -> str:
    """What the learner wrote, in words: "__truediv__", "div_" and "__itruediv__" are the division
    (/), "masked_fill" is masked_fill(…)."""
    if name is None:
        return "the next operation"
    bare = name.strip("_")
    for plain in (bare, bare[1:]):  # __rsub__'s r, __isub__'s i
        if plain in _OPS:
            return _OPS[plain]
    return f"{name}(…)"


def _named(site: tuple | None, written: str) -> tuple[str, str]:
    """(how the hint names the reduction, how it writes the fix): the learner's own call and its
    line where the source is known ("`e.sum(-1)` on line 4"; a partial's "`rs(e)`"), else
    ".sum(dim=-1)"; the fix, ".sum(dim=-1, keepdim=True)"."""
    quoted = source_of(site)
    name = f"`{quoted}` on line {site[2]}" if quoted else written
    return name, _keep(written)


def _times(name: str, count: int) -> str:
    return name if count == 1 else f"{name} (both of them)" if count == 2 else f"{name} (all {count})"


def _said(first: Failure, kept: dict) -> str:
    """What happened at the first failure, and the reductions that, kept, make the answer right
    (``kept``: site → (its name, its fix), the one the first failure met first)."""
    site = next(iter(kept))
    i = next(i for i in _lost_operands(first) if first.reduced_at[i] == site)
    short = first.reduced[i]
    met = max((op for op in first.operands if op is not short), key=lambda t: t.dim(), default=None)
    beside = f", next to {tuple(met.shape)}," if met is not None else ""
    shapes = " or ".join(str(tuple(s)) for s in sorted(first.keepdim_shapes[i], key=tuple))
    # Two sites of one text: one call written twice on a line, "(both of them)".
    counts = Counter(kept.values())
    named = [(_times(n, counts[(n, f)]), f) for n, f in dict.fromkeys(kept.values())]
    also = "" if len(named) == 1 else f" ({', then '.join(n for n, _ in named[1:])} needs it too)"
    fixes = " and ".join(dict.fromkeys(fix for _, fix in named))
    return (
        f"Your {named[0][0]} has no keepdim=True, so the axis it reduced is gone: {_op(first.name)} "
        f"got shape {tuple(short.shape)} from it{beside} and the shapes do not line up{also}. With "
        f"keepdim=True the axis stays, as a 1: {shapes}. Your function then gives the right answer on "
        f"this input, so keep the axis there: {fixes}."
    )
