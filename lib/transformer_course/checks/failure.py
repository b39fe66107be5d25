"""Where a learner's function failed: the torch function that raised and what it took.

An error's text often fits several mistakes: any broadcast of mismatched shapes says "must match
the size of tensor", whether a mask lost an axis or a sum did. A ``Mistake`` with ``failed_at``
is named only where the learner's call, run once more on the same case, failed as its predicate
says (``harness._known_error``). ``rerun`` records that call with a ``TorchFunctionMode``:

- the name of the torch function that raised the error that escaped ("matmul", "__truediv__",
  "scatter", "T" for the property ``k.T``; not one whose error the learner's code caught), its
  positional arguments, tensor operands (those inside a list too, as torch.cat's) and keyword
  arguments;
- the tensors that reductions over one axis without keepdim returned before it (a sum, mean,
  max, min, amax, amin, var, std, logsumexp or norm of a >=2-D tensor that came back one axis
  short: ``x.sum(-1)``, ``x.max(dim=-1).values``), the usual cause of a broadcast error, and
  what was computed from them in their shape (``torch.sqrt(var + eps)``) or reshaped without
  the axis put back where keepdim puts it (``x.mean(-1)[..., None, :]``).

The predicates (``took``, ``lost_an_axis``, ``failed_in``, ``along``) read a ``Failure``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.overrides import TorchFunctionMode

from .call_sites import call_site, with_keepdim
from .cases import fresh
from .quietly import quietly
from .time_limit import LIMIT_S, TookTooLong, time_limit

REDUCTIONS = frozenset(
    ("sum", "mean", "max", "min", "amax", "amin", "var", "std", "logsumexp", "norm", "nansum", "nanmean")
)


@dataclass
class Failure:
    """The torch function that raised the error that escaped a learner's call (None: none did,
    the error came from Python itself), what it was given, and the axis-losing reductions made
    before it."""

    name: str | None = None
    args: tuple = ()  # its positional arguments, tensors or not (a dim, an index)
    operands: tuple[torch.Tensor, ...] = ()  # its tensor arguments, in order
    kwargs: dict = field(default_factory=dict)
    reduced: list[torch.Tensor] = field(default_factory=list)  # one axis short, keepdim off
    reduced_by: list[str] = field(default_factory=list)  # the reduction that made each ("sum")
    keepdim_shapes: list[set[torch.Size]] = field(default_factory=list)  # each: keepdim's shape(s)
    reduced_at: list[object] = field(default_factory=list)  # each: its reduction's call site (call_sites)
    reduced_dims: list[object] = field(default_factory=list)  # each: the dim it was given (-1), or None


@dataclass
class Outcome:
    """A recorded call: what it returned, or the ``Failure`` of the error that escaped it."""

    value: object = None
    failure: Failure | None = None


def torch_name(func) -> str:
    """What the learner wrote: "sum" for x.sum and torch.sum, "T" for the property x.T."""
    name = getattr(func, "__name__", "")
    if name == "__get__":  # a property (x.T, x.mT): its descriptor carries the name
        return getattr(getattr(func, "__self__", None), "__name__", name)
    return name


def _tensors(args: tuple, kwargs: dict) -> tuple[torch.Tensor, ...]:
    """Every tensor among the arguments, those in a list or tuple (torch.cat([a, b])) too."""
    found = []
    for arg in (*args, *kwargs.values()):
        items = arg if isinstance(arg, list | tuple) else (arg,)
        found.extend(a for a in items if isinstance(a, torch.Tensor))
    return tuple(found)


def _leading(args: tuple, kwargs: dict) -> tuple:
    """The positional arguments, the tensor first: torch.sum(input=e, dim=-1) as (e,)."""
    if not args and isinstance(kwargs.get("input"), torch.Tensor):
        return (kwargs["input"],)
    return args


def _one_axis_short(name: str, args: tuple, out: object) -> torch.Tensor | None:
    """The tensor a reduction returned, where it lost one axis of a >=2-D input (keepdim off):
    x.sum(-1) on (B, L, L) is (B, L); x.max(dim=-1) gives (values, indices), values kept."""
    if name not in REDUCTIONS or not args or not isinstance(args[0], torch.Tensor):
        return None
    first = out[0] if isinstance(out, tuple) and out else out  # max's and min's values
    if not isinstance(first, torch.Tensor) or args[0].dim() < 2:
        return None
    return first if first.dim() == args[0].dim() - 1 else None


def _dim(name: str, args: tuple, kwargs: dict) -> object:
    """The dim a reduction was given, by keyword or as its first argument after the tensor
    (norm's second: x.norm(2, -1))."""
    after = 2 if name == "norm" else 1
    return kwargs.get("dim", kwargs.get("axis", args[after] if len(args) > after else None))


def _axis_restored(given: torch.Size, short: torch.Size, dim: object = None) -> set[torch.Size]:
    """The shapes keepdim would have given: ``given`` with a 1 where an axis was lost to make
    ``short``, (B, L, 1) for a sum of (B, L, V) over dim=-1 (where the dim is not an int, every
    place that fits: (1, L) and (L, 1) for a square matrix)."""
    if isinstance(dim, tuple | list) and len(dim) == 1:  # dim=(-1,), dim=[-1]
        dim = dim[0]
    if isinstance(dim, numbers.Integral) and not isinstance(dim, bool) and -len(given) <= dim < len(given):
        dim = int(dim)  # np.int64(-1) too
        return {torch.Size((*given[: dim % len(given)], 1, *given[dim % len(given) + 1 :]))}
    return {
        torch.Size((*given[:i], 1, *given[i + 1 :]))
        for i in range(len(given))
        if tuple(given[:i]) + tuple(given[i + 1 :]) == tuple(short)
    }


class _Recorder(TorchFunctionMode):
    """While on, records every torch function that raises (the error with its ``Failure``) and
    the axis-losing reductions made so far; ``failure_of`` picks the one that escaped. The
    reductions called at the sites in ``keep`` (``call_sites.call_site``) keep their axis."""

    def __init__(self, keep: frozenset = frozenset()) -> None:
        super().__init__()
        self.failure = Failure()  # the reductions recorded so far (``reduced``, ``reduced_by``)
        self.raises: list[tuple[BaseException, Failure]] = []
        self.keep = keep
        self.index: dict[int, int] = {}  # id of a recorded tensor → its place in failure.reduced

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = torch_name(func)
        at = call_site() if name in REDUCTIONS else None
        if at is not None and at in self.keep:
            args, kwargs = with_keepdim(name, tuple(args), kwargs)
        try:
            out = func(*args, **kwargs)
        except Exception as err:
            # The innermost function that raised it (the same error passes through its callers);
            # the learner may catch it and go on, so every error is kept with its own record.
            if not any(seen is err for seen, _ in self.raises):
                was, operands = self.failure, _tensors(args, kwargs)
                self.raises.append((err, _so_far(was, Failure(name, tuple(args), operands, dict(kwargs)))))
            raise
        self._record(name, tuple(args), kwargs, out, at)
        return out

    def failure_of(self, escaped: BaseException) -> Failure:
        """The record of the error that escaped the learner's call, or of the torch error it was
        raised from or while handling (``raise ValueError(…) from err``); a Python error that no
        torch function raised: no function, the reductions made before it."""
        chain: list[BaseException] = []
        error: BaseException | None = escaped
        while error is not None and not any(error is e for e in chain):
            chain.append(error)
            error = error.__cause__ or error.__context__
        for error in chain:
            for seen, failure in self.raises:
                if seen is error:
                    return failure
        return _so_far(self.failure, Failure())

    def _record(self, name: str, args: tuple, kwargs: dict, out: object, at: object) -> None:
        """Keeps ``out`` where a reduction lost an axis to make it, or where it carries on such a
        result without the axis put back where keepdim puts it: sqrt(var + eps), same shape;
        x.mean(-1)[..., None, :], (B, 1, L) where keepdim gives (B, L, 1)."""
        lead = _leading(args, kwargs)
        short = _one_axis_short(name, lead, out)
        if short is not None:
            dim = _dim(name, lead, kwargs)
            self._keep(short, i=None, made=(name, _axis_restored(lead[0].shape, short.shape, dim), at, dim))
            return
        if not isinstance(out, torch.Tensor) or not self.failure.reduced:
            return
        for op in _tensors(args, kwargs):
            i = self.index.get(id(op))
            if i is None or op is not self.failure.reduced[i]:
                continue
            restored = self.failure.keepdim_shapes[i]
            if out.shape == op.shape or (out.numel() == op.numel() and out.shape not in restored):
                self._keep(out, i=i)
                return

    def _keep(self, tensor: torch.Tensor, i: int | None, made: tuple = ()) -> None:
        """Records ``tensor`` as one axis short: carried on from reduced tensor ``i``, or ``made``
        by a reduction (its name, keepdim's shapes, its call number, its dim)."""
        was = self.failure
        if i is not None:
            made = (was.reduced_by[i], was.keepdim_shapes[i], was.reduced_at[i], was.reduced_dims[i])
        by, restored, at, dim = made
        self.index[id(tensor)] = len(was.reduced)  # kept alive by was.reduced: the id stays its own
        was.reduced.append(tensor)
        was.reduced_by.append(by)
        was.keepdim_shapes.append(restored)
        was.reduced_at.append(at)
        was.reduced_dims.append(dim)


def _so_far(was: Failure, into: Failure) -> Failure:
    """``into`` with copies of the reductions ``was`` recorded (those made before it raised)."""
    into.reduced, into.reduced_by = list(was.reduced), list(was.reduced_by)
    into.keepdim_shapes, into.reduced_at, into.reduced_dims = (
        list(was.keepdim_shapes),
        list(was.reduced_at),
        list(was.reduced_dims),
    )
    return into


def run(fn: Callable, case: tuple, seed: int | None = None, keep: frozenset = frozenset()) -> Outcome | None:
    """``fn`` on a fresh copy of ``case``, recorded, under a forked random state (seeded with
    ``seed``, as the check's call was) and the time limit, the reductions called at the sites in
    ``keep`` made with keepdim=True, its prints not shown: what it returned, or the ``Failure``
    of what escaped it; None where it ran out of time (where it would have failed is unknown)."""
    recorder = _Recorder(keep)
    try:
        with torch.random.fork_rng(devices=[]), time_limit(LIMIT_S):
            if seed is not None:
                torch.default_generator.manual_seed(seed)
            with recorder, quietly():  # its prints were shown once
                value = fn(*fresh(case))
    except TookTooLong:
        return None
    except (Exception, SystemExit) as escaped:
        return Outcome(failure=recorder.failure_of(escaped))
    return Outcome(value=value)


def rerun(fn: Callable, case: tuple, seed: int | None = None) -> Failure | None:
    """``run``'s ``Failure``: None where the call returned (it failed at random) or ran out of time."""
    outcome = run(fn, case, seed)
    return None if outcome is None else outcome.failure


def failed_in(failure: Failure, *names: str) -> bool:
    """The function that raised is one of ``names`` ("matmul", "bmm", "scatter", …)."""
    return failure.name in names


def lost_an_axis(failure: Failure, *by: str, kept_as: torch.Size | None = None) -> bool:
    """An operand of the function that raised IS (the same object) what a reduction without
    keepdim returned, or carried on from it: e / e.sum(-1), s - s.max(-1).values; made by one
    of ``by`` ("sum", "nansum"), where given, and one keepdim would have made ``kept_as``, where
    given ((B, L, 1): a row's reduction, not a count of the tokens, (B,))."""
    found = zip(failure.reduced, failure.reduced_by, failure.keepdim_shapes, strict=True)
    made = [r for r, name, kept in found if (not by or name in by) and (kept_as is None or kept_as in kept)]
    return any(op is short for op in failure.operands for short in made)


def reduced_away(failure: Failure, case: tuple) -> bool:
    """``lost_an_axis`` by any reduction, as a ``failed_at``: the keepdim slips of every exercise."""
    return lost_an_axis(failure)


def holds(operand: object, tensor: torch.Tensor) -> bool:
    """``operand`` has ``tensor``'s numbers, in any layout (as it is, transposed, reshaped,
    permuted: compared sorted), as the fresh copy of a case's tensor has them."""
    if not isinstance(operand, torch.Tensor) or not isinstance(tensor, torch.Tensor):
        return False
    if operand.numel() != tensor.numel() or operand.is_complex() or tensor.is_complex():
        return False
    mine = operand.detach().double().flatten().sort().values
    theirs = tensor.detach().double().flatten().sort().values
    return bool(torch.allclose(mine, theirs, rtol=1e-6, atol=1e-7))


def took(failure: Failure, tensor: torch.Tensor) -> bool:
    """An operand of the function that raised holds ``tensor``'s numbers (``holds``)."""
    return any(holds(op, tensor) for op in failure.operands)


def along(failure: Failure, *dims: int) -> bool:
    """The function that raised was given one of ``dims`` as its dim, by keyword or as its first
    argument after the tensor (x.scatter(0, …), x.gather(0, …), torch.softmax(x, 2))."""
    dim = failure.kwargs.get("dim", failure.args[1] if len(failure.args) > 1 else None)
    return isinstance(dim, int) and not isinstance(dim, bool) and dim in dims
