"""The learning-rate schedule of ``train``: warm-up, then constant or a cosine decay.

``learning_rates`` lists the rate of every step, for plotting the schedule before training;
``train`` (``training``) uses the same factor through PyTorch's ``LambdaLR``, so what is
plotted is what the optimiser gets. A module of its own: the schedule is one small idea,
read and plotted apart from the loop that uses it.
"""

from __future__ import annotations

import math

from . import _validate

MAX_SCHEDULE = 10_000_000  # steps a listed schedule may have (80 MB of Python floats)
MAX_LR = 1e6  # far above any useful rate; 1e300 fails inside Adam ("cannot be converted to float")


def learning_rates(lr: float, steps: int, *, warmup: int = 0, decay: bool = False) -> list[float]:
    """The learning rate of each of ``steps`` steps that ``train`` uses, for plotting the schedule.

    Warm-up: the first ``warmup`` steps climb linearly from lr/warmup to lr, so the first
    updates, made while Adam's running averages rest on a handful of gradients and the
    weights are random, stay small. Decay: afterwards the rate glides along half a cosine
    from lr down to lr/10, so that the last updates are small and the weights settle.
    """
    _check_lr(lr)
    steps = _validate.integer("steps", steps, low=1, high=MAX_SCHEDULE + 1)  # one float per step, listed
    warmup = _check_warmup(warmup, steps)
    _validate.boolean("decay", decay)
    return [lr * _lr_factor(s, steps, warmup, decay) for s in range(steps)]


def _check_lr(lr: object) -> None:
    if isinstance(lr, int) and lr > MAX_LR:  # 10**400 overflows as a float, inside the check below
        raise ValueError(
            f"lr must be at most {MAX_LR:g} (usually below 1), got an int of {lr.bit_length()} bits"
        )
    _validate.finite_number("lr", lr, above=0)
    if lr > MAX_LR:  # Adam fails on it deep inside, converting to float
        raise ValueError(f"lr must be at most {MAX_LR:g} (a learning rate is usually below 1), got {lr!r}")


def _check_warmup(warmup: object, steps: int) -> int:
    """An int in [0, steps]: a longer warm-up would end after the run, whose rate never reached lr."""
    warmup = _validate.integer("warmup", warmup, low=0)
    if warmup > steps:
        raise ValueError(
            f"warmup must be at most steps ({steps}), got {_validate.shown(warmup)}: the rate climbs "
            f"to lr over the first warmup steps, so in a run of {steps} steps it would never reach lr"
        )
    return warmup


def _lr_factor(step: int, steps: int, warmup: int, decay: bool) -> float:
    if step < warmup:
        return (step + 1) / warmup
    if not decay:
        return 1.0
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress)))
