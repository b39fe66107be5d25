"""More of ``train_step``'s catalogue: the wrong answers met in round 42's battery (a loss of its
own in place of loss_fn, a 0-d NumPy array or a rounded or rescaled loss returned, the optimiser's
learning rate changed, each gradient clipped, the model given the targets), each with its hint and
a learner-style example (in ``train_step_learners``).

As in ``train_step_more``, what the mistakes compute takes the reference as an argument, so that
this module does not import ``train_step``.
"""

from __future__ import annotations

import numbers
from functools import partial

import numpy as np
import torch
from torch import nn

from . import train_step_learners as learner
from .describe import same
from .harness import Mistake, fresh

CLIP_VALUES = (0.1, 0.25, 0.5, 1.0)  # clip_value's usual choices


def _never_calls_the_loss(fn, case, got) -> bool:
    """Three steps that train the model (its weights move) without ever calling the loss_fn they
    are given: a loss of their own."""
    model, optimiser, loss_fn, batches = fresh(case)
    before = [p.detach().clone() for p in model.parameters()]
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return loss_fn(*args, **kwargs)

    fn(model, optimiser, counted, batches)
    moved = any(not torch.equal(p.detach(), b) for p, b in zip(model.parameters(), before))
    return not calls and moved


def _returned(got) -> list | None:
    """What the three steps returned (None where the steps did not even end as a pair)."""
    return got[0] if isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], list) else None


def _losses_with_right_weights(step_reference, case, got) -> tuple[list, list] | None:
    """(what the steps returned, the right losses) when the weights are right, else None."""
    returned, want = _returned(got), step_reference(*fresh(case))
    if returned is None or len(returned) != len(want[0]) or not same(got[1], want[1]):
        return None
    return returned, want[0]


def _numpy_numbers(step_reference):
    """The right losses, each as a NumPy array of one entry (loss.detach().numpy() is 0-d). A
    NumPy scalar (np.float32(loss.item())) is a real number, and passes: the harness's ``same``
    takes it, as do the chapter's torch.tensor(losses), round() and f"{loss:.3f}"."""

    def recognise(fn, case, got) -> bool:
        pair = _losses_with_right_weights(step_reference, case, got)
        if pair is None or not all(isinstance(r, np.ndarray) and r.size == 1 for r in pair[0]):
            return False
        return same([float(r) for r in pair[0]], pair[1])

    return recognise


def _rounded(step_reference):
    def recognise(fn, case, got) -> bool:
        pair = _losses_with_right_weights(step_reference, case, got)
        if pair is None or not all(isinstance(r, numbers.Real) for r in pair[0]):
            return False
        return any(all(r == round(w, n) for r, w in zip(*pair)) for n in range(1, 7))

    return recognise


def _rescaled(step_reference):
    """The right steps, and each returned number the loss times one same factor (≠ 1)."""

    def recognise(fn, case, got) -> bool:
        pair = _losses_with_right_weights(step_reference, case, got)
        if pair is None or not all(isinstance(r, numbers.Real) for r in pair[0]) or not pair[1][0]:
            return False
        factor = pair[0][0] / pair[1][0]
        return abs(factor - 1) > 1e-3 and same([float(r) for r in pair[0]], [factor * w for w in pair[1]])

    return recognise


def _changes_the_learning_rate(fn, case, got) -> bool:
    model, optimiser, loss_fn, batches = fresh(case)
    before = [group["lr"] for group in optimiser.param_groups]
    fn(model, optimiser, loss_fn, batches)
    return [group["lr"] for group in optimiser.param_groups] != before


def _value_clipped_step(model, optimiser, loss_fn, batch, *, value):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    nn.utils.clip_grad_value_(model.parameters(), value)
    optimiser.step()
    return loss.item()


def _clips_each_gradient(three_steps):
    def recognise(fn, case, got) -> bool:
        steps = (three_steps(partial(_value_clipped_step, value=v)) for v in CLIP_VALUES)
        return any(same(got, step(*fresh(case))) for step in steps)

    return recognise


# First of the catalogue: a step that never calls loss_fn can look like any slip of the loss
# (its own loss may be the right one times 2), and that it never calls it is certain.
LOSS_FN_NEVER_CALLED = Mistake(
    name="loss_fn never called",
    hint="Your step never calls loss_fn: it computes a loss of its own (F.mse_loss, "
    "F.cross_entropy, a loss from another cell). The caller chooses the loss: "
    "loss = loss_fn(model, batch), then backward and step as before.",
    compute=None,
    recognise=_never_calls_the_loss,
    example=learner.computes_its_own_loss,
)


def slip_mistakes(step_reference, three_steps) -> tuple[Mistake, ...]:
    """Round 42's mistakes; ``step_reference`` and ``three_steps`` as in ``more_mistakes``."""
    return (
        Mistake(
            name="a NumPy number returned",
            hint="You returned a 0-d NumPy array (loss.detach().numpy()), not a number: the "
            "loop keeps the losses in a list, and torch.tensor(losses) refuses a list of arrays "
            "(TypeError: len() of unsized object), as round() refuses an array. Return a plain "
            "number, loss.item(); a NumPy scalar such as np.float32(loss.item()) works too.",
            compute=None,
            recognise=_numpy_numbers(step_reference),
            example=learner.returns_a_numpy_number,
        ),
        Mistake(
            name="loss rounded",
            hint="Your steps are right, but the loss you return is rounded (round(loss.item(), "
            "n)): the curve then moves in jumps and hides small changes. Return loss.item() as "
            'it is, and round only where you print it (f"{loss:.3f}").',
            compute=None,
            recognise=_rounded(step_reference),
            example=learner.rounds_the_loss,
        ),
        Mistake(
            name="returned loss rescaled",
            hint="Your steps move the weights right, but the number you return is the loss times "
            "a factor (the batch size, to make it a total?): return the loss that was "
            "back-propagated, loss.item(), as loss_fn gave it (the mean over the batch).",
            compute=None,
            recognise=_rescaled(step_reference),
            example=learner.returns_the_sum_over_the_batch,
        ),
        Mistake(
            name="learning rate changed",
            hint="Your step changes the optimiser's learning rate (param_groups[…]['lr'] = …): the "
            "optimiser comes with the settings its caller chose, and the step only uses it: "
            "zero_grad, loss, backward, optimiser.step().",
            compute=None,
            recognise=_changes_the_learning_rate,
            example=learner.sets_the_learning_rate,
        ),
        Mistake(
            name="each gradient clipped",
            hint="You clipped each gradient's entries (clip_grad_value_) before the step: a "
            "habit of some training loops, but not part of this step, and it changes where the "
            "weights go. Leave it out: zero_grad() → loss → loss.backward() → optimiser.step().",
            compute=None,
            recognise=_clips_each_gradient(three_steps),
            example=learner.clips_each_gradient,
        ),
        Mistake(
            name="the model given the targets",
            hint="The model was given the targets: batch is (inputs, targets), and loss_fn(model, "
            "batch) runs the model on the inputs itself. Pass the batch as it comes, without "
            "unpacking it: loss = loss_fn(model, batch).",
            compute=None,
            # The case's targets have 2 features, where its first layer takes 4 (4x8).
            error=r"mat1 and mat2 shapes cannot be multiplied \(\d+x2 and 4x8\)",
            example=learner.feeds_the_targets_to_the_model,
        ),
    )
