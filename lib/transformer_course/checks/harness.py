"""The harness every exercise uses: run a learner's function, compare it with the reference,
name the mistake.

- ``check_function`` calls the learner's function and the reference on fresh copies of each
  test case, under a forked random state: the learner cannot spoil the inputs of the next call
  (a pass warns when it changed them: ``in_place``, or left a module it was given in another
  mode, ``side_effects``), and a check never moves the caller's RNG.
- Every call starts from the same seeded random state, so code that draws (dropout, sampling)
  can be compared, and a function that draws where it should not can be named.
- A wrong answer is compared with each known ``Mistake``; the first that matches gives its
  hint, otherwise the message says where the answer differs and by how much (``describe``).
  An exception is matched against the mistakes' ``error`` patterns the same way; one with
  ``failed_at`` only where the learner's call, re-run once, failed as it says (``failure``). A
  shape error none names, raised where an operand had lost a reduction's axis: ``lost_axis``.
- A learner's call that runs past ``LIMIT_S`` (30 s) is stopped, named as a loop that may never end.
- Split by idea, each still importable from here: ``result`` (the verdict), ``records``
  (``Mistake``, ``Exercise``), ``random_draws`` (answers that draw where they should not) and
  ``cases`` (fresh copies, seeded data).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, partial

import torch

from .cases import fresh, randn
from .describe import describe_difference, same
from .failure import Failure, rerun, run
from .gradients import GradientWarning, without_gradients
from .in_place import changed_arguments, in_place_warning
from .lost_axis import lost_axis_hint
from .random_draws import draws_at_random, varies_between_calls
from .records import Exercise, Mistake
from .result import CHECK_COLOURS, ERROR, NOT_ATTEMPTED, PASSED, THEME_COLOURS, WRONG, Result
from .side_effects import changed_in_training_mode, changed_states, side_effect_warning
from .time_limit import LIMIT_S, TookTooLong, time_limit
from .wording import own_name, signature_error, torch_refused

# Kept importable from here, where chapters, tests and the exercise modules import them.
__all__ = [
    "CHECK_COLOURS",
    "ERROR",
    "LEARNER_ERRORS",
    "NOT_ATTEMPTED",
    "PASSED",
    "THEME_COLOURS",
    "WRONG",
    "Exercise",
    "Mistake",
    "Result",
    "check_function",
    "check_then_batch",
    "describe_difference",
    "draws_at_random",
    "every_input",
    "fresh",
    "randn",
    "same",
    "varies_between_calls",
]

# What a learner's function may raise and the checker reports: any error, and sys.exit() or
# exit() too, which would otherwise end the check (in a notebook, quietly) without a verdict.
LEARNER_ERRORS = (Exception, SystemExit)


@contextlib.contextmanager
def defaults_kept():
    """torch's default dtype and grad mode kept: a learner's set_default_dtype ends with its call."""
    dtype, grad = torch.get_default_dtype(), torch.is_grad_enabled()
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)


@contextlib.contextmanager
def distributions_validated():
    """torch.distributions check their arguments, as they do by default, while a check runs.
    Once torch.compile has compiled anything, the whole process has that check off (dynamo turns
    it off when it starts): a Categorical given logits as probs then draws nonsense instead of
    raising the error that names the mistake."""
    dist = torch.distributions.Distribution
    was = dist._validate_args
    dist.set_default_validate_args(True)
    try:
        yield
    finally:
        dist.set_default_validate_args(was)


def check_function(
    learner_fn: Callable,
    reference_fn: Callable,
    cases: Sequence[tuple],
    *,
    name: str,
    mistakes: Sequence[Mistake] = (),
    atol: float = 1e-5,
    seed: int = 0,
    parts: Sequence[str] | None = None,
    inputs: str = "input",
    updates_in_place: bool = False,
    needs_grad: bool = False,
    lost_axes: bool = True,
) -> Result:
    """Call ``learner_fn(*case)`` for every case and compare with ``reference_fn(*case)``.

    Every call gets its own deep copy of the case (tensors and modules alike), so a function
    that changes its arguments in place cannot spoil the comparison. Every call starts from
    the global (CPU) random state seeded with ``seed``, so code that draws (dropout,
    sampling) draws the same numbers in the learner's function, the reference and each
    mistake; the caller's random state is restored afterwards. ``parts`` names the items of
    a result that is a tuple, e.g. ("output", "weights"), for the messages; ``inputs``: what
    the messages call a case ("input #2", "batched input #2"). A call of the learner's
    function that runs past ``LIMIT_S`` is stopped (``time_limit``) and reported as such.
    ``needs_grad``: later chapters train through this function, so right values computed
    without gradients (no_grad, detach, .item()) are wrong (``gradients``). ``lost_axes``: a
    shape error no mistake names is named as a reduction's lost axis where it was (``lost_axis``).
    """
    if not callable(learner_fn):
        raise ValueError(f"learner_fn must be a function, got {type(learner_fn).__name__}")
    run = _Run(learner_fn, reference_fn, name, tuple(mistakes), atol, seed, parts, inputs, lost_axes)
    with defaults_kept():  # the learner's torch.set_default_dtype does not outlive the check
        return _checked(run, cases, learner_fn, reference_fn, needs_grad, updates_in_place, seed)


def _checked(run, cases, learner_fn, reference_fn, needs_grad, updates_in_place, seed) -> Result:
    with torch.random.fork_rng(devices=[]), distributions_validated():
        for number, case in enumerate(cases, start=1):
            failure = run.check(case, number)
            if failure is not None:
                return failure
    # Right values; later chapters train through this function, so they must carry gradients.
    lost = needs_grad and without_gradients(learner_fn, reference_fn, cases[0], name=run.learner_name)
    if isinstance(lost, str):
        return Result(WRONG, lost)
    warning = in_place_warning(learner_fn, run.changed) if run.changed and not updates_in_place else ""
    # Backward broke because it changed its own arguments in place: said beside that change.
    warning += lost.text(also=bool(warning)) if isinstance(lost, GradientWarning) else ""
    # A module left in another mode (.eval()) or frozen: checked in training mode too, where
    # .eval() shows (most cases hand over modules in eval mode).
    states = run.states + changed_in_training_mode(learner_fn, reference_fn, cases[0], seed)
    warning += side_effect_warning(states, also=bool(warning)) if states else ""
    passed = f"{run.learner_name} matches the reference on {every_input(len(cases), f'{run.inputs}s')}."
    return Result(PASSED, passed + warning, warning=warning)


@dataclass(frozen=True)
class _Run:
    """One check in progress: what ``check_function`` was given."""

    learner_fn: Callable
    reference_fn: Callable
    name: str
    mistakes: tuple[Mistake, ...]
    atol: float
    seed: int
    parts: Sequence[str] | None
    inputs: str = "input"
    lost_axes: bool = True  # a shape error nothing named: a reduction that lost its axis?
    changed: list[str] = field(default_factory=list)  # the arguments the learner's calls changed
    states: list[tuple] = field(default_factory=list)  # the modules' modes and flags they changed

    @property
    def learner_name(self) -> str:
        """What a verdict calls the learner's function: its name in their notebook (my_softmax)."""
        return own_name(self.learner_fn, self.name)

    def call(self, fn: Callable, case: tuple, after: list | None = None) -> object:
        """``fn`` on a fresh copy of ``case``; ``after`` receives that copy as the call left it."""
        torch.default_generator.manual_seed(self.seed)  # the CPU generator: forked and restored
        given = fresh(case)
        if fn is self.learner_fn:
            with defaults_kept(), time_limit(LIMIT_S):
                got = fn(*given)
        else:
            got = fn(*given)
        if after is not None:
            after.append(given)
        return got

    def check(self, case: tuple, number: int) -> Result | None:
        """None when the learner matches the reference on this case, else what went wrong."""
        try:
            return self._check(case, number)
        except TookTooLong:
            return Result(
                ERROR,
                f"{self.learner_name} was still running after {LIMIT_S:g} s on {self.inputs} #{number}, a "
                "small input the reference answers in milliseconds: a loop that never ends? Look for "
                "a while loop whose condition never changes (a sequence never appended to, a counter "
                "never increased).",
                timed_out=True,
            )

    def _raised(self, err: BaseException, case: tuple, number: int) -> Result:
        raised = f"{self.learner_name} raised {type(err).__name__} on {self.inputs} #{number}: {err}"
        # The learner's call re-run and recorded, at most once per verdict, only where asked.
        failing = cache(partial(rerun, self.learner_fn, case, self.seed))
        hint = (
            _known_error(err, self.mistakes, failing, case)
            or signature_error(err, self.learner_name)
            or (self.lost_axes and lost_axis_hint(err, failing, partial(self._kept, case)))
        )
        return Result(WRONG, f"{hint} ({raised})") if hint else Result(ERROR, raised)

    def _kept(self, case: tuple, keep: frozenset[int]) -> bool | Failure | None:
        """The learner's call with keepdim=True on the reductions numbered in ``keep``: True if it
        then gives the reference's answer, the Failure where it raised (None: out of time)."""
        outcome = run(self.learner_fn, case, self.seed, keep)
        if outcome is None or outcome.failure is not None:
            return None if outcome is None else outcome.failure
        return same(outcome.value, self.call(self.reference_fn, case), self.atol)

    def _check(self, case: tuple, number: int) -> Result | None:
        try:
            mine: list = []
            got = self.call(self.learner_fn, case, mine)
        except NotImplementedError as err:
            if torch_refused(err):  # the learner's code ran, and PyTorch could not do what it asked
                return self._raised(err, case, number)
            return Result(
                NOT_ATTEMPTED,
                f"{self.learner_name} is not attempted yet: replace "
                "`raise NotImplementedError` with your "
                "code in the exercise's cell, run that cell, then run this one again.",
            )
        except SystemExit:
            return Result(
                ERROR,
                f"{self.learner_name} called exit() (or sys.exit()) on {self.inputs} #{number}: a "
                "function hands back its answer with return.",
            )
        except LEARNER_ERRORS as err:
            return self._raised(err, case, number)
        theirs: list = []
        want = self.call(self.reference_fn, case, theirs)
        if same(got, want, self.atol):
            # Changed where the reference leaves it as it was: what a module does to its own
            # buffers (BatchNorm's running statistics) the reference does too, and is no slip.
            self.changed.extend(changed_arguments(self.learner_fn, mine[0], case, theirs[0]))
            self.states.extend(changed_states(self.learner_fn, mine[0], case, theirs[0]))
            return None
        hint = self.known_mistake(got, case)
        if hint is not None:
            return Result(WRONG, hint)
        difference = describe_difference(got, want, self.atol, self.parts)
        where = f"{self.inputs} #{number}"
        return Result(WRONG, f"{self.learner_name} differs from the reference on {where}: {difference}")

    def known_mistake(self, got: object, case: tuple) -> str | None:
        for mistake in self.mistakes:
            try:  # a mistake that cannot even run on this input does not apply
                atol = self.atol if mistake.atol is None else mistake.atol
                if mistake.compute is not None and same(got, self.call(mistake.compute, case), atol):
                    return mistake.hint
                if mistake.recognise is not None:
                    with time_limit(LIMIT_S):  # some call the learner's function again
                        if mistake.recognise(self.learner_fn, case, got):
                            return mistake.hint
            except (*LEARNER_ERRORS, TookTooLong):
                continue
        return None


def _known_error(
    err: Exception, mistakes: Sequence[Mistake], failing: Callable[[], Failure | None], case: tuple
) -> str | None:
    """The hint of the first mistake whose ``error`` the text matches and, where it has a
    ``failed_at``, whose predicate holds where the call failed: ``failing()`` re-runs the
    learner's call, only once an error with a predicate matched (``_raised`` makes it re-run at
    most once, whoever asks)."""
    text = f"{type(err).__name__}: {err}"
    for mistake in mistakes:
        if mistake.error is None or not re.search(mistake.error, text):
            continue
        if mistake.failed_at is None:
            return mistake.hint
        failure = failing()
        try:
            if failure is not None and mistake.failed_at(failure, case):
                return mistake.hint
        except LEARNER_ERRORS:  # a predicate that cannot read this failure does not name it
            continue
    return None


def check_then_batch(
    learner_fn: Callable,
    reference: Callable,
    single: Sequence[tuple],
    batched: Sequence[tuple],
    *,
    name: str,
    mistakes: Sequence[Mistake],
    batch_mistake: Mistake,
    passed: str,
    needs_grad: bool = False,
) -> Result:
    """``check_function`` on the unbatched cases, then on the batched ones.

    A failure only on a batch that matches no known mistake is named by ``batch_mistake``
    (the usual cause: an idiom that is right in 2-D only), followed by the details; a pass
    on everything says ``passed``.
    """
    result = check_function(
        learner_fn, reference, single, name=name, mistakes=mistakes, needs_grad=needs_grad
    )
    if not result.passed:
        return result
    # An axis lost on a batch only is the 2-D idiom batch_mistake names (e.sum(-1)[:, None]).
    batch = check_function(
        learner_fn, reference, batched, name=name, mistakes=mistakes, inputs="batched input", lost_axes=False
    )
    if batch.passed:
        warning = result.warning or batch.warning
        return Result(PASSED, passed + warning, warning=warning)
    if batch.status not in (WRONG, ERROR) or batch.timed_out:  # a timeout names no 2-D idiom
        return batch
    named = [m for m in mistakes if m.hint in batch.message]
    if any(m.error is not None for m in named):  # an error that names its cause (torch.mm's)
        return batch
    # Right on every single case, wrong on a batch: an idiom that holds in 2-D only, even where
    # its batch result equals a catalogued mistake's (softmax's dim=1 is dim=-2 on a batch),
    # whose hint would name what the learner did not write.
    return Result(WRONG, batch_mistake.hint + ("" if named else f" ({batch.message})"))


def every_input(count: int, inputs: str = "inputs") -> str:
    """ "all 3 inputs", "both inputs", "its one input": how a pass says how much it was run on."""
    if count == 1:
        return f"its one {inputs.removesuffix('s')}"
    return f"both {inputs}" if count == 2 else f"all {count} {inputs}"
