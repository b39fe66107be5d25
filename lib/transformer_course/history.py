"""What a training run records: ``History``, the loss of every step and what was watched.

``train`` (``training``) appends to it as it goes; the loss-curve explorer redraws from it
after each step, and a run may continue from one (``train(..., history=h)``). A module of
its own because the record outlives the loop: chapters plot it, add held-out losses to it
(``add_eval``) and smooth it, long after ``train`` has returned.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import torch

from . import _validate


@dataclass
class History:
    """What happened during training.

    steps/losses/learning_rates: one entry per step (step numbers start at 1; the rate
    each step's update used); evals: name → list of (step, value); snapshots: step → what
    ``snapshot_fn`` returned (step 0 = before training); seconds: wall-clock time of the loop.
    """

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    evals: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    snapshots: dict[int, object] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self):
        # History(losses=None) would fail later, inside smoothed() or a plot, naming nothing
        for name in ("steps", "losses", "learning_rates"):
            if not isinstance(getattr(self, name), list):
                raise ValueError(f"{name} must be a list, got {type(getattr(self, name)).__name__}")
        for name in ("evals", "snapshots"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a dict, got {type(getattr(self, name)).__name__}")

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def last_loss(self) -> float:
        if not self.losses:
            raise ValueError("history holds no steps yet")
        return self.losses[-1]

    def smoothed(self, window: int = 20) -> list[float]:
        """Running mean of the loss over the last ``window`` steps (fewer at the start), as
        Python floats. Summed in float64 whatever each loss's dtype: a float16 total would
        overflow past 65504 (inf), a bfloat16 one would drop what its 8 bits cannot hold."""
        window = _validate.positive_int("window", window)
        return _window_means([_loss_value(i, loss) for i, loss in enumerate(self.losses)], window)

    def add_eval(self, name: str, step: int, value: float) -> None:
        """Record ``value`` (e.g. a held-out loss) measured at ``step`` under ``name``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f'name must be a non-empty str such as "held-out", got {name!r}')
        step = _validate.integer("step", step, low=0)
        if isinstance(value, str | bytes | bool) or not _is_number(value):  # True is no measurement
            got = _validate.shown(value)
            raise ValueError(f"value must be a number (what was measured at step {step}), got {got}")
        self.evals.setdefault(name, []).append((step, float(value)))


def _check_continued(history: History) -> None:
    """A history ``train`` may continue (``train(..., history=h)``): one loss and one learning rate
    per step, the steps ints going forwards. A hand-made one that breaks this was extended as it was,
    its lists ever further apart, or numbered on from a step its curve had already passed."""
    n = len(history.steps)
    for name, one, many in (
        ("losses", "loss", "losses"),
        ("learning_rates", "learning rate", "learning rates"),
    ):
        count = len(getattr(history, name))
        if count != n:
            steps, held = "1 step" if n == 1 else f"{n} steps", one if count == 1 else many
            raise ValueError(
                f"history must hold one {one} per step to continue, got {steps} but {count} {held} "
                f"(history.{name})"
            )
    for i, step in enumerate(history.steps):
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise ValueError(
                f"history.steps[{i}] must be an int (a step number), got {_validate.shown(step)}"
            )
        if i and step <= history.steps[i - 1]:
            raise ValueError(
                f"history.steps[{i}] ({step}) must come after history.steps[{i - 1}] "
                f"({history.steps[i - 1]}): the steps of a history go forwards"
            )


# Every finite float is a whole number of these: sums of them are exact Python ints.
_UNIT = 2**1074


def _window_means(values: list[float], window: int) -> list[float]:
    """The mean of each value and the ``window`` - 1 before it (fewer at the start), in one pass.
    A running total, but exact: finite values are added as ints in units of the smallest float
    (a huge loss would otherwise swallow the small ones after it, and leave 0 once it left the
    window), and infinities and NaN are counted, not added (a diverged step's inf - inf would make
    every later mean NaN, long after it left the window)."""
    out, total, odd = [], 0, {"nan": 0, "inf": 0, "-inf": 0}
    for i, value in enumerate(values):
        total += _exact(value, odd, +1)
        if i >= window:
            total -= _exact(values[i - window], odd, -1)
        if odd["nan"] or (odd["inf"] and odd["-inf"]):
            out.append(math.nan)
        elif odd["inf"] or odd["-inf"]:
            out.append(math.inf if odd["inf"] else -math.inf)
        else:
            out.append(total / (_UNIT * min(i + 1, window)))  # int / int: correctly rounded
    return out


def _exact(value: float, odd: dict[str, int], sign: int) -> int:
    """``value`` in units of the smallest float; 0 for inf or NaN, counted in ``odd`` instead."""
    if math.isfinite(value):
        num, den = value.as_integer_ratio()  # den: a power of two, at most 2**1074
        return num * (_UNIT // den)
    odd[str(value)] += sign
    return 0


def _loss_value(i: int, loss: object) -> float:
    """losses[i] as a Python float (float64): a number or a one-element tensor, as loss_fn
    returns it. "a" or None would fail in the sum, naming neither."""
    kind = isinstance(loss, numbers.Real | torch.Tensor) and not isinstance(loss, bool)
    if not kind or not _is_number(loss):  # an int beyond a float's range too
        raise ValueError(f"losses must hold numbers, got {loss!r:.40} at losses[{i}]")
    return float(loss.detach() if isinstance(loss, torch.Tensor) else loss)  # no warning for a grad


def _is_number(value: object) -> bool:
    """A Python number or a one-element tensor: what ``float()`` turns into a loss."""
    if isinstance(value, torch.Tensor):  # a meta one has no value, a complex one no float()
        return value.numel() == 1 and not value.is_meta and not value.is_complex()
    try:
        float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond a float's range
        return False
    return True
