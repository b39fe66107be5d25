"""Round 50's review of ``train_step``: the catch-all "the weights never changed" verdict, which
four different slips get, told apart by watching one step run.

The learner's step is run once more on a fresh copy of the first case, its optimiser's
``zero_grad`` and ``step`` (and the model's ``zero_grad``) recorded, and every weight's
gradient as it lands (``register_post_accumulate_grad_hook``). From that order: backward never
ran, step never ran, a zero_grad between them cleared the gradients, or step ran first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from .cases import fresh
from .harness import LEARNER_ERRORS, Mistake, Result

WHY = {
    "no backward": "In yours, no gradient reached the weights: loss.backward() never ran "
    "(loss.backward without its brackets only names the method), or the loss was cut from the "
    "weights (computed under torch.no_grad(), or detached), so optimiser.step() had nothing to "
    "follow.",
    "no step": "In yours, optimiser.step() never ran (optimiser.step without its brackets only "
    "names the method): the gradients were computed, and step() is what moves the weights "
    "along them.",
    "zero between": "In yours, zero_grad() runs between loss.backward() and optimiser.step(): it "
    "cleared the gradients just computed, and step() had none to follow. Clear them at the "
    "start of the step.",
    "step first": "In yours, optimiser.step() runs before loss.backward(), while there are no "
    "gradients yet, and the ones computed after it are cleared at the next step's start.",
}


def _recorded(obj: object, name: str, events: list, event: str) -> None:
    """``obj.name`` replaced, on this instance only, by the same method that first notes
    ``event`` (a call of the bound method without its brackets records nothing)."""
    method = getattr(obj, name)

    def recording(*args, **kwargs):
        events.append(event)
        return method(*args, **kwargs)

    object.__setattr__(obj, name, recording)


def order_of_one_step(step: Callable, case: tuple) -> list[str] | None:
    """What one call of the learner's step did, in order: "zero", "backward", "step" (None
    where it raised, or another copy's hooks could not be set)."""
    model, optimiser, loss_fn, batches = fresh(case)
    events: list[str] = []
    for p in model.parameters():  # one event per backward: the first weight to get its gradient
        p.register_post_accumulate_grad_hook(lambda _, events=events: events.append("grad"))
    _recorded(optimiser, "zero_grad", events, "zero")
    _recorded(model, "zero_grad", events, "zero")
    _recorded(optimiser, "step", events, "step")
    try:
        with torch.random.fork_rng(devices=[]):
            step(model, optimiser, loss_fn, batches[0])
    except LEARNER_ERRORS:
        return None
    squeezed = [e for i, e in enumerate(events) if e != "grad" or i == 0 or events[i - 1] != "grad"]
    return ["backward" if e == "grad" else e for e in squeezed]


def _why(order: list[str]) -> str | None:
    """Which of WHY's four slips this order of calls shows (None: none of them)."""
    if "backward" not in order:
        return "no backward"
    if "step" not in order:
        return "no step"
    first_step, last_backward = order.index("step"), len(order) - 1 - order[::-1].index("backward")
    if first_step < order.index("backward"):
        return "step first"
    if "zero" in order[last_backward:first_step]:
        return "zero between"
    return None


def named_why_still(result: Result, learner_fn: Callable, case: tuple, mistakes: Sequence[Mistake]) -> Result:
    """``result`` with the slip behind "the weights never changed" named first, where one step
    of ``learner_fn`` on ``case`` shows which; otherwise ``result`` as it is."""
    still = next(m.hint for m in mistakes if m.name == "weights never move")
    if not result.message.startswith(still):
        return result
    order = order_of_one_step(learner_fn, case)
    why = None if order is None else _why(order)
    if why is None:
        return result
    return replace(result, message=f"{WHY[why]} {result.message}")
