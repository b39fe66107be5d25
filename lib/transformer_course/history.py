"""What a training run records: ``History``, the loss of every step and what was watched.

``train`` (``training``) appends to it as it goes; the loss-curve explorer redraws from it
after each step, and a run may continue from one (``train(..., history=h)``). A module of
its own because the record outlives the loop: chapters plot it, add held-out losses to it
(``add_eval``) and smooth it, long after ``train`` has returned.
"""

from __future__ import annotations

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
        values = [_loss_value(i, loss) for i, loss in enumerate(self.losses)]
        out, total = [], 0.0
        for i, value in enumerate(values):
            total += value
            if i >= window:
                total -= values[i - window]
            out.append(total / min(i + 1, window))
        return out

    def add_eval(self, name: str, step: int, value: float) -> None:
        """Record ``value`` (e.g. a held-out loss) measured at ``step`` under ``name``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f'name must be a non-empty str such as "held-out", got {name!r}')
        step = _validate.integer("step", step, low=0)
        if isinstance(value, str | bytes | bool) or not _is_number(value):  # True is no measurement
            got = _validate.shown(value)
            raise ValueError(f"value must be a number (what was measured at step {step}), got {got}")
        self.evals.setdefault(name, []).append((step, float(value)))


def _loss_value(i: int, loss: object) -> float:
    """losses[i] as a Python float (float64): a number or a one-element tensor, as loss_fn
    returns it. "a" or None would fail in the sum, naming neither."""
    kind = isinstance(loss, numbers.Real | torch.Tensor) and not isinstance(loss, bool)
    if not kind or not _is_number(loss):  # an int beyond a float's range too
        raise ValueError(f"losses must hold numbers, got {loss!r:.40} at losses[{i}]")
    return float(loss)


def _is_number(value: object) -> bool:
    """A Python number or a one-element tensor: what ``float()`` turns into a loss."""
    if isinstance(value, torch.Tensor):  # a meta one has no value, a complex one no float()
        return value.numel() == 1 and not value.is_meta and not value.is_complex()
    try:
        float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond a float's range
        return False
    return True
