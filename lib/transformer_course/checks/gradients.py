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
- A model that takes token ids only (gpt_forward, encoder_decoder_forward) has no such input:
  there the gradients that reach the WEIGHTS of the parts it is handed are compared, and the
  parts whose weights get none (memory.detach(): the encoder's) or another are named. The
  learner must use those very parts, so their weights' gradients are what trains; entries the
  reference leaves at 0 (nn.Embedding's <pad> row) are not compared, and weights the learner
  froze are left to ``side_effects``, which warns.
- An error raised where training would raise it is named: in backward (an in-place edit of a
  tensor kept for the gradient, a backward that fails), or an in-place edit autograd refuses at
  once. Where the function had changed a tensor it was given in place, which ``in_place`` warns
  of already, it is said in that warning instead (``GradientWarning``): the answer passes.
  The weights' part of all this: ``gradients_more``.
Anything else that goes wrong in this extra run (another error in the call, a loop that never
ends, a reference that draws differently on two runs) judges nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .cases import fresh
from .gradients_more import cut_weights, versions, weights_hint, weights_of
from .in_place import parameter_names
from .time_limit import LIMIT_S, TookTooLong, time_limit

LEARNER_ERRORS = (Exception, SystemExit)

# The arguments that are weights, by the reference's names: w_q, w_1, b_2, weight, bias, gamma.
_WEIGHT = re.compile(r"^(?:[wb](?:_\w+)?|weights?|bias(?:es)?|gamma|beta)$")
_NUMPY = "numpy() on Tensor that requires grad"
_NUMPY_ERROR = object()  # what a gradient run returns when the learner's code called .numpy()
# What autograd says of an in-place edit it cannot differentiate through: in backward ("…
# modified by an inplace operation"), or at once (a leaf, a view of several outputs).
_IN_PLACE = re.compile(r"inplace|in-place")


@dataclass(frozen=True)
class _GradientRun:
    """One call on a copy of the case that needs gradients: whether its result has a grad_fn,
    and the gradient of a fixed projection of the result with respect to each input tensor."""

    has_grad: bool
    # By the input's position; a weight's by (its part, its name): ("parts.encoder", "layers.0.…").
    grads: dict[int | tuple[str, str], torch.Tensor | None]


@dataclass(frozen=True)
class _Broken:
    """A gradient run that raised where training would: in backward, or an in-place edit
    that autograd refuses. ``changed_arguments``: the call had changed a tensor it was given in
    place (x += …, or a weight), which ``in_place`` warns of already."""

    error: BaseException
    changed_arguments: bool = False


@dataclass(frozen=True)
class GradientWarning:
    """Not a verdict: what a passed verdict adds when backward raised because the function
    changed a tensor it was given in place (the harness warns of that change itself; this
    says that training would break too)."""

    raised: str  # "RuntimeError: one of the variables needed …"

    def text(self, *, also: bool) -> str:
        """``also``: another warning comes before this one."""
        lead = " And" if also else " But beware:"
        return (
            f"{lead} in training, loss.backward() through it would raise ({self.raised}): it "
            "changed a tensor it was given in place (x += …, x[...] = …) after autograd had kept "
            "it for the gradient. Compute into a new tensor instead (x = x + …)."
        )


def without_gradients(
    learner_fn: Callable, reference_fn: Callable, case: tuple, *, name: str
) -> str | GradientWarning | None:
    """The hint when the learner's result carries less gradient than the reference's, or when
    backward through it raises (None: it carries the same, or it could not be judged; a
    ``GradientWarning`` where it raised because the learner changed its own arguments)."""
    names = _argument_names(reference_fn, learner_fn, case)
    inputs = _input_positions(case, names)
    reference = _gradient_run(reference_fn, case, inputs, names)
    if not isinstance(reference, _GradientRun) or not reference.has_grad:
        return None
    if not _same_run(_gradient_run(reference_fn, case, inputs, names), reference):  # draws differently
        inputs, names = (), None  # no input, no weight compared: only whether it has a gradient
        reference = _GradientRun(True, {})
    with time_limit(LIMIT_S):
        try:
            learner = _gradient_run(learner_fn, case, inputs, names)
        except TookTooLong:
            return None
    if learner is _NUMPY_ERROR:
        return _numpy_hint(name)
    if isinstance(learner, _Broken) and learner.changed_arguments:
        return GradientWarning(_raised(learner.error))
    if isinstance(learner, _Broken):
        return _broken_hint(name, learner.error)
    if not isinstance(learner, _GradientRun):
        return None
    if not learner.has_grad:
        return _no_gradient_hint(name)
    cut = [i for i in inputs if _cut(learner.grads.get(i), reference.grads.get(i))]
    if cut:
        return _cut_hint(name, [parameter_names(learner_fn, len(case))[i] for i in cut])
    return weights_hint(name, *cut_weights(learner.grads, reference.grads))


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


def _raised(err: BaseException) -> str:
    """The error as the learner would read it: its type and its first line."""
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def _broken_hint(name: str, err: BaseException) -> str:
    """An error that training through the function would raise too."""
    raised = _raised(err)
    if _IN_PLACE.search(str(err)):
        return (
            f"{name} has the right values, but an in-place change (x += …, x[...] = …) broke the "
            "gradient: autograd keeps some tensors for backward, and yours changed one of them (or "
            "a view it cannot follow), so loss.backward() in training would raise. Make a new "
            "tensor instead, x = x / s rather than x /= s, torch.where(...) rather than x[...] = "
            f"…. ({raised})"
        )
    return (
        f"{name} has the right values, but loss.backward() through it raises, so training "
        f"would stop at its first step: {raised}. Build it from torch operations autograd can "
        "differentiate (an autograd.Function of your own needs its backward)."
    )


def _argument_names(reference_fn: Callable, learner_fn: Callable, case: tuple) -> list[str]:
    """The names of the case's arguments: the reference's (the learner's where the reference
    takes *args)."""
    names = parameter_names(reference_fn, len(case))
    if any(n.startswith("argument #") for n in names):
        names = parameter_names(learner_fn, len(case))
    return names


def _input_positions(case: tuple, names: list[str]) -> tuple[int, ...]:
    """The positions of the case's floating tensors that are inputs, not weights, by name."""
    return tuple(
        i
        for i, (item, n) in enumerate(zip(case, names, strict=True))
        if isinstance(item, torch.Tensor) and item.is_floating_point() and not _WEIGHT.match(n)
    )


def _gradient_run(fn: Callable, case: tuple, inputs: tuple[int, ...], names) -> _GradientRun | object | None:
    """``fn`` on a copy of the case that needs gradients (None: the call failed; _NUMPY_ERROR:
    it failed because it called .numpy(); _Broken: it raised where training would). With no
    input (token ids only), the gradients reaching the weights of the modules it is handed."""
    try:  # under torch.inference_mode() even the copy fails: nothing is judged then
        with torch.enable_grad(), torch.random.fork_rng(devices=[]):
            leaves, args = _with_gradients(case)
            weights = {} if inputs or names is None else weights_of(args, names)
            before = versions(args)
            torch.default_generator.manual_seed(0)
            try:
                outputs = _tensors(fn(*args))
            except LEARNER_ERRORS as err:
                if _NUMPY in str(err):
                    return _NUMPY_ERROR
                return _Broken(err, versions(args) != before) if _IN_PLACE.search(str(err)) else None
            if all(t.grad_fn is None for t in outputs):
                return _GradientRun(False, {})
            # Weights the call froze (requires_grad_(False)) are side_effects' to name, not ours.
            targets = {i: leaves[i] for i in inputs} | {k: w for k, w in weights.items() if w.requires_grad}
            try:
                return _GradientRun(True, _input_gradients(outputs, targets))
            except LEARNER_ERRORS as err:  # backward raised: so would loss.backward() in training
                return _Broken(err, versions(args) != before)
    except LEARNER_ERRORS:
        return None


def _input_gradients(outputs: list[torch.Tensor], leaves: dict) -> dict:
    """The gradient of a fixed random projection of the first output, sum(out * g), to each leaf
    (None where none reaches it). The same g for the learner and the reference: same shape, same
    seed. Only the first: what trains (attention's output); the weights returned beside it are for
    looking at, and a learner may detach them (attention_weights.detach() for a plot)."""
    positions = list(leaves)
    if not positions:  # nothing to compare (no input, and no weight that needs a gradient)
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
