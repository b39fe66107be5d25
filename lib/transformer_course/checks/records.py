"""The records an exercise is described by: ``Mistake`` (a known wrong answer and the hint that
names it) and ``Exercise`` (the checker, a worked solution, the starter, correct alternatives and
the catalogue), which the contract test in ``tests/test_exercises.py`` runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .result import Result

if TYPE_CHECKING:
    from .failure import Failure


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer and the hint that names it.

    The checker recognises the mistake in one of three ways:
    compute: what the mistaken code computes, on the checker's inputs; it matches when the
    learner's output equals it;
    recognise: ``(learner_fn, case, got) → bool`` for a mistake no single output shows (the
    function draws random numbers, returns the wrong kind of thing);
    error: a regular expression searched in ``"ErrorType: message"`` when the learner's
    function raises (a pair used as a tensor, a loss that cannot go backward).
    failed_at: with ``error``, a predicate ``(failure, case) → bool``: the text must match AND the
    learner's call, re-run once on the same case (``failure.rerun``), must have failed as it says
    (at a product that took w_o, at a sum that lost its axis): for an error whose text other
    slips raise word for word. None: the text alone names the mistake.
    All three None: the checker names the mistake by its own logic (a failure on batches only).
    example: the same mistake written the way a learner writes it, for the contract test;
    kept apart from ``compute`` so that the test does not pass by construction.
    name: a few words for test ids and tables.
    atol: how close to ``compute`` counts as this mistake, where it differs from the check's
    own (a mistake whose numbers float32 cannot reproduce closely; None: the check's).
    """

    hint: str
    compute: Callable[..., object] | None
    example: Callable[..., object] | None = None
    name: str = ""
    recognise: Callable[[Callable, tuple, object], bool] | None = None
    error: str | None = None
    failed_at: Callable[[Failure, tuple], bool] | None = None
    atol: float | None = None


@dataclass(frozen=True)
class Exercise:
    """One "your turn" exercise, described uniformly for the contract test and the docs.

    name: the function the learner writes; its checker is ``checks.check_<name>``.
    solution: a correct worked solution, written as a learner would.
    starter: the untouched exercise cell's function (raises NotImplementedError).
    alternatives: other correct answers that must pass (a loop, einsum, float64, lib's own…).
    mistakes: the checker's catalogue, each with a learner-style ``example``.
    updates_in_place: the function's job is to change its arguments (a training step moves
    the model's weights), so the contract test does not count that against it.
    """

    name: str
    chapter: str
    check: Callable[[Callable], Result]
    solution: Callable
    starter: Callable
    alternatives: Mapping[str, Callable] = field(default_factory=dict)
    mistakes: Sequence[Mistake] = ()
    updates_in_place: bool = False
