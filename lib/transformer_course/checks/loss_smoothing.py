"""Label smoothing of any amount ε in (0, 1), from ``label_smoothing=ε`` or written by hand, in
``loss``'s catalogue (``teacher_forcing_loss``); ``label_smoothing=0.1``, The Annotated
Transformer's, keeps its own mistake in ``loss``.

Round 45b tried six usual amounts; round 46 solves for ε. Over the real tokens, a smoothed loss
is a straight line in ε: L(ε) = CE + ε·(A − CE), from the plain cross-entropy CE (ε = 0) to A,
a mean of −log p over the vocabulary (ε = 1). Two forms of A (``_ends``):

- PyTorch's: targets 1 − ε on the right token plus ε/V on every token, A = mean(Σ_v −log p_v / V).
  Szegedy's by-hand 1 − ε′ and ε′/(V − 1) on the other tokens is the same line (ε = ε′·V/(V − 1)).
- By hand, 1 − ε on the right token and ε/V on each OTHER one (targets that sum to 1 − ε/V):
  A = mean((Σ_v −log p_v + log p_y) / V).

ε is solved from the learner's loss on the failing input, then confirmed on a second input (the
same one with the model's weights scaled), where it must predict the learner's loss again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .cases import fresh
from .harness import LEARNER_ERRORS, WRONG, Mistake, Result
from .time_limit import LIMIT_S, TookTooLong, time_limit

TORCH_FORM, OFF_TARGET_FORM = "label_smoothing", "ε/V off the target"
SEPARATION = 1e-3  # |A − CE| below this, ε is not well determined on that input
SCALE = 1.5  # the model's weights times this: the second input, with other CE and A


def _ends(model, src, trg, pad_id) -> tuple[float, dict[str, float], int]:
    """CE, the loss at ε = 0, each form's A, its loss at ε = 1 (in float64), and V."""
    with torch.no_grad():
        logits = model(src, trg[:, :-1])  # (B, T-1, V)
    log_p = F.log_softmax(logits.reshape(-1, logits.shape[-1]).double(), dim=-1)  # (N, V)
    labels = trg[:, 1:].reshape(-1)
    real = labels != pad_id
    log_p, labels = log_p[real], labels[real]  # (n, V), (n,): the padding left out
    nll = -log_p.gather(1, labels[:, None])[:, 0]  # (n,) −log p of the right token
    total = -log_p.sum(dim=1)  # (n,) Σ_v −log p_v
    vocab = log_p.shape[-1]
    ends = {TORCH_FORM: (total / vocab).mean(), OFF_TARGET_FORM: ((total - nll) / vocab).mean()}
    return float(nll.mean()), {form: float(a) for form, a in ends.items()}, vocab


def _one_number(got: object) -> float | None:
    if not isinstance(got, torch.Tensor) or got.numel() != 1 or not got.is_floating_point():
        return None
    return float(got.detach().reshape(()))


def _scaled(case: tuple) -> tuple:
    """A fresh copy of ``case`` whose model's weights are all ``SCALE`` times larger."""
    model, src, trg, pad_id = fresh(case)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(SCALE)
    return model, src, trg, pad_id


def smoothing_of(fn: Callable, case: tuple, got: object) -> tuple[str, float, int] | None:
    """(form, ε, V) when ``got``, ``fn``'s loss on ``case``, is a label-smoothed loss with ε in
    (0, 1), confirmed by ``fn`` on the second input; None otherwise."""
    loss = _one_number(got)
    if loss is None:
        return None
    plain, ends, vocab = _ends(*fresh(case))
    plain_2, ends_2, _ = _ends(*_scaled(case))
    with torch.random.fork_rng(devices=[]):
        loss_2 = _one_number(fn(*_scaled(case)))
    if loss_2 is None:
        return None
    tolerance = 1e-5 * max(1.0, abs(loss_2))  # float32's error on a sum of a few dozen terms
    for form, end in ends.items():
        if abs(end - plain) < SEPARATION:
            continue
        eps = (loss - plain) / (end - plain)
        shift = eps * (ends_2[form] - plain_2)  # what smoothing by ε does on the second input
        if 0 < eps < 1 and abs(shift) > 10 * tolerance and abs(plain_2 + shift - loss_2) <= tolerance:
            return form, eps, vocab
    return None


def _learner_smooths_by_hand(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    labels = trg[:, 1:].reshape(-1)
    log_probs = torch.log_softmax(logits.reshape(-1, logits.shape[-1]), dim=-1)
    smooth = torch.full_like(log_probs, 0.1 / log_probs.shape[-1])  # 0.1 spread over the others
    smooth.scatter_(1, labels.unsqueeze(1), 0.9)
    real = labels != pad_id
    return (-(smooth * log_probs).sum(-1) * real).sum() / real.sum()


SMOOTHED = Mistake(
    name="label smoothing, another amount or by hand",
    hint="Your loss smooths the labels (a label_smoothing other than 0, or targets of "
    "1 − ε and ε/V written by hand): a regulariser for long training runs, not the "
    "next-token cross-entropy this exercise asks for. Score the right token alone: "
    "F.cross_entropy(..., ignore_index=pad_id).",
    compute=None,
    recognise=lambda fn, case, got: smoothing_of(fn, case, got) is not None,
    example=_learner_smooths_by_hand,
)
ROUND_45B = (SMOOTHED,)  # round 45b's name; any amount since round 46


def _amount(form: str, eps: float, vocab: int) -> str:
    """The sentence that follows the hint: the ε the learner's loss corresponds to."""
    if form == OFF_TARGET_FORM:
        return (
            f" Yours has targets of 1 − ε on the right token and ε/V on each other one, with "
            f"ε = {eps:.3g} (they sum to 1 − ε/V, not 1)."
        )
    return (
        f" Yours is the loss that label_smoothing={eps:.3g} gives (or, written by hand, targets "
        f"of 1 − ε′ on the right token and ε′/(V − 1) on each other one, ε′ = "
        f"{eps * (vocab - 1) / vocab:.3g})."
    )


def with_the_amount(result: Result, fn: Callable, cases: Sequence[tuple]) -> Result:
    """``result`` with the ε named, where it is ``SMOOTHED``'s verdict: ``fn`` is run again on
    the cases until one shows the smoothing (the first that failed)."""
    if result.message != SMOOTHED.hint:
        return result
    for case in cases:
        try:
            with torch.random.fork_rng(devices=[]), time_limit(LIMIT_S):
                found = smoothing_of(fn, case, fn(*fresh(case)))
        except (*LEARNER_ERRORS, TookTooLong):  # it ran once on this input: it keeps state
            return result
        if found is not None:
            return Result(WRONG, SMOOTHED.hint + _amount(*found))
    return result
