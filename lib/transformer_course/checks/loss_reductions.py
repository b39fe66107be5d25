"""More mistakes of the shifted-target loss: how the per-position losses are masked, reduced
and returned (``loss`` holds the exercise, its reference and the rest of its catalogue).

Each is computed with the reference's own switches (``loss_reference``), or from the same
per-position cross-entropies, (B, T-1); the learner-style examples live in ``loss_learners``.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from . import loss_learners as learner
from .describe import same
from .harness import Mistake, fresh
from .loss_reference import loss_reference


def per_position(model, src, trg, pad_id) -> torch.Tensor:
    """Every position's cross-entropy, (B, T-1), padding included."""
    each = loss_reference(model, src, trg, pad_id, ignore=False, reduction="none")  # (B·(T-1),)
    return each.view(trg.shape[0], -1)


def masked_mean(model, src, trg, pad_id, *, real) -> torch.Tensor:
    """The losses where ``real(trg, pad_id)`` is True, summed, over how many there are."""
    keep = real(trg, pad_id)
    return (per_position(model, src, trg, pad_id) * keep).sum() / keep.sum()


def _one_loss_per_position(fn, case, got) -> bool:
    """The per-position losses themselves, (B, T-1) or flattened (reduction='none')."""
    if not isinstance(got, torch.Tensor) or got.dim() == 0:
        return False
    model, src, trg, pad_id = fresh(case)
    with torch.no_grad():
        each = loss_reference(model, src, trg, pad_id, reduction="none")  # 0 on the padding
    return same(got, each.view(trg.shape[0], -1), 1e-4) or same(got, each, 1e-4)


def _binary(model, src, trg, pad_id):
    logits = model(src, trg[:, :-1])
    return F.binary_cross_entropy_with_logits(logits, F.one_hot(trg[:, 1:], logits.shape[-1]).float())


REDUCTION_MISTAKES = (
    Mistake(
        name="padding mask from the inputs",
        hint="Your padding mask comes from the tokens the decoder READS, trg[:, :-1], not from the "
        "labels: it counts the position that reads <eos> and is scored on a <pad>. Mask the "
        "labels, (trg[:, 1:] != pad_id), or pass ignore_index=pad_id.",
        compute=lambda model, src, trg, pad_id: masked_mean(
            model, src, trg, pad_id, real=lambda t, p: t[:, :-1] != p
        ),
        example=learner.masks_the_inputs,
    ),
    Mistake(
        name="mask the wrong way round",
        hint="Your mask keeps only the PADDING positions (labels == pad_id): the real tokens are "
        "left out and the padding scored. Keep where labels != pad_id.",
        compute=lambda model, src, trg, pad_id: masked_mean(
            model, src, trg, pad_id, real=lambda t, p: t[:, 1:] == p
        ),
        example=learner.keeps_the_padding,
    ),
    Mistake(
        name="padding summed, real tokens counted",
        hint="Your sum includes the padding positions' losses, but you divide by the number of real "
        "tokens: leave the padding out of the sum too, F.cross_entropy(..., ignore_index=pad_id, "
        "reduction='sum') (or simply its default mean).",
        compute=lambda model, src, trg, pad_id: (
            per_position(model, src, trg, pad_id).sum() / (trg[:, 1:] != pad_id).sum()
        ),
        example=learner.sums_the_padding_too,
    ),
    Mistake(
        name="log-softmax over the batch",
        hint="Your log-softmax ran over dim=0, the sequences of the batch: each position's scores "
        "must become probabilities over the VOCABULARY, the last axis: logits.log_softmax(dim=-1) "
        "(or let F.cross_entropy do it).",
        compute=partial(loss_reference, over=0),
        example=learner.log_softmax_over_the_batch,
    ),
    Mistake(
        name="perplexity",
        hint="You returned exp(loss), the perplexity: a good number to report, but training "
        "minimises the cross-entropy itself. Return the mean cross-entropy, without the exp.",
        compute=lambda *case: loss_reference(*case).exp(),
        example=learner.returns_the_perplexity,
    ),
    Mistake(
        name="binary cross-entropy",
        hint="F.binary_cross_entropy_with_logits scores every token as its own yes/no question "
        "(a sigmoid each): the next token is ONE choice among V, a softmax: "
        "F.cross_entropy(logits (N, V), labels (N,), ignore_index=pad_id).",
        compute=_binary,
        example=learner.binary_cross_entropy,
    ),
    Mistake(
        name="one loss per position",
        hint="You returned one loss per position (reduction='none'): training needs ONE number to "
        "call .backward() on. Average over the real tokens, F.cross_entropy(..., "
        "ignore_index=pad_id) with its default mean.",
        compute=None,
        recognise=_one_loss_per_position,
        example=learner.loss_per_position,
    ),
)
