"""Exercise 08a: the shifted-target loss (teacher forcing).

``teacher_forcing_loss(model, src (B, S), trg (B, T), pad_id) → loss ()``: the decoder reads
``trg[:, :-1]`` and is scored on predicting ``trg[:, 1:]``, the next token at every position;
cross-entropy averaged over the positions that are not padding.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from ..model import Transformer, TransformerConfig
from . import asked_for
from . import loss_learners as learner
from .built_ins import note_built_ins
from .describe import same
from .harness import ERROR, LEARNER_ERRORS, WRONG, Exercise, Mistake, Result, check_function, fresh
from .loss_errors import errors
from .loss_learners import loss_by_hand
from .loss_more import BACKWARD_INSIDE, MORE_MISTAKES, another_model, arguments_swapped
from .loss_reductions import REDUCTION_MISTAKES
from .loss_reference import loss_reference
from .loss_round50b import ROUND_50B
from .loss_slips import DETACHED_LOGITS, reaches_no_weight
from .loss_smoothing import ROUND_45B, with_the_amount
from .stale import learner_check
from .train_step_more import with_gradients_on

# --- The learner's side: the starter, a worked solution (more answers: loss_learners) ---


def loss_starter(model, src: torch.Tensor, trg: torch.Tensor, pad_id: int) -> torch.Tensor:
    """src (B, S), trg (B, T) = <bos> … <eos> <pad>… → the mean next-token cross-entropy."""
    raise NotImplementedError


def loss_solution(model, src: torch.Tensor, trg: torch.Tensor, pad_id: int) -> torch.Tensor:
    """src (B, S), trg (B, T) = <bos> … <eos> <pad>… → the mean next-token cross-entropy."""
    logits = model(src, trg[:, :-1])  # (B, T-1, V): the decoder reads <bos> … up to the second-last
    labels = trg[:, 1:]  # (B, T-1): at each position, the token that comes next
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=pad_id)


LOSS_ALTERNATIVES = {
    "cross_entropy on (B, V, T)": lambda model, src, trg, pad_id: F.cross_entropy(
        model(src, trg[:, :-1]).transpose(1, 2), trg[:, 1:], ignore_index=pad_id
    ),
    "log_softmax, gather, mask": learner.loss_one_row_at_a_time,
    "by hand, every switch off": loss_by_hand,
    "nll_loss of log_softmax, float64": learner.nll_of_log_softmax_in_float64,
    "reduction='none', the mean over real tokens": learner.masked_mean_of_every_token,
}


# --- The checker's side: test cases, the catalogue of mistakes (the reference: loss_reference) ---


# The first case's sizes, which PyTorch's errors quote: B stories, sources of S tokens, V tokens
# (T - 1 = 6). Every size differs from the others, so an error's numbers tell which layout was fed.
CASE_B, CASE_S, CASE_V = 3, 4, 11


def _config() -> TransformerConfig:
    return TransformerConfig(
        vocab_size=CASE_V, d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=32,
        dropout=0.0, max_len=16,
    )  # fmt: skip


def _loss_cases() -> list[tuple]:
    # A small untrained Transformer (dropout 0) and targets with padding; T - 1 ≠ V so that
    # logits and labels of the wrong layout cannot be fed to cross_entropy by accident.
    config = _config()
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(81)
        model = Transformer(config).eval()
    src = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0], [10, 4, 5, 0]])
    trg = torch.tensor([[1, 7, 6, 5, 4, 2, 0], [1, 9, 8, 2, 0, 0, 0], [1, 5, 4, 10, 2, 0, 0]])
    src_b = torch.tensor([[6, 6, 7], [9, 4, 0]])
    trg_b = torch.tensor([[1, 7, 6, 6, 2], [1, 4, 9, 2, 0]])
    with torch.random.fork_rng(devices=[]):  # a vocabulary whose <pad> is 3, and 0 a real token
        torch.default_generator.manual_seed(82)
        other = Transformer(config.replace(pad_id=3)).eval()
    src_c = torch.tensor([[5, 0, 6, 3], [7, 8, 9, 10]])
    trg_c = torch.tensor([[1, 6, 0, 5, 2, 3], [1, 10, 9, 8, 7, 2]])
    return [(model, src, trg, 0), (model, src_b, trg_b, 0), (other, src_c, trg_c, 3)]


NOT_SHIFTED = (
    "Your labels are the very tokens the decoder reads: under the causal mask each position "
    "sees its own token and can copy it, so the loss falls to about 0 while the model never "
    "learns to write. Feed trg[:, :-1] and score on the NEXT tokens, trg[:, 1:]."
)


def _right_value_no_gradient(got: object, case: tuple) -> bool:
    """A loss tensor without a gradient whose value is right (a wrong value is named by it): no
    grad_fn, so backward cannot reach the model, even if requires_grad was set on a new leaf."""
    if not isinstance(got, torch.Tensor) or got.grad_fn is not None or not got.is_floating_point():
        return False
    with torch.no_grad():
        return same(got, loss_reference(*fresh(case)), 1e-4)


NO_GRADIENT = Mistake(
    name="no gradient",
    hint="Your loss has the right value but no gradient (its grad_fn is None): it was "
    "computed under torch.no_grad(), or detached (.detach(), torch.tensor(loss.item())). "
    "A new tensor made from its value has no link back to the model, even with "
    "requires_grad=True. Training calls loss.backward() on it: compute it straight from the "
    "model's logits.",
    compute=None,
    recognise=lambda fn, case, got: _right_value_no_gradient(got, case),
    example=partial(loss_by_hand, graph=False),
)


def _logits_sliced_late(model, src, trg, pad_id):
    """The whole target read, its logits from position 1 on scored on trg[:, 1:]: each position
    is scored on the token it reads."""
    logits = model(src, trg)[:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=pad_id)


LOSS_MISTAKES = (
    Mistake(
        name="returned a number",
        hint="You returned a plain number (loss.item()): return the loss TENSOR, so that training "
        "can call loss.backward() on it.",
        compute=None,
        recognise=lambda fn, case, got: isinstance(got, float),
        example=partial(loss_by_hand, item=True),
    ),
    Mistake(
        name="targets not shifted",
        hint=NOT_SHIFTED,
        compute=partial(loss_reference, labels=slice(None, -1)),
        example=partial(loss_by_hand, labels="same"),
    ),
    Mistake(
        name="whole target read and scored",
        hint=NOT_SHIFTED,
        compute=partial(loss_reference, reads=slice(None), labels=slice(None)),
        example=partial(loss_by_hand, reads="whole", labels="whole"),
    ),
    Mistake(
        name="decoder reads what it is scored on",
        hint=NOT_SHIFTED,
        compute=partial(loss_reference, reads=slice(1, None)),
        example=partial(loss_by_hand, reads="late"),
    ),
    Mistake(
        name="logits sliced one late",
        hint="Each position is scored on the very token it reads: model(src, trg)[:, 1:] is the "
        "output at positions 1 … T-1, which have read the labels trg[:, 1:] themselves, so the "
        "loss falls to about 0 while the model never learns to write. Keep the outputs that "
        "predict the NEXT token, model(src, trg)[:, :-1] (or feed trg[:, :-1]), scored on "
        "trg[:, 1:].",
        compute=_logits_sliced_late,
        example=learner.slices_the_logits_late,
    ),
    Mistake(
        name="shifted the wrong way",
        hint="You shifted the wrong way: the decoder reads trg[:, 1:] and is scored on "
        "trg[:, :-1], so it predicts the PREVIOUS token. Feed trg[:, :-1] (starting with <bos>) "
        "and score on trg[:, 1:].",
        compute=partial(loss_reference, reads=slice(1, None), labels=slice(None, -1)),
        example=partial(loss_by_hand, reads="late", labels="early"),
    ),
    Mistake(
        name="padding counted",
        hint="The padding positions count in your loss: the model is rewarded for predicting "
        "<pad> after <eos>. Leave them out with F.cross_entropy(..., ignore_index=pad_id).",
        compute=partial(loss_reference, ignore=False),
        example=partial(loss_by_hand, ignore=False),
    ),
    Mistake(
        name="mean over the padding too",
        hint="Your mean divides by every position, padding included: with reduction='none' the "
        "ignored positions are 0 but still counted by .mean(). Let F.cross_entropy(..., "
        "ignore_index=pad_id) take the mean itself, or divide the sum by the number of real "
        "tokens, (labels != pad_id).sum().",
        compute=partial(loss_reference, mean_over_all=True),
        example=learner.averages_over_every_position,
    ),
    Mistake(
        name="mean per story, then over the batch",
        hint="You averaged each sequence's tokens, then the sequences: a short sequence's tokens then "
        "weigh more than a long one's. Average over all the real tokens of the batch at once, "
        "F.cross_entropy(..., ignore_index=pad_id) with its default mean (or the masked sum "
        "divided by the number of real tokens).",
        compute=partial(loss_reference, story_means=True),
        example=learner.averages_each_story,
    ),
    Mistake(
        name="log-softmax over the positions",
        hint="Your log-softmax ran over dim=1, the positions of (B, T-1, V): each position's "
        "scores must become probabilities over the VOCABULARY, the last axis: "
        "logits.log_softmax(dim=-1) (or let F.cross_entropy do it).",
        compute=partial(loss_reference, over=1),
        example=learner.log_softmax_over_positions,
    ),
    Mistake(
        name="label smoothing",
        hint="Your loss uses label smoothing (label_smoothing=0.1, as The Annotated Transformer "
        "trains): a regulariser for long training runs, not the next-token cross-entropy this "
        "exercise asks for. Leave it out: F.cross_entropy(..., ignore_index=pad_id).",
        compute=partial(loss_reference, smoothing=0.1),
        example=learner.smooths_the_labels,
    ),
    Mistake(
        name="minus sign forgotten",
        hint="Your loss is negative: it is the mean log-probability of the right tokens, and "
        "training, which makes the loss smaller, would make them LESS likely. The cross-entropy "
        "is its negative, -(picked log-probabilities).mean(); F.cross_entropy takes care of it.",
        compute=lambda *case: -loss_reference(*case),
        example=learner.forgets_the_minus,
    ),
    Mistake(
        name="-100 written into trg",
        hint="labels = trg[:, 1:] is a VIEW of trg, not a copy: writing -100 into it (to be "
        "ignored) changed trg too, and the decoder then read -100 as a token id. Copy first, "
        "labels = trg[:, 1:].clone(), or simply pass ignore_index=pad_id.",
        compute=None,
        error=r"got values from -\d+",
        example=learner.writes_into_a_view,
    ),
    Mistake(
        name="view on a slice",
        hint=".view() cannot flatten a tensor that is not laid out row by row in memory, such as "
        "the slice trg[:, 1:] (each row skips its first token). Use .reshape(-1) (or .flatten()), "
        "which copies when it must.",
        compute=None,
        error=r"view size is not compatible",
        example=learner.views_the_logits,
    ),
    Mistake(
        name="softmax before cross_entropy",
        hint="You applied a softmax before F.cross_entropy: it takes the raw logits and applies "
        "log-softmax itself, so yours is squashed twice.",
        compute=partial(loss_reference, probs=True),
        example=partial(loss_by_hand, probs=True),
    ),
    Mistake(
        name="nll_loss on logits",
        hint="F.nll_loss expects LOG-probabilities: on raw logits it just picks minus the logit. "
        "Use F.cross_entropy on the logits (or nll_loss on logits.log_softmax(-1)).",
        compute=partial(loss_reference, log=False),
        example=partial(loss_by_hand, log=False),
    ),
    Mistake(
        name="nll_loss on probabilities",
        hint="F.nll_loss expects LOG-probabilities: you gave it probabilities, a softmax without "
        "its log. Use F.cross_entropy on the raw logits (or nll_loss on logits.log_softmax(-1)).",
        compute=partial(loss_reference, probs=True, log=False),
        example=partial(loss_by_hand, probs=True, log=False),
    ),
    Mistake(
        name="sum, not mean",
        hint="Your loss is the SUM over the positions: it grows with the batch and the sequence "
        "length. Take the mean (F.cross_entropy's default reduction).",
        compute=partial(loss_reference, reduction="sum"),
        example=partial(loss_by_hand, reduction="sum"),
    ),
    Mistake(
        name="sum per story, mean over the batch",
        hint="Your loss sums each sequence's token losses, then averages over the sequences: it is "
        "per SEQUENCE, so it grows with the length of the sequences. Average over the real tokens "
        "instead, F.cross_entropy(..., ignore_index=pad_id) with its default mean.",
        compute=partial(loss_reference, per_story=True),
        example=learner.sums_each_story,
    ),
    Mistake(
        name="pad id hard-coded as 0",
        hint="You ignored label 0 instead of the padding id: pass ignore_index=pad_id (the "
        "argument). With this vocabulary the padding id is 3, and 0 is a real token.",
        compute=lambda model, src, trg, pad_id: loss_reference(model, src, trg, 0),
        example=lambda model, src, trg, pad_id: loss_by_hand(model, src, trg, 0),
    ),
    Mistake(
        name="logits flattened the wrong way",
        hint="You reshaped the logits to (V, B·T): F.cross_entropy wants one row per position "
        "with its V scores, logits.reshape(-1, V), whose rows keep each position's own scores.",
        compute=None,
        error=rf"Expected input batch_size \({CASE_V}\)",
        example=lambda model, src, trg, pad_id: F.cross_entropy(
            model(src, trg[:, :-1]).reshape(CASE_V, -1), trg[:, 1:].reshape(-1), ignore_index=pad_id
        ),
    ),
    Mistake(
        name="labels not flattened",
        hint="You flattened the logits to (B·T, V) but not the labels: flatten them too, "
        "labels.reshape(-1), one label per row of logits.",
        compute=None,
        error=rf"Expected input batch_size \(\d+\) to match target batch_size \({CASE_B}\)",
        example=lambda model, src, trg, pad_id: F.cross_entropy(
            model(src, trg[:, :-1]).flatten(0, 1), trg[:, 1:], ignore_index=pad_id
        ),
    ),
    arguments_swapped(CASE_B, CASE_S),  # before the wrong length: its errors are those too
    Mistake(
        name="labels of the wrong length",
        hint="Your logits and labels do not have the same length: the decoder reads T-1 tokens "
        "(trg[:, :-1]), so it makes T-1 predictions, scored against the T-1 next tokens, "
        "trg[:, 1:].",
        compute=None,
        # flattened, or in cross_entropy's (B, V, T) layout: the lengths differ
        error=rf"Expected input batch_size|Expected target size \[\d+, (?!{CASE_V}\])\d+\]",
        example=partial(loss_by_hand, labels="whole"),
    ),
    Mistake(
        name="logits not flattened",
        hint="F.cross_entropy wants the classes in dimension 1: flatten the logits to (B·T, V) and "
        "the labels to (B·T,) (logits.reshape(-1, V), labels.reshape(-1)), or pass "
        "logits.transpose(1, 2).",
        compute=None,
        error=rf"Expected target size \[\d+, {CASE_V}\]",
        example=lambda model, src, trg, pad_id: F.cross_entropy(
            model(src, trg[:, :-1]), trg[:, 1:], ignore_index=pad_id
        ),
    ),
    *REDUCTION_MISTAKES,  # masks, reductions and returns: loss_reductions
    *MORE_MISTAKES,  # met in the ninth audit and after: loss_more
    *errors(CASE_B, CASE_S),  # errors met in the round-41 battery: loss_errors
    *ROUND_45B,  # label smoothing of any other amount, or by hand: loss_smoothing
    *ROUND_50B,  # met in round 50's review: loss_round50b
    another_model(_config),  # last of the values: it runs the learner's function again
    NO_GRADIENT,  # last: a loss with a wrong value is named by its value first
)


@learner_check
@with_gradients_on
def check_teacher_forcing_loss(learner_fn: Callable) -> Result:
    """Exercise 08a: ``fn(model, src (B, S), trg (B, T), pad_id) → loss ()``: next-token
    cross-entropy of ``model(src, trg[:, :-1])`` against ``trg[:, 1:]``, padding left out.
    A loss with the right value must also carry its gradient: training calls backward on it."""
    cases = _loss_cases()
    result = check_function(
        learner_fn, loss_reference, cases, name="teacher_forcing_loss", mistakes=LOSS_MISTAKES, atol=1e-4
    )
    result = with_the_amount(result, learner_fn, cases)  # a smoothed loss: which ε (loss_smoothing)
    if result.passed:
        case = fresh(cases[0])
        try:
            with torch.random.fork_rng(devices=[]):
                got = learner_fn(*case)
        except LEARNER_ERRORS as err:  # it passed once on this input: what changed is its own state
            return Result(
                ERROR,
                f"teacher_forcing_loss raised {type(err).__name__} when called again on input #1, "
                f"which it had passed: {err}. Does it keep something between calls?",
            )
        if NO_GRADIENT.recognise(learner_fn, cases[0], got):
            return Result(WRONG, NO_GRADIENT.hint)
        if reaches_no_weight(got, case[0]):  # a graph of its own, cut from the model (loss_slips)
            return Result(WRONG, DETACHED_LOGITS)
        if any(p.grad is not None for p in case[0].parameters()):
            return Result(WRONG, BACKWARD_INSIDE)
    return note_built_ins(result, learner_fn, cases, asked_for.TEACHER_FORCING_LOSS)


EXERCISES = (
    Exercise(
        name="teacher_forcing_loss",
        chapter="08",
        check=check_teacher_forcing_loss,
        solution=loss_solution,
        starter=loss_starter,
        alternatives=LOSS_ALTERNATIVES,
        mistakes=LOSS_MISTAKES,
    ),
)
