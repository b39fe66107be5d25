"""The harness every exercise uses: run a learner's function, compare it with the reference,
name the mistake.

- ``check_function`` calls the learner's function and the reference on fresh copies of each
  test case, under a forked random state: the learner cannot spoil the inputs of the next
  call, and a check never moves the caller's global RNG.
- A wrong answer is compared with each known ``Mistake``; the first that matches gives its
  hint, otherwise the message says where the answer differs and by how much.
- ``Exercise`` is the uniform record of one exercise (its checker, a worked solution, a
  starter, correct alternatives, and the catalogue of mistakes with a learner-style
  example of each) that the contract test in ``tests/test_exercises.py`` runs.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

PASSED, NOT_ATTEMPTED, WRONG, ERROR = "passed", "not attempted", "wrong", "error"
RTOL = 1e-4  # relative tolerance of every comparison; the absolute one (atol) is per exercise


@dataclass(frozen=True)
class Result:
    status: str  # one of PASSED, NOT_ATTEMPTED, WRONG, ERROR
    message: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        return f"[{self.status}] {self.message}"

    def _repr_html_(self) -> str:
        colour = {PASSED: "#15803d", NOT_ATTEMPTED: "#6b7280"}.get(self.status, "#b91c1c")
        icon = {PASSED: "✔", NOT_ATTEMPTED: "…"}.get(self.status, "✘")
        return (
            f'<div class="tc-check" style="border-left:4px solid {colour};padding:6px 10px;'
            f'color:{colour}"><b>{icon} {self.status}</b>: {html.escape(self.message)}</div>'
        )


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer and the hint that names it.

    compute: what the mistaken code computes, on the checker's inputs; the checker recognises
    the mistake when the learner's output equals it. None when the checker names the mistake
    by its own logic instead (a failure on batches only, a result of the wrong kind).
    example: the same mistake written the way a learner writes it, for the contract test;
    kept apart from ``compute`` so that the test does not pass by construction.
    name: a few words for test ids and tables.
    """

    hint: str
    compute: Callable[..., object] | None
    example: Callable[..., object] | None = None
    name: str = ""


@dataclass(frozen=True)
class Exercise:
    """One "your turn" exercise, described uniformly for the contract test and the docs.

    name: the function the learner writes; its checker is ``checks.check_<name>``.
    solution: a correct worked solution, written as a learner would.
    starter: the untouched exercise cell's function (raises NotImplementedError).
    alternatives: other correct answers that must pass (a loop, einsum, float64, lib's own…).
    mistakes: the checker's catalogue, each with a learner-style ``example``.
    """

    name: str
    chapter: str
    check: Callable[[Callable], Result]
    solution: Callable
    starter: Callable
    alternatives: Mapping[str, Callable] = field(default_factory=dict)
    mistakes: Sequence[Mistake] = ()


def check_function(
    learner_fn: Callable,
    reference_fn: Callable,
    cases: Sequence[tuple],
    *,
    name: str,
    mistakes: Sequence[Mistake] = (),
    atol: float = 1e-5,
) -> Result:
    """Call ``learner_fn(*case)`` for every case and compare with ``reference_fn(*case)``.

    Every call gets its own deep copy of the case (tensors and modules alike), so a function
    that changes its arguments in place cannot spoil the comparison; the global random state
    is restored afterwards, so a check never changes what the caller draws next.
    """
    if not callable(learner_fn):
        raise ValueError(f"learner_fn must be a function, got {type(learner_fn).__name__}")
    with torch.random.fork_rng(devices=[]):
        for number, case in enumerate(cases, start=1):
            failure = _check_case(learner_fn, reference_fn, case, number, name, mistakes, atol)
            if failure is not None:
                return failure
    return Result(PASSED, f"{name} matches the reference on all {len(cases)} inputs.")


def _check_case(learner_fn, reference_fn, case, number, name, mistakes, atol) -> Result | None:
    """None when the learner matches the reference on this case, else what went wrong."""
    try:
        got = learner_fn(*fresh(case))
    except NotImplementedError:
        return Result(
            NOT_ATTEMPTED,
            f"{name} is not attempted yet: replace "
            "`raise NotImplementedError` with your code and run the cell again.",
        )
    except Exception as err:
        return Result(ERROR, f"{name} raised {type(err).__name__} on input #{number}: {err}")
    want = reference_fn(*fresh(case))
    if same(got, want, atol):
        return None
    hint = _known_mistake(got, case, mistakes, atol)
    if hint is not None:
        return Result(WRONG, hint)
    return Result(
        WRONG,
        f"{name} differs from the reference on input #{number}: {describe_difference(got, want, atol)}",
    )


def _known_mistake(got: object, case: tuple, mistakes: Sequence[Mistake], atol: float) -> str | None:
    for mistake in mistakes:
        if mistake.compute is None:
            continue
        try:
            if same(got, mistake.compute(*fresh(case)), atol):
                return mistake.hint
        except Exception:  # a mistake that cannot even run on this input does not apply
            continue
    return None


def check_then_batch(
    learner_fn: Callable,
    reference: Callable,
    single: Sequence[tuple],
    batched: Sequence[tuple],
    *,
    name: str,
    mistakes: Sequence[Mistake],
    batch_mistake: Mistake,
    passed: str,
) -> Result:
    """``check_function`` on the unbatched cases, then on the batched ones.

    A failure only on a batch that matches no known mistake is named by ``batch_mistake``
    (the usual cause: an idiom that is right in 2-D only), followed by the details; a pass
    on everything says ``passed``.
    """
    result = check_function(learner_fn, reference, single, name=name, mistakes=mistakes)
    if not result.passed:
        return result
    batch = check_function(learner_fn, reference, batched, name=name, mistakes=mistakes)
    if batch.status in (WRONG, ERROR) and not any(m.hint == batch.message for m in mistakes):
        return Result(WRONG, f"{batch_mistake.hint} ({batch.message})")
    return batch if not batch.passed else Result(PASSED, passed)


def same(got: object, want: object, atol: float = 1e-5) -> bool:
    """Equal shape and values within ``atol`` (NaN equals NaN, so overflow can be recognised)."""
    if isinstance(want, torch.Tensor):
        return (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(_as_double(got), _as_double(want), atol=atol, rtol=RTOL, equal_nan=True)
        )
    if isinstance(want, tuple | list):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(want)
            and all(same(g, w, atol) for g, w in zip(got, want))
        )
    return not isinstance(got, torch.Tensor) and got == want


def describe_difference(got: object, want: object, atol: float = 1e-5) -> str:
    """One sentence saying how ``got`` differs from ``want``: kind, shape, inf/NaN, or where."""
    if isinstance(want, tuple | list):
        return _describe_sequence(got, want, atol)
    if not isinstance(want, torch.Tensor):
        return f"expected {want!r}, got {got!r}"
    if not isinstance(got, torch.Tensor):
        return f"expected a tensor, got {type(got).__name__}"
    if got.shape != want.shape:
        return f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
    got, want = _as_double(got), _as_double(want)
    if not torch.isfinite(got).all() and torch.isfinite(want).all():
        return "your result contains inf or NaN where the reference is finite"
    # Entries that ``same`` accepts (NaN against NaN included) count as no difference.
    close = torch.isclose(got, want, atol=atol, rtol=RTOL, equal_nan=True)
    diff = (got - want).abs().nan_to_num(nan=float("inf")).masked_fill(close, 0.0)
    where = _unravel(int(diff.argmax()), diff.shape)
    return (
        f"largest difference {float(diff.max()):.3g} at index {where} "
        f"(expected {float(want[where]):.4f}, got {float(got[where]):.4f})"
    )


def _describe_sequence(got: object, want: tuple | list, atol: float) -> str:
    kind = type(want).__name__
    if not isinstance(got, tuple | list) or len(got) != len(want):
        size = f" of {len(got)}" if isinstance(got, tuple | list) else ""
        return f"expected a {kind} of {len(want)}, got a {type(got).__name__}{size}"
    for i, (g, w) in enumerate(zip(got, want)):
        if not same(g, w, atol):
            return f"item {i} of the {kind}: {describe_difference(g, w, atol)}"
    return f"the {kind} differs"  # not reached when ``same`` said they differ


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index of entry ``flat`` of a row-major tensor of ``shape``. (torch.unravel_index
    would do, but its first call imports for about two seconds in the learner's notebook.)"""
    index = []
    for size in reversed(shape):
        flat, i = divmod(flat, size)
        index.append(i)
    return tuple(reversed(index))


def fresh(case: tuple) -> tuple:
    """A deep copy of one test case: new tensors and new modules for every call."""
    return copy.deepcopy(case)


def randn(*shape: int, gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Standard-normal test data from an explicit generator (never the global one)."""
    return torch.randn(*shape, generator=gen) * scale


def _as_double(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().double()
