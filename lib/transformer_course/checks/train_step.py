"""Exercise 08b: one training step.

``train_step(model, optimiser, loss_fn, batch) → float``: clear the old gradients, compute
``loss_fn(model, batch)``, back-propagate, let the optimiser move the weights; return the loss
as a plain number. The checker runs it on three batches in a row and compares the losses it
returned and the weights it left.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from . import train_step_learners as learner
from .describe import same
from .harness import PASSED, Exercise, Mistake, Result, check_function, fresh
from .stale import learner_check
from .train_step_learners import step_by_hand
from .train_step_more import more_mistakes, round_45b, with_gradients_on
from .train_step_round50 import named_why_still
from .train_step_slips import LOSS_FN_NEVER_CALLED, slip_mistakes
from .wording import own_name

# --- The learner's side: the starter, a worked solution (more answers: train_step_learners) ---


def step_starter(model: nn.Module, optimiser, loss_fn: Callable, batch) -> float:
    """One step of gradient descent on ``batch``; returns the loss before the step, a float."""
    raise NotImplementedError


def step_solution(model: nn.Module, optimiser, loss_fn: Callable, batch) -> float:
    """One step of gradient descent on ``batch``; returns the loss before the step, a float."""
    optimiser.zero_grad()  # forget the previous batch's gradients
    loss = loss_fn(model, batch)  # forward: how wrong on this batch?
    loss.backward()  # backward: d loss / d weight, for every weight
    optimiser.step()  # move every weight a little downhill
    return loss.item()


STEP_ALTERNATIVES = {
    "zero_grad on the model, float(loss)": learner.zero_grad_on_the_model,
    "zero_grad last": lambda m, o, f, b: step_by_hand(m, o, f, b, order=("loss", "backward", "step", "zero")),
    "loss first": lambda m, o, f, b: step_by_hand(m, o, f, b, order=("loss", "zero", "backward", "step")),
    "optimiser.step(closure)": learner.through_a_closure,
}


# --- The checker's side: reference, test cases, the catalogue of mistakes ---


def _three_steps(step: Callable) -> Callable:
    """``step`` run on three batches in a row → (what it returned each time, the final weights)."""

    def run(model, optimiser, loss_fn, batches):
        returned = [step(model, optimiser, loss_fn, batch) for batch in batches]
        weights = torch.cat([p.detach().flatten() for p in model.parameters()])
        if not model.training:  # the model came in training mode: the step switched it off
            return LeftInEval(returned, weights)
        return returned, weights

    run.__wrapped__ = step  # the learner's code, for the harness's warnings and its name
    return run


class LeftInEval:
    """What three steps returned when they left the model in evaluation mode (model.eval()):
    not a pair, so never the reference's answer; named by its own mistake."""

    def __init__(self, returned: list, weights: torch.Tensor):
        self.returned, self.weights = returned, weights

    def __repr__(self) -> str:
        return "a model left in evaluation mode"


def _step_reference(model, optimiser, loss_fn, batches, **mistake):
    order = mistake.get("order", ("zero", "loss", "backward", "step"))
    return _three_steps(partial(step_by_hand, order=order))(model, optimiser, loss_fn, batches)


def _step_cases() -> list[tuple]:
    # A small network, three batches, SGD with momentum and Adam: gradients that accumulate,
    # or a step that comes too early, leave different weights after the third step.
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(82)
        cases = []
        for make in (
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5),
            lambda p: torch.optim.Adam(p, lr=0.05),
        ):
            model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
            batches = [(torch.randn(6, 4), torch.randn(6, 2)) for _ in range(3)]
            cases.append((model, make(model.parameters()), _mse, batches))
    return cases


LOSS_FN_CALL = "loss_fn takes the model and the batch"


def _mse(model, batch=None, *extra):
    """The exercise's ``loss_fn(model, batch)``; called PyTorch's way (``loss_fn(output,
    target)``, ``loss_fn(model, x, y)``) it says how it is called, not what broke inside."""
    if not isinstance(model, nn.Module) or extra or not (isinstance(batch, tuple) and len(batch) == 2):
        raise TypeError(f"{LOSS_FN_CALL}, loss_fn(model, batch): it runs the model on the batch itself")
    x, y = batch
    return F.mse_loss(model(x), y)


def _returned(kind: type) -> Callable:
    return lambda fn, case, got: (
        any(isinstance(r, kind) for r in got[0]) or (kind is type(None) and any(r is None for r in got[0]))
    )


def _optimiser_unused(fn, case, got) -> bool:
    """The weights moved, but not through the optimiser handed in: it holds no state after
    three steps (SGD with momentum and Adam both keep some once step() has run). ``fn`` is the
    learner's step already run three times, as the checker calls it."""
    model, optimiser, loss_fn, batches = fresh(case)
    before = [p.detach().clone() for p in model.parameters()]
    with torch.random.fork_rng(devices=[]):
        fn(model, optimiser, loss_fn, batches)
    moved = any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    return moved and not optimiser.state


CLIP_NORMS = (0.1, 0.25, 0.5, 1.0, 2.0)  # max_norm values copied from training loops (nanoGPT: 1.0)


def _clipped_step(model, optimiser, loss_fn, batch, *, max_norm):
    optimiser.zero_grad()
    loss = loss_fn(model, batch)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimiser.step()
    return loss.item()


def _clips_the_gradients(fn, case, got) -> bool:
    """Three steps that match the reference's with the gradients clipped to a usual max_norm."""
    return any(
        same(got, _three_steps(partial(_clipped_step, max_norm=norm))(*fresh(case))) for norm in CLIP_NORMS
    )


STEP_MISTAKES = (
    Mistake(
        name="model.eval() in the step",
        hint="Your step switched the model to evaluation mode (model.eval()) and left it there: "
        "dropout is then off for the rest of training, and the model learns without it. A "
        "training step keeps the model in training mode: leave model.eval() out (call "
        "model.train() at the start if anything).",
        compute=None,
        recognise=lambda fn, case, got: isinstance(got, LeftInEval),
        example=learner.evaluates,
    ),
    Mistake(
        name="loss_fn called another way",
        hint="Call the loss function as the exercise hands it over, loss_fn(model, batch): it "
        "runs the model on the batch and compares with the targets itself (unlike "
        "nn.MSELoss, which takes the output and the target).",
        compute=None,
        error=LOSS_FN_CALL,
        example=learner.calls_loss_pytorch_style,
    ),
    Mistake(
        name="returned the tensor",
        hint="Return the loss as a plain number, loss.item(): a loss tensor keeps its whole "
        "computation graph alive, and a training loop that stores them runs out of memory.",
        compute=None,
        recognise=_returned(torch.Tensor),
        example=partial(step_by_hand, returns="tensor"),
    ),
    Mistake(
        name="returned nothing",
        hint="Your step returns nothing: return the loss of this batch, loss.item(), so that the "
        "loop can plot it.",
        compute=None,
        recognise=_returned(type(None)),
        example=partial(step_by_hand, returns="none"),
    ),
    Mistake(
        name="no zero_grad",
        hint="The gradients are never cleared: loss.backward() ADDS to the gradients already "
        "stored, so every step also follows all the previous batches. Call optimiser.zero_grad() "
        "at the start of each step (with its brackets: optimiser.zero_grad alone does nothing).",
        compute=partial(_step_reference, order=("loss", "backward", "step")),
        example=partial(step_by_hand, order=("loss", "backward", "step")),
    ),
    Mistake(
        name="step twice",
        hint="optimiser.step() ran twice in one step: the weights moved twice along the same "
        "gradients (and Adam's or momentum's memory counted two steps). Call it once per batch: "
        "zero_grad() → loss → loss.backward() → optimiser.step().",
        compute=partial(_step_reference, order=("zero", "loss", "backward", "step", "step")),
        example=learner.steps_twice,
    ),
    Mistake(
        name="loss divided by the batch size",
        hint="You divided the loss by the batch size: loss_fn already returns the MEAN over the "
        "batch, so yours is B times too small, and so are its gradients. Use it as it comes, "
        "loss = loss_fn(model, batch).",
        compute=partial(_step_reference, order=("zero", "loss / B", "backward", "step")),
        example=learner.divides_by_the_batch_size,
    ),
    Mistake(
        name="backward through -loss",
        hint="You back-propagated -loss, so the step climbs the loss instead of descending it: "
        "optimiser.step() already moves AGAINST the gradient. Call loss.backward() on the loss "
        "itself.",
        compute=partial(_step_reference, order=("zero", "loss", "ascend", "step")),
        example=learner.climbs_the_loss,
    ),
    Mistake(
        name="weights never move",
        hint="The weights never changed: optimiser.step() ran without gradients (loss.backward "
        "without its brackets computes none; or step ran before loss.backward(), or after a "
        "zero_grad() that cleared them), or not at all (optimiser.step without its brackets does "
        "nothing). The order is zero_grad() → loss → loss.backward() → optimiser.step().",
        compute=partial(_step_reference, order=("zero", "loss", "step", "backward")),
        example=partial(step_by_hand, order=("loss", "backward", "zero", "step")),
    ),
    Mistake(
        name="step between the loss and backward",
        hint="optimiser.step() ran between computing the loss and loss.backward(): it changed the "
        "weights the loss was computed from, so autograd refuses. The order is zero_grad() → "
        "loss → loss.backward() → optimiser.step().",
        compute=None,
        error="modified by an inplace operation",
        example=partial(step_by_hand, order=("loss", "step", "zero", "backward")),
    ),
    Mistake(
        name="optimiser not used",
        hint="The weights moved, but not through the optimiser you were given: a new one made "
        "inside the step (or a hand-written update) forgets its momentum and its learning rate "
        "at every call. Use the argument: optimiser.zero_grad() … optimiser.step().",
        compute=None,
        recognise=_optimiser_unused,
        example=learner.makes_an_optimiser,
    ),
    Mistake(
        name="gradients clipped",
        hint="You clipped the gradients (clip_grad_norm_) before the step: a good habit in long "
        "training runs, but not part of this step, and it changes where the weights go. Leave "
        "it out: zero_grad() → loss → loss.backward() → optimiser.step().",
        compute=None,
        recognise=_clips_the_gradients,
        example=learner.clips,
    ),
    Mistake(
        name="loss after the step",
        hint="You returned the loss computed AFTER the step, on the new weights: return the loss "
        "that was back-propagated, the one computed before optimiser.step().",
        compute=partial(_step_reference, order=("zero", "loss", "backward", "step", "loss again")),
        example=lambda model, optimiser, loss_fn, batch: learner.reports_the_new_loss(
            model, optimiser, loss_fn, batch
        ),
    ),
    Mistake(
        name="loss without gradients",
        hint="The loss has no gradient to follow: it was computed under torch.no_grad(), or "
        "turned into a number (.item()) before .backward(). Compute it normally and call "
        "loss.backward() on the tensor.",
        compute=None,
        error="does not require grad|has no attribute 'backward'",
        example=lambda model, optimiser, loss_fn, batch: learner.without_grad(
            model, optimiser, loss_fn, batch
        ),
    ),
    Mistake(
        name="backward twice",
        hint="loss.backward() ran twice on the same loss: the graph is freed after the first "
        "backward. Call it once per step.",
        compute=None,
        error="backward through the graph a second time",
        example=lambda model, optimiser, loss_fn, batch: learner.backward_twice(
            model, optimiser, loss_fn, batch
        ),
    ),
)
STEP_MISTAKES += more_mistakes(_step_reference, _three_steps)  # met in the ninth audit and after
STEP_MISTAKES = (
    LOSS_FN_NEVER_CALLED,
    *STEP_MISTAKES,
    *slip_mistakes(_step_reference, _three_steps),
    *round_45b(_step_reference),  # the loss returned as text: train_step_more
)  # round 42


@learner_check
@with_gradients_on
def check_train_step(learner_fn: Callable) -> Result:
    """Exercise 08b: ``fn(model, optimiser, loss_fn, batch) → float``, one step of training.

    Run on three batches in a row; the losses it returns and the weights it leaves are compared."""
    if not callable(learner_fn):
        raise ValueError(f"learner_fn must be a function, got {type(learner_fn).__name__}")
    result = check_function(
        _three_steps(learner_fn),
        _step_reference,
        _step_cases(),
        name="train_step",
        mistakes=STEP_MISTAKES,
        parts=("losses it returned", "weights after three steps"),
        updates_in_place=True,  # a step's job is to move the model's weights
    )
    if not result.passed:  # "the weights never changed": which slip, round 50
        return named_why_still(result, learner_fn, _step_cases()[0], STEP_MISTAKES)
    # Its "inputs" are two runs of three steps: say what they were.
    return Result(
        PASSED,
        f"{own_name(learner_fn, 'train_step')} matches the reference: the same losses and the same "
        "weights after three batches in a row, with SGD (momentum) and with Adam.",
    )


EXERCISES = (
    Exercise(
        name="train_step",
        chapter="08",
        check=check_train_step,
        solution=step_solution,
        starter=step_starter,
        alternatives=STEP_ALTERNATIVES,
        mistakes=STEP_MISTAKES,
        updates_in_place=True,
    ),
)
