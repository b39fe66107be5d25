"""A right answer whose values carry no gradient, or not all of it: computed under
``torch.no_grad()``, detached, rebuilt from ``.item()`` / ``.tolist()`` / NumPy into a new tensor,
or with one path detached (``x.detach() + sublayer(norm(x))``, the keys alone detached). Later
chapters train through the exercise's function (the layers, attention, the loss), so where the
reference's result has a gradient, the learner's must have the same one.

Judged on one case, after the values passed: the case's floating tensors are given gradients (as
activations, not leaves, so an in-place edit stays allowed) and its modules' weights keep theirs.
- A result with no ``grad_fn`` at all is named, and so is an answer that calls ``.numpy()``,
  which raises on a tensor that requires grad.
- Otherwise a fixed random projection of the result goes backward, and the gradient that reaches
  each INPUT tensor (x, q, k, scores, memory: not the weights) is compared with the reference's.
  The weights are left alone: an answer that copies them into a new layer first (lib's own layer,
  float64 copies) still trains that layer, and passes.
Anything else that goes wrong in this extra run (an error, a loop that never ends, a reference
that draws differently on two runs) judges nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .cases import fresh
from .in_place import parameter_names
from .time_limit import LIMIT_S, TookTooLong, time_limit

LEARNER_ERRORS = (Exception, SystemExit)

# The arguments that are weights, by the reference's names: w_q, w_1, b_2, weight, bias, gamma.
_WEIGHT = re.compile(r"^(?:[wb](?:_\w+)?|weights?|bias(?:es)?|gamma|beta)$")
_NUMPY = "numpy() on Tensor that requires grad"
_NUMPY_ERROR = object()  # what a gradient run returns when the learner's code called .numpy()


@dataclass(frozen=True)
class _GradientRun:
    """One call on a copy of the case that needs gradients: whether its result has a grad_fn,
    and the gradient of a fixed projection of the result with respect to each input tensor."""

    has_grad: bool
    grads: dict[int, torch.Tensor | None]  # by the argument's position


def without_gradients(learner_fn: Callable, reference_fn: Callable, case: tuple, *, name: str) -> str | None:
    """The hint when the learner's result carries less gradient than the reference's (None: it
    carries the same, or it could not be judged)."""
    inputs = _input_positions(reference_fn, learner_fn, case)
    reference = _gradient_run(reference_fn, case, inputs)
    if not isinstance(reference, _GradientRun) or not reference.has_grad:
        return None
    if not _same_run(_gradient_run(reference_fn, case, inputs), reference):  # draws differently
        inputs = ()
        reference = _GradientRun(True, {})
    with time_limit(LIMIT_S):
        try:
            learner = _gradient_run(learner_fn, case, inputs)
        except TookTooLong:
            return None
    if learner is _NUMPY_ERROR:
        return _numpy_hint(name)
    if not isinstance(learner, _GradientRun):
        return None
    if not learner.has_grad:
        return _no_gradient_hint(name)
    cut = [i for i in inputs if _cut(learner.grads.get(i), reference.grads.get(i))]
    return _cut_hint(name, [parameter_names(learner_fn, len(case))[i] for i in cut]) if cut else None


def _no_gradient_hint(name: str) -> str:
    return (
        f"{name} has the right values, but they were computed without gradients (torch.no_grad / "
        "detach): its result has no grad_fn, so in training loss.backward() could not reach the "
        "inputs and weights it came from, and nothing before it would learn. Compute it with torch "
        "operations straight from the tensors and layers you were given: no torch.no_grad() or "
        "torch.inference_mode(), .detach(), .data, .item(), .tolist(), .numpy() or "
        "torch.tensor(...) rebuilt from the values."
    )


def _numpy_hint(name: str) -> str:
    return (
        f"{name} has the right values, but they were computed without gradients (torch.no_grad / "
        "detach): it goes through NumPy (.numpy()), and in training, where its inputs require "
        'grad, .numpy() raises ("Can\'t call numpy() on Tensor that requires grad"); even '
        "detached first, NumPy's numbers carry no gradient, so loss.backward() could not reach "
        "what came before. Compute it with torch operations instead (torch.matmul or @, "
        "torch.softmax, .sum(), .sqrt() …), no np. calls and no torch.from_numpy(...)."
    )


def _cut_hint(name: str, cut: list[str]) -> str:
    names = " and ".join(dict.fromkeys(cut))
    return (
        f"{name} has the right values, but it cuts the gradient to {names}: in training, "
        f"loss.backward() would send {names} another gradient than the reference does (a path "
        "detached, computed under torch.no_grad(), or rebuilt from .item() / .tolist()), so what "
        "came before it would learn from a wrong gradient. Use the tensors as you were given them "
        "on every path: no .detach(), .data or torch.no_grad() on any part of the computation."
    )


def _input_positions(reference_fn: Callable, learner_fn: Callable, case: tuple) -> tuple[int, ...]:
    """The positions of the case's floating tensors that are inputs, not weights, by the
    reference's parameter names (the learner's where the reference takes *args)."""
    names = parameter_names(reference_fn, len(case))
    if any(n.startswith("argument #") for n in names):
        names = parameter_names(learner_fn, len(case))
    return tuple(
        i
        for i, (item, n) in enumerate(zip(case, names, strict=True))
        if isinstance(item, torch.Tensor) and item.is_floating_point() and not _WEIGHT.match(n)
    )


def _gradient_run(fn: Callable, case: tuple, inputs: tuple[int, ...]) -> _GradientRun | object | None:
    """``fn`` on a copy of the case that needs gradients (None: the call failed; _NUMPY_ERROR:
    it failed because it called .numpy())."""
    try:  # under torch.inference_mode() even the copy fails: nothing is judged then
        with torch.enable_grad(), torch.random.fork_rng(devices=[]):
            leaves, args = _with_gradients(case)
            torch.default_generator.manual_seed(0)
            outputs = _tensors(fn(*args))
            if all(t.grad_fn is None for t in outputs):
                return _GradientRun(False, {})
            return _GradientRun(True, _input_gradients(outputs, {i: leaves[i] for i in inputs}))
    except LEARNER_ERRORS as err:
        return _NUMPY_ERROR if _NUMPY in str(err) else None


def _input_gradients(outputs: list[torch.Tensor], leaves: dict[int, torch.Tensor]) -> dict:
    """The gradient of a fixed random projection of the first output, sum(out * g), to each leaf
    (None where none reaches it). The same g for the learner and the reference: same shape, same
    seed. Only the first: what trains (attention's output); the weights returned beside it are for
    looking at, and a learner may detach them (attention_weights.detach() for a plot)."""
    positions = list(leaves)
    if not positions:  # token ids only (a model's forward): no input to compare
        return {}
    out = outputs[0]
    if out.grad_fn is None or not out.is_floating_point():
        return dict.fromkeys(positions)  # nothing reaches any input through the output
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(1234)).to(out.dtype)
    total = (torch.where(out.isfinite(), out, 0) * g).sum()
    grads = torch.autograd.grad(total, [leaves[i] for i in positions], allow_unused=True)
    return {i: None if g is None else g.detach() for i, g in zip(positions, grads, strict=True)}


def _same_run(again: object, first: _GradientRun) -> bool:
    """Whether a second run of the reference gave the same gradients (not where it draws
    differently each time: then no gradient can be compared)."""
    if not isinstance(again, _GradientRun) or again.grads.keys() != first.grads.keys():
        return False
    pairs = [(again.grads[i], first.grads[i]) for i in first.grads]
    return all((a is None) == (b is None) and (a is None or torch.equal(a, b)) for a, b in pairs)


def _cut(mine: torch.Tensor | None, theirs: torch.Tensor | None) -> bool:
    """Whether the learner's gradient to an input is missing or clearly not the reference's (the
    reference's not zero). Generous tolerances: float64 answers, sums in another order. Entries
    where either is not finite (a row with no right answer, 0/0) are left out."""
    if theirs is None:
        return False
    mine = torch.zeros_like(theirs) if mine is None else mine.to(theirs.dtype)
    finite = theirs.isfinite() & mine.isfinite()
    mine, theirs = mine[finite], theirs[finite]
    if theirs.numel() == 0 or not bool(theirs.abs().max() > 0):
        return False
    scale = float(theirs.abs().max())
    return not torch.allclose(mine, theirs, rtol=1e-2, atol=1e-3 * scale)


def _with_gradients(case: tuple) -> tuple[dict[int, torch.Tensor], tuple]:
    """A fresh copy of the case whose floating tensors need gradients, as activations do (not
    leaves: in-place edits stay allowed), and the leaves they come from, by position. Modules
    keep their weights, which need gradients."""
    leaves, args = {}, []
    for i, item in enumerate(fresh(case)):
        if isinstance(item, torch.Tensor) and item.is_floating_point():
            leaves[i] = item.detach().requires_grad_()
            item = leaves[i] * 1
        args.append(item)
    return leaves, tuple(args)


def _tensors(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _tensors(item)]
    return []
