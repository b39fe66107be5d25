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
        """Running mean of the loss over the last ``window`` steps (fewer at the start)."""
        window = _validate.positive_int("window", window)
        for i, loss in enumerate(self.losses):  # "a" or None would fail at +=, naming neither
            tensor = isinstance(loss, torch.Tensor) and _is_number(loss)  # a 0-D loss, as loss_fn returns it
            if isinstance(loss, bool) or not (isinstance(loss, numbers.Real) or tensor):
                raise ValueError(f"losses must hold numbers, got {loss!r:.40} at losses[{i}]")
        out, total = [], 0.0
        for i, loss in enumerate(self.losses):
            total += loss
            if i >= window:
                total -= self.losses[i - window]
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


def _is_number(value: object) -> bool:
    """A Python number or a one-element tensor: what ``float()`` turns into a loss."""
    if isinstance(value, torch.Tensor):  # a meta one has no value, a complex one no float()
        return value.numel() == 1 and not value.is_meta and not value.is_complex()
    try:
        float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond a float's range
        return False
    return True
