"""More of ``loss``'s catalogue: the wrong answers met in the ninth audit (a shift by two, a
sum divided by the wrong count, <eos> left out, a squared error, a loss that is not one number)
the tenth (the model's arguments swapped) and the round-41 battery (flattened in different
orders, labels shifted the wrong way by padding, the source shifted, a log in base 10, a mean
over the vocabulary, another model than the argument), each with what it computes, its hint and a
learner-style example (in ``loss_learners``). The errors met in that battery: ``loss_errors``;
round 46's loss returned as text: ``loss_text``; label smoothing of any amount: ``loss_smoothing``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache, partial

import torch
import torch.nn.functional as F

from ..model import Transformer, TransformerConfig
from . import loss_learners as learner
from .describe import same
from .harness import Mistake, fresh
from .loss_reductions import per_position
from .loss_reference import loss_reference
from .loss_slips import ROUND_43B
from .loss_text import RETURNED_TEXT


def _last_real_left_out(model, src, trg, pad_id):
    """The mean over the real labels but each story's last one (its <eos>)."""
    labels = trg[:, 1:]
    real = labels != pad_id
    last = real.sum(dim=1) - 1  # each story's last real label
    keep = real & (torch.arange(labels.shape[1]) != last[:, None])
    return (per_position(model, src, trg, pad_id) * keep).sum() / keep.sum()


def _sum_over_a_wrong_count(fn, case, got) -> bool:
    """The sum over the real tokens divided by the length (T-1 or T) or by every id of trg."""
    if not isinstance(got, torch.Tensor) or got.numel() != 1 or not got.is_floating_point():
        return False
    model, src, trg, pad_id = fresh(case)
    with torch.no_grad():
        total = loss_reference(model, src, trg, pad_id, reduction="sum")
    counts = (trg.shape[1] - 1, trg.shape[1], trg.numel())
    return any(same(got.reshape(()), total / count, 1e-4) for count in counts)


def _mean_divided_again(fn, case, got) -> bool:
    """The mean over the real tokens divided once more, by their number or by the stories'."""
    if not isinstance(got, torch.Tensor) or got.numel() != 1 or not got.is_floating_point():
        return False
    model, src, trg, pad_id = fresh(case)
    with torch.no_grad():
        mean = loss_reference(model, src, trg, pad_id)
    counts = ((trg[:, 1:] != pad_id).sum(), trg.shape[0])
    return any(same(got.reshape(()), mean / count, 1e-5) for count in counts)


def _labels_rolled(model, src, trg, pad_id):
    """The whole target read, scored on torch.roll(trg, -1, 1): the last label wraps to <bos>."""
    logits = model(src, trg)
    labels = torch.roll(trg, shifts=-1, dims=1)
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=pad_id)


def _squared_error(model, src, trg, pad_id, *, softmax):
    logits = model(src, trg[:, :-1])
    scores = logits.softmax(dim=-1) if softmax else logits
    return F.mse_loss(scores, F.one_hot(trg[:, 1:], logits.shape[-1]).to(logits.dtype))


def _squared_error_of(fn, case, got) -> bool:
    with torch.no_grad():
        return any(same(got, _squared_error(*fresh(case), softmax=s), 1e-4) for s in (True, False))


def _not_one_number(fn, case, got) -> bool:
    """A tensor of several losses: some axes reduced, others not (one per position is named
    before this, by its own mistake)."""
    return isinstance(got, torch.Tensor) and got.is_floating_point() and got.numel() > 1


def _flattened_apart(model, src, trg, pad_id, *, logits_time_first):
    """Logits and labels flattened in different orders: one of them position by position."""
    logits, labels = model(src, trg[:, :-1]), trg[:, 1:]
    if logits_time_first:
        logits = logits.transpose(0, 1)
    else:
        labels = labels.T
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=pad_id)


def _labels_behind(model, src, trg, pad_id):
    """The whole target read, scored on the previous tokens: <pad> in front of trg[:, :-1]."""
    labels = torch.cat([torch.full_like(trg[:, :1], pad_id), trg[:, :-1]], dim=1)
    return F.cross_entropy(model(src, trg).flatten(0, 1), labels.flatten(), ignore_index=pad_id)


def _scaled_by(fn, case, got, *, factors) -> bool:
    """One number that is one of the right loss's usual means divided by a factor of the case."""
    if not isinstance(got, torch.Tensor) or got.numel() != 1 or not got.is_floating_point():
        return False
    model, src, trg, pad_id = fresh(case)
    with torch.no_grad():
        means = (
            loss_reference(model, src, trg, pad_id),
            loss_reference(model, src, trg, pad_id, mean_over_all=True),
            loss_reference(model, src, trg, pad_id, ignore=False),
        )
        vocab = model(src[:1], trg[:1, :1]).shape[-1]
    return any(same(got.reshape(()) * f(vocab), m, 1e-5) for f in factors for m in means)


def _another_model(fn, case, got) -> bool:
    """A loss computed from a model (it has a gradient) that stays the same when the model
    handed in changes: the function reads another one, such as the notebook's global ``model``."""
    if not isinstance(got, torch.Tensor) or got.grad_fn is None or not bool(got.isfinite().all()):
        return False  # NaN stays NaN whatever the model: it tells nothing
    model, src, trg, pad_id = fresh(case)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5).add_(0.1)
    return same(fn(model, src, trg, pad_id), got, 0.0)


def arguments_swapped(batch: int, source_length: int) -> Mistake:
    """model(trg[:, :-1], src): the model runs, and its logits come out as long as the source,
    ``source_length`` on the first case of ``batch`` stories, which no label count matches. Put
    before the mistake of labels of the wrong length, whose errors these are too."""
    return Mistake(
        name="model arguments swapped",
        hint="The model takes the source first: model(src, trg[:, :-1]). You gave it the target "
        "first, so it encoded the target and decoded the source: its logits are as long as the "
        "source, one per source token, and do not line up with the labels trg[:, 1:].",
        compute=None,
        # the flattened layout's count of logits, or cross_entropy's (B, V, T) layout's length
        error=rf"Expected input batch_size \({batch * source_length}\)"
        rf"|Expected target size \[{batch}, {source_length}\]",
        example=learner.swaps_the_arguments,
    )


MORE_MISTAKES = (
    Mistake(
        name="the last prediction dropped",
        hint="You scored one position too few: the decoder reads trg[:, :-1] and makes T-1 "
        "predictions, and each has its label in trg[:, 1:], the last one included (the one that "
        "must write <eos>). Slicing once more, logits[:, :-1] or labels[:, :-1], drops it: "
        "score all T-1 logits against all of trg[:, 1:].",
        compute=partial(loss_reference, reads=slice(None, -2), labels=slice(1, -1)),
        example=learner.slices_twice,
    ),
    Mistake(
        name="two tokens ahead",
        hint="Your labels are two tokens ahead of what the decoder reads: trg[:, :-2] scored on "
        "trg[:, 2:] asks each position for the token AFTER the next. Shift by one: feed "
        "trg[:, :-1] and score on trg[:, 1:].",
        compute=partial(loss_reference, reads=slice(None, -2), labels=slice(2, None)),
        example=learner.predicts_two_ahead,
    ),
    Mistake(
        name="sum over a wrong count",
        hint="You divided the summed token losses by a length (labels.shape[1], or every id of "
        "trg), not by the number of REAL tokens scored: the mean is the sum over "
        "(labels != pad_id).sum(), which F.cross_entropy(..., ignore_index=pad_id) divides by itself.",
        compute=None,
        recognise=_sum_over_a_wrong_count,
        example=learner.divides_by_the_length,
    ),
    Mistake(
        name="mean divided again",
        hint="Your loss is divided twice: F.cross_entropy already returns the MEAN over the real "
        "tokens (its default reduction), and you divided that by the number of tokens (or of "
        "sequences) again. (The Annotated Transformer divides a SUM, reduction='sum', by the token "
        "count.) Use the mean as it comes.",
        compute=None,
        recognise=_mean_divided_again,
        example=learner.divides_the_mean_again,
    ),
    Mistake(
        name="labels rolled",
        hint="torch.roll wraps round: rolling trg by -1 puts its FIRST token, <bos>, as the label "
        "of the last position, so the model is taught to write <bos> after the end of every "
        "sequence that fills the row. Slice instead: feed trg[:, :-1], score on trg[:, 1:].",
        compute=_labels_rolled,
        example=learner.rolls_the_labels,
    ),
    Mistake(
        name="<eos> left out",
        hint="Your loss leaves out each sequence's last label, its <eos>: then the model is never "
        "taught to stop, and generation runs on until max_new_tokens. <eos> is a label like any "
        "other; leave out only the padding, ignore_index=pad_id.",
        compute=_last_real_left_out,
        example=learner.leaves_out_the_eos,
    ),
    Mistake(
        name="squared error",
        hint="You computed a squared error (F.mse_loss) against one-hot labels: that is a "
        "regression loss, and its gradient all but vanishes when the model is confidently wrong. "
        "The next token is one choice among V: F.cross_entropy(logits (N, V), labels (N,), "
        "ignore_index=pad_id), which also leaves the padding out.",
        compute=None,
        recognise=_squared_error_of,
        example=learner.squared_error,
    ),
    Mistake(
        name="loss not one number",
        hint="Your loss is not one number but a tensor of several (its shape is not ()): you "
        "reduced some axes only, e.g. .mean(dim=0) over the sequences. Training calls "
        ".backward() on ONE number: the mean over every real token of the batch, "
        "F.cross_entropy(..., ignore_index=pad_id) with its default reduction.",
        compute=None,
        recognise=_not_one_number,
        example=learner.averages_the_stories_only,
    ),
    # --- met in the round-41 battery ---
    Mistake(
        name="flattened in different orders",
        hint="Your logits and labels were flattened in different orders: one of them was "
        "transposed (.T, transpose(0, 1)) before its reshape, so each row of logits is scored "
        "against the label of another position. Flatten both batch first as they come, "
        "logits.reshape(-1, V) and labels.reshape(-1): row i is then the same position in both.",
        compute=partial(_flattened_apart, logits_time_first=False),
        example=learner.flattens_the_labels_by_column,
    ),
    Mistake(
        name="logits flattened time first",
        hint="Your logits and labels were flattened in different orders: one of them was "
        "transposed (.T, transpose(0, 1)) before its reshape, so each row of logits is scored "
        "against the label of another position. Flatten both batch first as they come, "
        "logits.reshape(-1, V) and labels.reshape(-1): row i is then the same position in both.",
        compute=partial(_flattened_apart, logits_time_first=True),
        example=learner.flattens_the_logits_time_first,
    ),
    Mistake(
        name="labels padded in front",
        hint="Your labels are the PREVIOUS tokens: a <pad> put in front, torch.cat([pad, "
        "trg[:, :-1]]), shifts the labels the wrong way, so each position is scored on the token "
        "before the one it reads. Feed trg[:, :-1] and score on trg[:, 1:] (or, reading the "
        "whole trg, put the <pad> at the END: torch.cat([trg[:, 1:], pad])).",
        compute=_labels_behind,
        example=learner.pads_the_labels_in_front,
    ),
    Mistake(
        name="source shifted too",
        hint="You shifted the source too: only the TARGET is shifted (the decoder reads "
        "trg[:, :-1] and is scored on trg[:, 1:]); the encoder reads the whole source, so that "
        "the decoder can attend to all of it. model(src, trg[:, :-1]).",
        compute=lambda model, src, trg, pad_id: loss_reference(model, src[:, :-1], trg, pad_id),
        example=learner.shifts_the_source_too,
    ),
    Mistake(
        name="log in base 10",
        hint="Your log is in base 10 (torch.log10): the cross-entropy training minimises, and "
        "F.cross_entropy returns, uses the natural log, torch.log (or log_softmax), so yours is "
        "ln 10 ≈ 2.3 times too small. Use torch.log, or let F.cross_entropy take the log itself.",
        compute=None,
        recognise=partial(_scaled_by, factors=(lambda v: math.log(10),)),
        example=learner.in_base_ten,
    ),
    Mistake(
        name="loss in bits",
        hint="Your loss is in bits (torch.log2, or divided by ln 2): the cross-entropy training "
        "minimises, and F.cross_entropy returns, uses the natural log, so yours is 1/ln 2 ≈ 1.44 "
        "times too large. Use torch.log (or log_softmax), or leave F.cross_entropy's loss as it is.",
        compute=None,
        recognise=partial(_scaled_by, factors=(lambda v: math.log(2),)),
        example=learner.in_bits,
    ),
    Mistake(
        name="mean over the vocabulary too",
        hint="Your mean also counts the vocabulary axis: -(one_hot * logp).mean() divides by "
        "B·(T-1)·V, where only one of each position's V entries is a loss, so yours is V times "
        "too small. Sum over the vocabulary first, then average over the real tokens: "
        "-(one_hot * logp).sum(-1), masked, summed, over (labels != pad_id).sum().",
        compute=None,
        recognise=partial(_scaled_by, factors=(lambda v: v,)),
        example=learner.averages_over_the_vocabulary_too,
    ),
    *ROUND_43B,  # round 43b's battery: in loss_slips
    RETURNED_TEXT,  # round 46: the loss as text, f"{loss.item():.2f}" (loss_text)
)


def another_model(config: Callable[[], TransformerConfig]) -> Mistake:
    """The mistake of a loss that runs another model than its argument; ``config()`` makes the
    model that stands for the notebook's in its example. Last of the values: it runs the
    learner's function again, on a changed model."""

    @cache
    def notebook_model() -> Transformer:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(83)
            return Transformer(config()).eval()

    return Mistake(
        name="another model than the argument",
        hint="Your loss stays the same when the model handed in changes: it runs another model, "
        "such as the notebook's global `model`. Use the argument: model(src, trg[:, :-1]), so "
        "that the loss (and training) follows the model it is given.",
        compute=None,
        recognise=_another_model,
        example=lambda *case: learner.uses_the_notebooks_model(*case, notebook_model=notebook_model()),
    )


# Said by check_teacher_forcing_loss when a loss that passed left gradients in the model.
BACKWARD_INSIDE = (
    "Your loss function calls loss.backward() itself: the model's weights hold gradients after "
    "it ran. Training calls backward on the loss you return, after optimiser.zero_grad(); a "
    "second backward fails (the graph is freed after the first), and gradients left over add "
    "up. Return the loss and leave backward to the training step."
)
