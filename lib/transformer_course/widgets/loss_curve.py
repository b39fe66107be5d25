"""The loss while it trains (chapters 08–09): a curve redrawn from the ``History`` after each step.

``LiveLossCurve`` is handed what training records (``train(..., callback=curve.update)``)
and only draws it: nothing here trains. A history filled by hand is checked before it is
drawn, so a bad one reads as a message that names it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import torch

from .. import _validate, figures
from .kit import Explorer, InputError, checkbox, counted, int_slider, quote, shown_word


class LiveLossCurve(Explorer):
    """Chapter 08. The loss curve of a training run, redrawn while it trains.

    Pass ``update`` as the ``callback`` of ``training.train``: every call redraws the
    curve from the ``History``. Controls: the running-mean window and a log scale.
    Chapter 09 adds ``floor`` (the best loss possible, a dotted line), with it a "zoom to
    floor" control (the y axis on the last stretch above the floor: from 0 to 7 the running
    mean, the held-out markers and the floor were one line from step 150 on), and the held-out
    losses the callback records in ``history.evals[validation]`` (markers).
    State for tests: ``history``.
    """

    def __init__(
        self,
        total_steps: int | None = None,
        *,
        title: str = "Training loss",
        smoothing: int = 20,
        floor: float | None = None,
        floor_label: str = "floor",
        validation: str = "held-out",
    ):
        self.history = None
        if total_steps is not None:  # None: the x axis grows with the steps
            total_steps = _validate.positive_int("total_steps", total_steps)
        if floor is not None:  # a loss is never below 0
            floor = _validate.finite_number("floor", floor, at_least=0)
        self.total_steps, self.title = total_steps, _validate.text("title", title)
        self.floor, self.floor_label = floor, _validate.text("floor_label", floor_label)
        # the key of history.evals whose losses are drawn as markers
        self.validation = _validate.text("validation", validation)
        controls = {
            "smoothing": int_slider(
                "smoothing", smoothing, 1, 100, description="mean over", continuous_update=False
            ),
            "log": checkbox("log", False, description="log scale"),
        }
        if floor is not None:  # the approach to the floor, which a 0-7 axis flattens into one line
            controls["zoom"] = checkbox("zoom", False, description="zoom to floor")
        super().__init__(controls=controls, views={"loss": "figure"})

    def update(self, history) -> None:
        """Redraw from ``history`` (a ``training.History``); the training callback."""
        self.history = history
        self.refresh()

    def render(self):
        h = self.history
        if h is not None and not all(hasattr(h, a) for a in ("steps", "losses", "smoothed", "evals")):
            raise InputError(
                f"update() needs the training.History that train() passes to its callback, "
                f"got {type(h).__name__}: pass callback=curve.update to train()."
            )
        problem = None if h is None else _history_problem(h, self.validation) or self._steps_problem(h)
        if problem:
            raise InputError(problem)
        log = self.value("log")
        floor = self._floor(log)
        zoom = "zoom" in self.controls and self.value("zoom")
        if h is None or not len(h):
            fig = figures.loss_curve_figure(
                [],
                [],
                title=self.title,
                total_steps=self.total_steps,
                log_y=log,
                floor=floor,
                floor_label=self.floor_label,
                zoom=zoom,
            )
            self.note("Waiting for the first training steps…")
            return {"loss": fig}
        window = self.value("smoothing")
        smoothed = h.smoothed(window)
        n = min(window, len(h))  # the steps the smoothed value averages
        mean = f"mean of the last {n} steps: {_loss(smoothed[-1])}" if n > 1 else "not smoothed"
        if 1 < n < window:  # a wider window averages the same steps: say why the curve stays
            mean = f"mean of all {n} steps so far, fewer than the {window} asked for: {_loss(smoothed[-1])}"
        self.note(f"step {h.steps[-1]}: loss {_loss(h.last_loss)} ({mean}).")
        self._note_diverged(h)
        self._note_dropped_evals(h.evals.get(self.validation))
        if log:
            self._note_unplottable(h.losses)
        steps, losses, smoothed = _thinned(h.steps, h.losses, smoothed)
        return {
            "loss": figures.loss_curve_figure(
                steps,
                losses,
                smoothed=smoothed,
                log_y=log,
                title=self.title,
                total_steps=self.total_steps,
                floor=floor,
                floor_label=self.floor_label,
                validation=h.evals.get(self.validation),
                zoom=zoom,
            )
        }

    def _steps_problem(self, h) -> str | None:
        """What a hand-made history's steps get wrong, naming it: train() records whole steps
        from 1 up, one after another, and a held-out loss at a step it has reached. (Steps past
        ``total_steps`` are right: a run continued with ``train(..., history=h)``; the axis grows.)"""
        points = [p[0] for p in h.evals.get(self.validation) or ()]
        for name, steps in (
            ("history.steps", h.steps),
            (f"history.evals[{quote(self.validation, 48)}]", points),
        ):
            bad = next((v for v in steps if float(v) < 0 or float(v) != math.floor(float(v))), None)
            if bad is not None:
                return f"{name} must hold whole steps, 0 or more, got {_shown(bad)}."
        steps = [_exact(v) for v in h.steps]  # float(10**18 + 1) is 10**18
        back = next((i for i in range(1, len(steps)) if steps[i] <= steps[i - 1]), None)
        if back is not None:
            return (
                f"history.steps must go up, one step after another, got {_shown(h.steps[back])} after "
                f"{_shown(h.steps[back - 1])} (history.steps[{back}])."
            )
        last = steps[-1] if steps else 0
        late = next((p for p in points if _exact(p) > last), None)
        if late is not None:  # an eval at step 10**9 of a run at step 2 squeezed the curve to the left
            return (
                f"history.evals[{quote(self.validation, 48)}] has a loss at step {_shown(late)}, after the "
                f"last training step ({_shown(last)}): record each held-out loss at the step it was measured."
            )
        return None

    def _note_diverged(self, h) -> None:
        """A loss of NaN or inf anywhere in the run (train() stops at the first; a hand-made
        history may go on past it, and its running mean stays NaN from there)."""
        at = next((i for i, loss in enumerate(h.losses) if not math.isfinite(float(loss))), None)
        if at is not None:
            where = "" if at == len(h.losses) - 1 else f" at step {h.steps[at]} (loss {_loss(h.losses[at])})"
            self.note(f"Training diverged{where}: train again with a smaller learning rate.")

    def _note_dropped_evals(self, points) -> None:
        """Held-out losses of NaN or inf have no place on the axis: say they were left out."""
        dropped = [p for p in points or () if not math.isfinite(float(p[1]))]
        if dropped:
            self.note(
                f"{len(dropped)} held-out loss{'' if len(dropped) == 1 else 'es'} of NaN or inf (the "
                f"first at step {_shown(dropped[0][0])}) left out of the figure: the model diverged there.",
                key="evals",
            )

    def _floor(self, log: bool) -> float | None:
        """The floor line to draw: none on a log scale when it is 0, which a log axis has no
        place for (log 0 = −∞; the figure refuses it), said in a note."""
        if log and self.floor is not None and self.floor <= 0:
            self.note(
                f"The {quote(self.floor_label, 48)} line at {self.floor:g} cannot be drawn on a log "
                "scale (log 0 = −∞): untick 'log scale' to see it.",
                key="floor",
            )
            return None
        return self.floor

    def _note_unplottable(self, losses: list) -> None:
        """A log axis leaves out losses of 0 or below (a perfect fit, a hand-made history): say
        so, rather than a curve with gaps, or no curve at all, and no word why."""
        low = sum(1 for loss in losses if float(loss) <= 0)
        if low:
            self.note(
                f"{counted(low, 'step')} with a loss of 0 or below cannot be drawn on a log scale "
                "(log 0 = −∞): untick 'log scale' to see them.",
                key="log",
            )


# The most steps drawn: a curve is redrawn every few steps, and each redraw of every step cost
# time in proportion to the steps so far (0.05 s at 1,000 steps, 3 s at 100,000), so a long run
# slowed with the square of its length. Past this, every k-th step is drawn, and the last.
MAX_DRAWN = 3000


def _thinned(steps: list, losses: list, smoothed: list) -> tuple[list, list, list]:
    """Every k-th entry of the three lists, and the last, so that at most about ``MAX_DRAWN``
    steps are drawn (all of them up to that). A plot a few hundred pixels wide shows no more."""
    n = len(steps)
    if n <= MAX_DRAWN:
        return steps, losses, smoothed
    keep = list(range(0, n, math.ceil(n / MAX_DRAWN)))
    if keep[-1] != n - 1:
        keep.append(n - 1)  # the step just taken, whose loss the info line prints
    return ([values[i] for i in keep] for values in (steps, losses, smoothed))


def _history_problem(h, validation: str) -> str | None:
    """What keeps the curve from drawing ``h``, a History filled by hand (train() fills it
    right): lists out of step, a step or loss that is no plain number, held-out losses that are
    no (step, loss) pairs. None when it can be drawn. Checked here, so the message names the
    history, not the figure's arguments, and a loss tensor that needs gradients is never
    float()-ed (PyTorch warns on stderr)."""
    for name in ("steps", "losses"):
        if not isinstance(getattr(h, name), list | tuple):  # a NumPy array, None: set by hand
            got = type(getattr(h, name)).__name__
            return f"history.{name} must be a list with one number per step, got {got}."
    if not isinstance(h.evals, Mapping):
        return (
            f"history.evals must be a dict name → list of (step, loss) pairs, got {type(h.evals).__name__}."
        )
    if len(h.losses) != len(h.steps):
        losses = f"{len(h.losses)} loss{'' if len(h.losses) == 1 else 'es'}"
        return f"The history has {counted(len(h.steps), 'step')} but {losses}: record one loss per step."
    for name, values in (("steps", h.steps), ("losses", h.losses)):
        odd = [v for v in values if not _plain_number(v) or (name == "steps" and not math.isfinite(v))]
        if odd:
            fix = _fix(odd[0]) if name == "losses" else ""
            return f"history.{name} must hold plain numbers, got {_shown(odd[0])}{fix}."
    points = h.evals.get(validation)
    if points is not None and not (
        isinstance(points, list | tuple)
        and all(
            isinstance(p, list | tuple) and len(p) == 2 and all(map(_plain_number, p)) and math.isfinite(p[0])
            for p in points
        )
    ):
        return (
            f"history.evals[{quote(validation, 48)}] must be a list of (step, loss) pairs, "
            f"got {_shown(points)}."
        )
    return None


def _plain_number(value: object) -> bool:
    """A number the curve can draw and the info line can write: a Python or NumPy int or float
    that a float holds (not 10**400), or a 0-d real tensor without gradients (one with them
    is the loss itself, recorded before ``.item()``) and with a value (not on the meta device).
    Not a bool, a Fraction (which format strings refuse) or a tensor of shape (1,)."""
    if isinstance(value, torch.Tensor):
        real = value.dtype != torch.bool and not value.is_complex()
        # A meta tensor has a shape and no value: the figure's float() of it failed as "Could
        # not update the figures (ValueError: losses must hold numbers …)", naming no history.
        return value.dim() == 0 and not value.requires_grad and real and value.device.type != "meta"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or type(value).__name__ == "bool_":
        return False
    if not (isinstance(value, int | float) or type(value).__module__ == "numpy"):
        return False  # a Fraction, a Decimal: numbers, but not ones the curve's text can format
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _exact(value: object) -> object:
    """A step as a number to compare exactly: a 0-d tensor's value, anything else as it is."""
    return value.item() if isinstance(value, torch.Tensor) else value


def _shown(value: object) -> str:
    """A value for a message: its repr, invisible characters spelled out, cut to 60 characters."""
    return shown_word(repr(value), 60)


def _fix(value: object) -> str:
    """What to record instead of ``value``, where it is a loss tensor."""
    if isinstance(value, torch.Tensor) and value.device.type == "meta":  # .item() fails there
        return ": a tensor on the meta device holds no value; record the loss of a model with weights"
    return ": record loss.item(), the loss as a plain number" if isinstance(value, torch.Tensor) else ""


def _loss(value: float) -> str:
    """A loss for the info line: 4 decimals, or 4 digits once it has diverged (1e+12, not 13
    digits and 4 decimals); nan and inf as they are."""
    value = float(value)  # a np.float16 compared with 1e6 overflowed, with a warning on stderr
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"
