"""More of ``train_step``'s catalogue: the wrong answers met in the ninth audit (the loss made
a sum over the batch, the loss given to optimiser.step, the loss returned as an int) and the
tenth (the loss returned in a list) and the round-41 battery (backward twice with the graph
kept, the loss scaled by a constant, one step per example), each with its hint and a
learner-style example (in ``train_step_learners``).

``train_step`` imports ``MORE_MISTAKES`` and its reference from its own module; here, what the
mistakes compute takes the reference as an argument, so that this module does not import it.

``with_gradients_on``: the checkers of the loss and of the step run with gradients on, whatever
context the notebook calls them in (round 43).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from functools import partial, wraps

import torch

from . import train_step_learners as learner
from .describe import same
from .harness import Mistake, Result, fresh
from .loss_text import reads_as


def _returned_ints(step_reference):
    """A ``recognise``: the losses returned as whole numbers, each the right loss cut down or
    rounded to one (int(loss), round(loss.item()))."""

    def recognise(fn, case, got) -> bool:
        returned = got[0] if isinstance(got, tuple) and len(got) == 2 else None
        if not returned or not all(
            isinstance(r, numbers.Integral) and not isinstance(r, bool) for r in returned
        ):
            return False
        want = step_reference(*fresh(case))[0]
        return len(want) == len(returned) and all(r in (int(w), round(w)) for r, w in zip(returned, want))

    return recognise


def _returned_a_method(fn, case, got) -> bool:
    """loss.item without its brackets: the method itself, where its number belongs."""
    returned = got[0] if isinstance(got, tuple) and len(got) == 2 else None
    return bool(returned) and all(callable(r) and getattr(r, "__name__", None) == "item" for r in returned)


def _returned_in_lists(step_reference):
    """A ``recognise``: each loss returned in a list or a tuple, alone ([loss.item()], a
    trailing comma) or first of its numbers ((loss.item(), loss), (loss, logits)), and the
    steps right otherwise."""

    def recognise(fn, case, got) -> bool:
        returned = got[0] if isinstance(got, tuple) and len(got) == 2 else None
        if not returned or not all(isinstance(r, list | tuple) and r for r in returned):
            return False
        losses = [next((x for x in r if _one_number(x)), None) for r in returned]
        if any(x is None for x in losses):
            return False
        losses = [float(x.detach()) if isinstance(x, torch.Tensor) else float(x) for x in losses]
        return same((losses, got[1]), step_reference(*fresh(case)))

    return recognise


def _one_number(x: object) -> bool:
    if isinstance(x, torch.Tensor):
        return x.numel() == 1 and x.is_floating_point()
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _scaled_step(model, optimiser, loss_fn, batch, *, factor):
    optimiser.zero_grad()
    loss = loss_fn(model, batch) * factor
    loss.backward()
    optimiser.step()
    return loss.item()


def _step_per_example(model, optimiser, loss_fn, batch):
    x, y = batch
    losses = []
    for i in range(len(x)):
        losses.append(_scaled_step(model, optimiser, loss_fn, (x[i : i + 1], y[i : i + 1]), factor=1.0))
    return sum(losses) / len(losses)


def _scaled_by_a_constant(step_reference, three_steps):
    """A ``recognise``: the three steps of a loss multiplied by one constant c ≠ 1 (the learning
    rate, a guess), read from the first loss returned."""

    def recognise(fn, case, got) -> bool:
        returned = got[0] if isinstance(got, tuple) and len(got) == 2 else None
        if not returned or not isinstance(returned[0], numbers.Real) or isinstance(returned[0], bool):
            return False
        factor = returned[0] / step_reference(*fresh(case))[0][0]
        if not math.isfinite(factor) or abs(factor - 1) < 1e-3:
            return False
        return same(got, three_steps(partial(_scaled_step, factor=factor))(*fresh(case)))

    return recognise


def _per_example(three_steps):
    """A ``recognise``: the weights of one optimiser step per example of each batch, whatever
    was returned (the mean of their losses, the last, the sum)."""

    def recognise(fn, case, got) -> bool:
        if not isinstance(got, tuple) or len(got) != 2:
            return False
        return same(got[1], three_steps(_step_per_example)(*fresh(case))[1])

    return recognise


def more_mistakes(step_reference, three_steps) -> tuple[Mistake, ...]:
    """The ninth audit's mistakes and after; ``step_reference(..., order=…)`` runs three steps
    with the actions in that order (``train_step._step_reference``), ``three_steps(step)`` runs
    ``step`` on three batches in a row (``train_step._three_steps``)."""

    return (
        Mistake(
            name="loss multiplied by the batch size",
            hint="You multiplied the loss by the batch size: loss_fn already returns the MEAN over "
            "the batch, and the sum it makes is B times larger, and so are its gradients and the "
            "step SGD takes (the learning rate was chosen for the mean). Use it as it comes, "
            "loss = loss_fn(model, batch).",
            compute=partial(step_reference, order=("zero", "loss * B", "backward", "step")),
            example=learner.sums_over_the_batch,
        ),
        Mistake(
            name="the loss given to step",
            hint="optimiser.step() takes no loss: it moves the weights along the gradients that "
            "loss.backward() stored in them. Its optional argument is a closure, a FUNCTION that "
            "recomputes the loss, so a tensor given there is called and fails. Call "
            "optimiser.step() with nothing.",
            compute=None,
            error=r"'Tensor' object is not callable",
            example=learner.gives_the_loss_to_step,
        ),
        Mistake(
            name="returned an int",
            hint="You returned the loss as a whole number, int(loss): that cuts off its decimals "
            "(a loss of 0.93 becomes 0), and the curve of the losses goes flat. Return "
            "loss.item(), a float.",
            compute=None,
            recognise=_returned_ints(step_reference),
            example=learner.returns_an_int,
        ),
        Mistake(
            name="loss.item not called",
            hint="You returned loss.item, the METHOD itself, without its brackets: call it, "
            "return loss.item(), the plain number it gives.",
            compute=None,
            recognise=_returned_a_method,
            example=learner.returns_the_method,
        ),
        Mistake(
            name="the loss in a list",
            hint="You returned the loss inside a list ([loss.item()], or a tuple: a trailing "
            "comma after return makes one, and so does anything after a comma, as in return "
            "loss.item(), model): the step returns ONE number, the loss itself. Return loss.item().",
            compute=None,
            recognise=_returned_in_lists(step_reference),
            example=learner.returns_it_in_a_list,
        ),
        # --- met in the round-41 battery ---
        Mistake(
            name="backward twice, the graph kept",
            hint="Your step back-propagates twice: loss.backward() again with retain_graph=True, "
            "or on the loss computed a second time. backward ADDS to the stored gradients, so the "
            'step follows them doubled. Call loss.backward() once per step (the error "backward '
            'through the graph a second time" meant one backward too many).',
            compute=partial(
                step_reference, order=("zero", "loss", "backward, graph kept", "backward", "step")
            ),
            example=learner.keeps_the_graph_for_a_second_backward,
        ),
        Mistake(
            name="loss scaled by a constant",
            hint="You multiplied the loss by a constant before backward (the learning rate, or "
            "another number): that scales its gradients, and so the step SGD takes, and the loss "
            "you return. The optimiser already holds the learning rate: use the loss as it "
            "comes, loss = loss_fn(model, batch), and return loss.item().",
            compute=None,
            recognise=_scaled_by_a_constant(step_reference, three_steps),
            example=learner.scales_by_the_learning_rate,
        ),
        Mistake(
            name="one step per example",
            hint="Your step loops over the examples of the batch and moves the weights once per "
            "example: a training step makes ONE move per batch, along the gradient of the "
            "batch's mean loss. Give loss_fn the whole batch: loss = loss_fn(model, batch), "
            "then loss.backward() and optimiser.step() once.",
            compute=None,
            recognise=_per_example(three_steps),
            example=learner.steps_on_each_example,
        ),
    )


def with_gradients_on(check: Callable[[Callable], Result]) -> Callable[[Callable], Result]:
    """``check`` run with gradients on, for an exercise whose job needs them (a loss that goes
    backward, a step that moves weights): a notebook cell under ``torch.no_grad()`` or
    ``torch.inference_mode()`` (left open around a check, or copied from an evaluation cell)
    made every right answer's loss lose its gradient, and the checker named the answer for it."""

    @wraps(check)
    def run(learner_fn: Callable) -> Result:
        with torch.inference_mode(False), torch.enable_grad():
            return check(learner_fn)

    return run


# --- Round 45b: the loss returned as text ---


def _returned_text(step_reference):
    """A ``recognise``: the losses returned as strings that read as the right numbers to the
    digits they show, rounded or not (f"{loss.item():.2f}", str(round(loss.item(), 2)),
    str(loss.item())): round 46 reads them as ``loss_text.reads_as`` does."""

    def recognise(fn, case, got) -> bool:
        returned = got[0] if isinstance(got, tuple) and len(got) == 2 else None
        if not returned or not all(isinstance(r, str) for r in returned):
            return False
        want = step_reference(*fresh(case))[0]
        return len(returned) == len(want) and all(reads_as(r, w) for r, w in zip(returned, want))

    return recognise


def _learner_returns_text(model, optimiser, loss_fn, batch):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    optimiser.step()
    return f"{loss.item():.4f}"  # formatted for printing, returned as it is


def round_45b(step_reference) -> tuple[Mistake, ...]:
    """Round 45b's: ``step_reference`` as in ``more_mistakes``."""
    return (
        Mistake(
            name="returned text",
            hint='You returned the loss as text (f"{loss:.4f}", str(loss.item())): the loop '
            "averages and plots the losses, and a string is no number. Return loss.item(), a "
            "float, and format it only where you print it.",
            compute=None,
            recognise=_returned_text(step_reference),
            example=_learner_returns_text,
        ),
    )
