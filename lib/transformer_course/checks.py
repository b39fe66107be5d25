"""Exercise checkers: run a learner's function against the reference and name the mistake.

Contract for every "your turn" cell:
- the starter code raises ``NotImplementedError``; the checker then reports
  "not attempted yet" and does not raise, so an untouched notebook still runs top to bottom;
- a wrong answer gets a precise hint when the output matches a known mistake
  (``Mistake``), otherwise the first input where it differs and by how much;
- the checker returns a ``Result`` (shown as a coloured box); the worked solution's cell
  asserts ``result.passed``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

PASSED, NOT_ATTEMPTED, WRONG, ERROR = "passed", "not attempted", "wrong", "error"


@dataclass(frozen=True)
class Result:
    status: str      # one of PASSED, NOT_ATTEMPTED, WRONG, ERROR
    message: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        return f"[{self.status}] {self.message}"

    def _repr_html_(self) -> str:
        colour = {PASSED: "#15803d", NOT_ATTEMPTED: "#6b7280"}.get(self.status, "#b91c1c")
        icon = {PASSED: "✔", NOT_ATTEMPTED: "…"}.get(self.status, "✘")
        return (f'<div class="tc-check" style="border-left:4px solid {colour};padding:6px 10px;'
                f'color:{colour}"><b>{icon} {self.status}</b>: {html.escape(self.message)}</div>')


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``compute`` does what the mistaken code would do."""

    hint: str
    compute: Callable[..., object]


def check_function(learner_fn: Callable, reference_fn: Callable, cases: Sequence[tuple], *,
                   name: str, mistakes: Sequence[Mistake] = (), atol: float = 1e-5) -> Result:
    """Call ``learner_fn(*case)`` for every case and compare with ``reference_fn(*case)``.

    Inputs are cloned for each call, so a function that changes its arguments in place
    cannot spoil the comparison.
    """
    if not callable(learner_fn):
        raise ValueError(f"learner_fn must be a function, got {type(learner_fn).__name__}")
    for number, case in enumerate(cases, start=1):
        try:
            got = learner_fn(*_clone(case))
        except NotImplementedError:
            return Result(NOT_ATTEMPTED, f"{name} is not attempted yet: replace "
                          "`raise NotImplementedError` with your code and run the cell again.")
        except Exception as err:
            return Result(ERROR, f"{name} raised {type(err).__name__} on input #{number}: {err}")
        want = reference_fn(*_clone(case))
        if same(got, want, atol):
            continue
        for mistake in mistakes:
            try:
                if same(got, mistake.compute(*_clone(case)), atol):
                    return Result(WRONG, mistake.hint)
            except Exception:    # a mistake that cannot even run on this input does not apply
                continue
        return Result(WRONG, f"{name} differs from the reference on input #{number}: "
                      f"{describe_difference(got, want)}")
    return Result(PASSED, f"{name} matches the reference on all {len(cases)} inputs.")


def same(got: object, want: object, atol: float = 1e-5) -> bool:
    """Equal shape and values within ``atol`` (NaN equals NaN, so overflow can be recognised)."""
    if isinstance(want, torch.Tensor):
        return (isinstance(got, torch.Tensor) and got.shape == want.shape
                and torch.allclose(got.double(), want.double(), atol=atol, rtol=1e-4, equal_nan=True))
    if isinstance(want, tuple | list):
        return (isinstance(got, tuple | list) and len(got) == len(want)
                and all(same(g, w, atol) for g, w in zip(got, want)))
    return got == want


def describe_difference(got: object, want: object) -> str:
    if not isinstance(got, torch.Tensor):
        return f"expected a tensor, got {type(got).__name__}"
    if got.shape != want.shape:
        return f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
    if not torch.isfinite(got).all() and torch.isfinite(want).all():
        return "your result contains inf or NaN where the reference is finite"
    diff = (got.double() - want.double()).abs()
    where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    return (f"largest difference {float(diff.max()):.3g} at index {where} "
            f"(expected {float(want[where]):.4f}, got {float(got[where]):.4f})")


def _clone(case: tuple) -> tuple:
    return tuple(x.clone() if isinstance(x, torch.Tensor) else x for x in case)
